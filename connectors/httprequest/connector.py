"""The HTTP Request connector: one action card that calls any public web address.

It takes no connection: a token goes in the card's Authorization input or its headers (see
README.md for why). Every address is checked by `connectors.outbound` before anything is sent.
"""

from __future__ import annotations

from connectors.specs import Connector

connector = Connector(
    key="http",
    name="HTTP Request",
    description="Call any public web address or API and use its answer in later cards.",
    card_modules=("connectors.httprequest.cards",),
)
