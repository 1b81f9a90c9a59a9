"""The Post Message card: a Slack message (mrkdwn text, optional Block Kit blocks) through the
card's Slack connection, to the channel it picks (bot token) or the webhook's own channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.functions import as_text
from connectors.outbound.placeholders import fill, fill_json
from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext

CARD_KEY = "slack.post_message"
MAX_TEXT_CHARS = 40_000  # Slack cuts longer text
MAX_BLOCKS = 50  # Slack's limit for a message

CHANNEL = Field(
    "channel", "Channel", source="channels",
    help="With a bot token: the channel to post to (invite the app to private ones). An incoming webhook always "
         "posts to its own channel, so leave this empty.",
)
TEXT = Field(
    "text", "Text",
    help="The message, in Slack's mrkdwn (*bold*, _italic_, <https://example.com|links>); placeholders like "
         "{{trigger.name}} are filled in. With blocks, it is the notification text.",
)
BLOCKS = Field(
    "blocks", "Blocks",
    help='Optional Block Kit blocks as JSON, a list like [{"type": "section", "text": {"type": "mrkdwn", '
         '"text": "Hi {{trigger.name}}"}}].',
)
THREAD_TS = Field("thread_ts", "Reply in thread", help="Optional, bot token only: the ts of the message to reply to.")

OUT_CHANNEL = Field("channel", "Channel", help="The channel ID posted to (empty for a webhook).")
OUT_TS = Field("ts", "Message ts", help="The message's timestamp ID, to reply in its thread (empty for a webhook).")


def read_blocks(ctx: RunContext, value: Any) -> list | None:
    blocks = fill_json(ctx, value, what="Blocks")
    if blocks is None:
        return None
    if isinstance(blocks, Mapping) and isinstance(blocks.get("blocks"), list):
        blocks = blocks["blocks"]  # a whole Block Kit Builder payload
    if not isinstance(blocks, list) or not all(isinstance(b, Mapping) for b in blocks):
        raise CardInputError('Blocks: give a JSON list of blocks, like [{"type": "section", ...}].')
    if len(blocks) > MAX_BLOCKS:
        raise CardInputError(f"Blocks: Slack takes at most {MAX_BLOCKS} blocks in a message.")
    return blocks


def _run_post(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    client = ctx.client
    text = as_text(fill(ctx, inputs.get("text"))).strip()
    blocks = read_blocks(ctx, inputs.get("blocks"))
    if not text and not blocks:
        raise CardInputError("Text: give the message (or blocks) to post.")
    if len(text) > MAX_TEXT_CHARS:
        raise CardInputError(f"Text: Slack takes at most {MAX_TEXT_CHARS:,} characters.")
    channel = as_text(options.get("channel")).strip()
    thread_ts = as_text(fill(ctx, inputs.get("thread_ts"))).strip()
    if client.mode == "bot" and not channel:
        raise CardInputError("Channel: choose the channel to post to.")
    if client.mode == "webhook" and thread_ts:
        raise CardInputError("Reply in thread: an incoming webhook cannot reply in a thread; use a bot token.")
    return client.post_message(channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)


POST_MESSAGE = register(
    Card(
        renders_placeholders=True,  # fills them itself (inside JSON bodies too)
        key=CARD_KEY,
        name="Post Message",
        changes="posts the message to the Slack channel",
        description="Post a message to a Slack channel.",
        kind="action",
        connector="slack",
        group="Slack",
        options=(CHANNEL,),
        inputs=(TEXT, BLOCKS, THREAD_TS),
        outputs=(OUT_CHANNEL, OUT_TS),
        run=_run_post,
        needs_configuration=True,
        sample_outputs={"channel": "C0123ABCD", "ts": "1718000000.000100"},
    )
)
