"""The Email connector: one action card sending mail through the operator's SMTP server.

No connection: the server is configured by the operator (EMAIL_HOST and friends, read into
`MAILERS["default"]` in config/settings.py). See README.md in this folder.
"""

from __future__ import annotations

from connectors.specs import Connector

connector = Connector(
    key="email",
    name="Email",
    description="Send email through this server's mail server.",
    card_modules=("connectors.email.cards",),
)
