"""The Slack connector: a connection holding an incoming-webhook URL or a bot token, a client for
both, and the channel list for the Post Message card's picker.

Slack's answers: the Web API answers HTTP 200 with `{"ok": false, "error": "<code>"}` when it refuses
a call, and 429 with Retry-After when rate limiting; an incoming webhook answers `ok` as text, or a
plain-text error code with a 4xx status. Both become ConnectorErrors in words (retryable for 429).
Tests and local runs use `connectors/slack/standin.py` by pointing SLACK_API_BASE at it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from connectors.http import ConnectorError, parse_retry_after
from connectors.outbound import OutboundClient, check_url, is_allowed, trusted_from_url
from connectors.specs import Account, Connector, CredentialsError, Field, Source

WEBHOOK_HOST = "hooks.slack.com"
WEBHOOK_PATH_RE = re.compile(r"^/(services|workflows|triggers)/[A-Za-z0-9_\-/]+$")
TOKEN_RE = re.compile(r"^xox[bpae]-[A-Za-z0-9\-]+$")
MAX_CHANNEL_PAGES = 50

MESSAGES = {
    "invalid_auth": "Slack refused the bot token (invalid_auth): check it and authorize the connection again.",
    "not_authed": "Slack got no bot token (not_authed).",
    "token_revoked": "The bot token was revoked in Slack (token_revoked): make a new one.",
    "token_expired": "The bot token has expired (token_expired): make a new one.",
    "account_inactive": "The Slack app or user of this token is deactivated (account_inactive).",
    "missing_scope": "The bot token lacks a permission this needs (missing_scope): add chat:write and "
                     "channels:read (groups:read for private channels) to the app, then reinstall it.",
    "channel_not_found": "Slack cannot find that channel (channel_not_found): pick it again, and for a private "
                         "channel invite the app first.",
    "not_in_channel": "The app is not a member of that channel (not_in_channel): invite it with /invite in Slack.",
    "is_archived": "That channel is archived (is_archived).",
    "channel_is_archived": "The webhook's channel is archived (channel_is_archived).",
    "no_text": "Slack refused a message without text or blocks (no_text).",
    "invalid_blocks": "Slack refused the blocks (invalid_blocks): check them in Slack's Block Kit Builder.",
    "invalid_blocks_format": "Slack refused the blocks (invalid_blocks_format): give a JSON list of blocks.",
    "invalid_payload": "Slack could not read the message (invalid_payload).",
    "msg_too_long": "The message is too long for Slack (msg_too_long).",
    "no_service": "Slack does not know this webhook URL (no_service): it was removed or its app uninstalled.",
    "invalid_token": "Slack does not know this webhook URL (invalid_token): it was removed or its app uninstalled.",
    "action_prohibited": "A Slack admin does not allow this webhook to post there (action_prohibited).",
    "posting_to_general_channel_denied": "Only admins may post to that channel (posting_to_general_channel_denied).",
    "restricted_action": "A Slack admin setting forbids posting there (restricted_action).",
}


class SlackError(ConnectorError):
    default_message = "Slack refused the call."


def message_for(code: str) -> str:
    return MESSAGES.get(code) or f"Slack answered with the error {code[:100]}."


def webhook_problem(url: str) -> str | None:
    """Why this is not an incoming-webhook URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "That is not a URL."
    host = (parts.hostname or "").lower()
    if is_allowed(host, port):  # an operator's own host (the stand-in in tests)
        return None if WEBHOOK_PATH_RE.match(parts.path) else "The URL's path should start with /services/."
    if parts.scheme != "https" or host != WEBHOOK_HOST or parts.port not in (None, 443):
        return f"An incoming-webhook URL starts with https://{WEBHOOK_HOST}/services/."
    if not WEBHOOK_PATH_RE.match(parts.path) or parts.query or parts.fragment:
        return f"An incoming-webhook URL looks like https://{WEBHOOK_HOST}/services/T…/B…/…"
    return None


