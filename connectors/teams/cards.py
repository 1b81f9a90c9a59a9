"""The Post Message card for Teams: text or an Adaptive Card, sent in the message envelope Teams
documents for webhooks:

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                         "contentUrl": null, "content": <the Adaptive Card>}]}

Text is sent as a small Adaptive Card (an optional bold title and the text), which both workflow
webhooks and the older incoming webhooks show.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectors.functions import as_text
from connectors.outbound.placeholders import fill, fill_json
from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext, choices

CARD_KEY = "teams.post_message"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
MAX_PAYLOAD_BYTES = 28 * 1024  # Teams refuses messages over about 28 KB
MAX_TEXT_CHARS = 20_000

FORMAT = Field(
    "format", "Format", required=True, default="text",
    choices=choices(("text", "Text"), ("adaptive_card", "Adaptive Card JSON")),
)
TITLE = Field("title", "Title", help="Optional, shown in bold above the text (Text format).", depends_on=("format",))
TEXT = Field(
    "text", "Text",
    help="The message; Teams reads simple Markdown (**bold**, _italic_, [link](https://…), - lists). "
         "Placeholders like {{trigger.name}} are filled in.",
    depends_on=("format",),
)
CARD = Field(
    "card", "Adaptive Card",
    help='The card as JSON, e.g. from the Adaptive Cards Designer: {"type": "AdaptiveCard", "version": "1.4", '
         '"body": [...]}; a whole {"type": "message", ...} envelope is sent as it is. Placeholders are filled in '
         "inside its strings.",
    depends_on=("format",),
)
STATUS_CODE = Field("status_code", "Status code", type="number", help="What the webhook answered (200 or 202).")


def text_card(title: str, text: str) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if title:
        body.append({"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True})
    body.append({"type": "TextBlock", "text": text, "wrap": True})
    return {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION, "body": body}


def envelope(card: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE, "contentUrl": None, "content": dict(card)}]}


def message_payload(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    fmt = as_text(options.get("format") or "text")
    if fmt == "text":
        text = as_text(fill(ctx, inputs.get("text"))).strip()
        title = " ".join(as_text(fill(ctx, inputs.get("title"))).split())
        if not text and not title:
            raise CardInputError("Text: give the message to post.")
        if len(text) > MAX_TEXT_CHARS:
            raise CardInputError(f"Text: at most {MAX_TEXT_CHARS:,} characters.")
        return envelope(text_card(title, text))
    if fmt != "adaptive_card":
        raise CardInputError("Format: choose Text or Adaptive Card JSON.")
    card = fill_json(ctx, inputs.get("card"), what="Adaptive Card")
    if card is None:
        raise CardInputError("Adaptive Card: give the card's JSON.")
    if not isinstance(card, Mapping):
        raise CardInputError('Adaptive Card: give a JSON object like {"type": "AdaptiveCard", ...}.')
    if card.get("type") == "message" and isinstance(card.get("attachments"), list):
        return dict(card)
    if card.get("type") != "AdaptiveCard":
        raise CardInputError('Adaptive Card: the object needs "type": "AdaptiveCard".')
    card = dict(card)
    card.setdefault("$schema", CARD_SCHEMA)
    card.setdefault("version", CARD_VERSION)
    return envelope(card)


def _run_post(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    payload = message_payload(ctx, options, inputs)
    if len(json.dumps(payload).encode()) > MAX_PAYLOAD_BYTES:
        raise CardInputError("The message is larger than the 28 KB Teams takes; shorten the text or the card.")
    return {"status_code": ctx.client.post(payload)}


POST_MESSAGE = register(
    Card(
        renders_placeholders=True,  # fills them itself (inside JSON bodies too)
        key=CARD_KEY,
        name="Post Message",
        changes="posts the message to the Teams channel",
        description="Post a message or an Adaptive Card to a Microsoft Teams channel through a workflow webhook.",
        kind="action",
        connector="teams",
        group="Microsoft Teams",
        options=(FORMAT,),
        inputs=(TITLE, TEXT, CARD),
        outputs=(STATUS_CODE,),
        run=_run_post,
        needs_configuration=True,
        sample_outputs={"status_code": 202},
    )
)
