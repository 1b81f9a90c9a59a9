"""The built-in functions (Compose, If/Else, For Each, text and number helpers) as a connector
without a connection."""

from connectors.specs import Connector

connector = Connector(
    key="core",
    name="Functions",
    description="Logic, text, numbers and dates: cards that need no account.",
    card_modules=("connectors.functions",),
)