def webhook_label(url: str) -> str:
    """The webhook's workspace and app ids without its secret part: `T0…/B0…`."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return "/".join(parts[1:3]) if len(parts) >= 4 else "webhook"


class SlackClient(OutboundClient):
    """Posts to an incoming webhook, or calls the Web API with a bot token."""

    def __init__(self, *, webhook_url: str = "", token: str = "", api_base: str | None = None, **options: Any):
        self.api_base = api_base or settings.SLACK_API_BASE
        if not self.api_base.endswith("/"):
            self.api_base += "/"
        self.webhook_url = webhook_url
        self.token = token
        options.setdefault("timeout", (5, 20))
        options.setdefault("max_retries", 3)
        options.setdefault("max_retry_after", 10)
        # The API's base is the operator's setting; the webhook URL was typed, so it is checked.
        super().__init__(trusted=[trusted_from_url(self.api_base)], **options)

    @property
    def mode(self) -> str:
        return "bot" if self.token else "webhook"

    def describe_path(self, url: str) -> str:
        if self.webhook_url and url == self.webhook_url:
            return "incoming webhook"
        return urlsplit(url).path.rsplit("/", 1)[-1] or "/"

    def error_for_response(self, response: requests.Response, *, method: str, url: str) -> ConnectorError:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        code = ""
        try:
            data = response.json()
            code = str(data.get("error") or "") if isinstance(data, Mapping) else ""
        except ValueError:
            code = response.text.strip()[:100] if len(response.text) < 200 else ""
        if status == 429:
            wait = f" It asked to wait {retry_after:.0f} s." if retry_after is not None else ""
            return SlackError(f"Slack is rate limiting these calls (429).{wait}", status=status, retryable=True,
                              retry_after=retry_after if retry_after is not None else 1.0, code="ratelimited")
        if status >= 500:
            return SlackError(f"Slack did not answer properly ({status}). Try again shortly.", status=status,
                              retryable=True, retry_after=retry_after, code=code or None)
        if code:
            return SlackError(message_for(code), status=status, retryable=False, code=code)
        return SlackError(f"Slack answered {status} to the {self.describe_path(url)} call.", status=status,
                          retryable=False)

    def api(self, name: str, *, params: Mapping[str, Any] | None = None, payload: Mapping[str, Any] | None = None):
        url = urljoin(self.api_base, name)
        headers = {"Authorization": f"Bearer {self.token}"}
        if payload is None:
            response = self.send("GET", url, params=dict(params or {}), headers=headers)
        else:
            headers["Content-Type"] = "application/json; charset=utf-8"
            response = self.send("POST", url, json=dict(payload), headers=headers)
        try:
            data = response.json()
        except ValueError:
            raise SlackError(f"Slack's answer to {name} was not JSON.", status=response.status_code) from None
        if not isinstance(data, Mapping) or not data.get("ok"):
            code = str((data or {}).get("error") or "unknown_error") if isinstance(data, Mapping) else "unknown_error"
            raise SlackError(message_for(code), status=response.status_code, code=code,
                             retryable=code in ("ratelimited", "internal_error", "fatal_error"))
        return data

    def auth_test(self) -> Mapping[str, Any]:
        return self.api("auth.test")

    def channels(self) -> list[dict[str, Any]]:
        """Channels the bot can see, public and private, without archived ones."""
        found: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(MAX_CHANNEL_PAGES):
            params = {"types": "public_channel,private_channel", "exclude_archived": "true", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            data = self.api("conversations.list", params=params)
            found.extend(c for c in data.get("channels") or [] if isinstance(c, Mapping) and c.get("id"))
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return found

    def post_message(self, *, channel: str = "", text: str = "", blocks: list | None = None,
                     thread_ts: str = "") -> dict[str, str]:
        payload: dict[str, Any] = {}
        if text:
            payload["text"] = text
        if blocks:
            payload["blocks"] = blocks
        if self.mode == "webhook":
            check_url(self.webhook_url)
            response = self.send("POST", self.webhook_url, json=payload)
            body = response.text.strip()
            if body and body != "ok":
                raise SlackError(message_for(body[:100]), status=response.status_code, code=body[:100])
            return {"channel": "", "ts": ""}
        payload.update({"channel": channel, "mrkdwn": True})
        if thread_ts:
            payload["thread_ts"] = thread_ts
        data = self.api("chat.postMessage", payload=payload)
        return {"channel": str(data.get("channel") or channel), "ts": str(data.get("ts") or "")}


# Connection ---------------------------------------------------------------------------------------

CREDENTIALS = (
    Field(
        "webhook_url", "Incoming webhook URL", secret=True,
        help="https://hooks.slack.com/services/… from the app's Incoming Webhooks page; it posts to the channel "
             "chosen when it was made. Leave empty when you give a bot token.",
    ),
    Field(
        "bot_token", "Bot token", secret=True,
        help="xoxb-… from the app's OAuth & Permissions page, with chat:write and channels:read (groups:read for "
             "private channels); lets each card pick its channel. Leave empty when you give a webhook URL.",
    ),
)


def clean_credentials(values: dict[str, str]) -> dict[str, str]:
    url, token = values.get("webhook_url", "").strip(), values.get("bot_token", "").strip()
    if url and token:
        raise CredentialsError("bot_token", "Give either an incoming webhook URL or a bot token, not both.")
    if not url and not token:
        raise CredentialsError("webhook_url", "Give an incoming webhook URL or a bot token.")
    if url:
        problem = webhook_problem(url)
        if problem:
            raise CredentialsError("webhook_url", problem)
    if token and not TOKEN_RE.match(token):
        raise CredentialsError("bot_token", "A bot token starts with xoxb- and has only letters, digits and dashes.")
    return {**values, "webhook_url": url, "bot_token": token}


def build_client(credentials: Mapping[str, str], **options: Any) -> SlackClient:
    return SlackClient(webhook_url=credentials.get("webhook_url", ""), token=credentials.get("bot_token", ""),
                       **options)


def authorize(client: SlackClient) -> Account:
    """A bot token is proven with auth.test; a webhook URL is only checked for its shape (the only
    way to prove it is to post a message)."""
    if client.mode == "bot":
        me = client.auth_test()
        team, user = str(me.get("team") or me.get("team_id") or ""), str(me.get("user") or me.get("user_id") or "")
        return Account(
            id=f"{me.get('team_id', '')}/{me.get('user_id', '')}",
            name=f"{user} in {team}" if team else user,
            details={"mode": "bot token", "team": team, "url": str(me.get("url") or "")},
        )
    problem = webhook_problem(client.webhook_url)
    if problem:
        raise SlackError(problem)
    label = webhook_label(client.webhook_url)
    return Account(
        id=hashlib.sha256(client.webhook_url.encode()).hexdigest()[:16],
        name=f"Incoming webhook {label}",
        details={"mode": "incoming webhook"},
    )


def describe_error(exc: Exception, name: str) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{message} (connection “{name}”)"


def _load_channels(client: SlackClient) -> list[dict[str, str]]:
    if client.mode != "bot":
        raise ConnectorError(
            "An incoming webhook posts to the channel it was made for; channels are listed only for a bot token."
        )
    channels = [{"value": str(c["id"]), "label": ("🔒 " if c.get("is_private") else "#") + str(c.get("name") or c["id"])}
                for c in client.channels()]
    return sorted(channels, key=lambda c: (c["label"].lstrip("#🔒 ").casefold(), c["value"]))


def notify(client: SlackClient, subject: str, text: str) -> None:
    """A notice (a failure alert) as one message, the subject in bold, posted through an incoming
    webhook to its channel. A bot token names no channel of its own, so it is refused in words."""
    if client.mode != "webhook":
        raise SlackError("Notices go through an incoming webhook, which posts to its own channel; this connection "
                         "holds a bot token. Pick a Slack connection made with an incoming webhook URL.")
    client.post_message(text=f"*{subject}*\n{text}" if subject else text)


connector = Connector(
    key="slack",
    name="Slack",
    description="Post messages to Slack channels, through an incoming webhook or a bot.",
    credentials=CREDENTIALS,
    client=build_client,
    authorize=authorize,
    describe_error=describe_error,
    clean_credentials=clean_credentials,
    sources=(Source("channels", "channels", _load_channels),),
    card_modules=("connectors.slack.cards",),
    connection_label="connection",
    help="Give an incoming webhook URL (posts to one channel) or a bot token (posts to the channel each card picks).",
    notify=notify,
)
