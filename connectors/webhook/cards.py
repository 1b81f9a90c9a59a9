"""The Catch Webhook event card: starts a flow when a request arrives at the flow's own URL.

The trigger (connectors/webhook/connector.py) checks and reads each delivery and stores what it
found as the event's data; run() hands that data on as the card's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext

CARD_KEY = "webhook.catch"

EVENT_ID_PATH = Field(
    "event_id_path",
    "Event ID path",
    help=(
        "Optional. A dotted path into the JSON or form body, such as id or data.order.id. "
        "A second request with the same value there starts no second run."
    ),
)
SIGNATURE_HEADER = Field(
    "signature_header",
    "Signature header",
    help=(
        "Optional, e.g. X-Signature. Each request must then carry the hex HMAC-SHA256 of its raw "
        "body, keyed with the signing key, optionally prefixed sha256=."
    ),
)
SIGNING_KEY = Field(
    "signing_key",
    "Signing key",
    help="The key the caller signs each body with; needed when a signature header is set.",
)

BODY = Field(
    "body",
    "Body",
    type="object",
    help="A JSON body as sent (object, list or value), a form as an object, anything else as text.",
)
HEADERS = Field(
    "headers",
    "Headers",
    type="object",
    help="Request headers, names in lower case; cookies, credentials and the signature are left out.",
)
QUERY = Field("query", "Query", type="object", help="Query string parameters (the first value of each).")
EVENT_ID = Field(
    "event_id",
    "Event ID",
    help="The value at the event ID path, or a random ID when no path is set.",
)
RECEIVED_AT = Field("received_at", "Received at", type="date", help="When the request arrived, in UTC.")
CONTENT_TYPE = Field("content_type", "Content type", help="The request's media type, like application/json.")


def _mapping(inputs: Mapping[str, Any], key: str, label: str) -> dict[str, Any]:
    value = inputs.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CardInputError(f"{label}: expected an object, not {type(value).__name__}.")
    return dict(value)


def _text(inputs: Mapping[str, Any], key: str, label: str) -> str:
    value = inputs.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CardInputError(f"{label}: expected text, not {type(value).__name__}.")
    return str(value)


def run_catch(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The delivery stored by the trigger, as the card's outputs."""
    body = inputs.get("body")
    return {
        "body": {} if body is None else body,
        "headers": _mapping(inputs, "headers", "Headers"),
        "query": _mapping(inputs, "query", "Query"),
        "event_id": _text(inputs, "event_id", "Event ID"),
        "received_at": _text(inputs, "received_at", "Received at"),
        "content_type": _text(inputs, "content_type", "Content type"),
    }


CATCH: Card = register(
    Card(
        key=CARD_KEY,
        name="Catch Webhook",
        description="Starts the flow when a request arrives at the flow's own URL.",
        kind="event",
        connector="webhook",
        group="Webhook",
        options=(EVENT_ID_PATH, SIGNATURE_HEADER, SIGNING_KEY),
        inputs=(
            BODY.but(help="The body the trigger read."),
            HEADERS.but(help="The headers the trigger kept."),
            QUERY.but(help="The query string parameters."),
            EVENT_ID.but(help="The event's ID."),
            RECEIVED_AT.but(help="When the request arrived."),
            CONTENT_TYPE.but(help="The request's media type."),
        ),
        outputs=(BODY, HEADERS, QUERY, EVENT_ID, RECEIVED_AT, CONTENT_TYPE),
        run=run_catch,
        needs_configuration=False,
        sample_outputs={
            "body": {"id": "ord_1001", "data": {"order": {"id": "ord_1001", "total": 42.5}}},
            "headers": {"content-type": "application/json", "user-agent": "Shop/2.0"},
            "query": {"source": "shop"},
            "event_id": "ord_1001",
            "received_at": "2026-12-05T09:00:00Z",
            "content_type": "application/json",
        },
    )
)
