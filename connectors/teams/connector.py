"""The Microsoft Teams connector: a connection holding a workflow (or legacy incoming) webhook URL,
and a client that posts the message envelope Teams documents to it.

Tests and local runs use `connectors/teams/standin.py`, allowed with OUTBOUND_ALLOWED_HOSTS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.http import ConnectorError, parse_retry_after
from connectors.outbound import OutboundClient, check_url, is_allowed
from connectors.specs import Account, Connector, CredentialsError, Field

# Where Teams webhooks live: Power Automate workflow triggers, and the retiring Office 365 connectors.
WEBHOOK_SUFFIXES = (".logic.azure.com", ".powerplatform.com", ".powerautomate.com", ".webhook.office.com")


class TeamsError(ConnectorError):
    default_message = "Teams refused the message."


def webhook_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "That is not a URL."
    host = (parts.hostname or "").lower()
    if is_allowed(host, port):
        return None if parts.scheme in ("http", "https") else "That is not an http(s) URL."
    if parts.scheme != "https" or not host.endswith(WEBHOOK_SUFFIXES):
        return ("A Teams webhook URL starts with https:// and is on a Power Automate host (…logic.azure.com, "
                "…powerplatform.com) or …webhook.office.com: copy it from the workflow's "
                "“When a Teams webhook request is received” trigger.")
    return None


class TeamsClient(OutboundClient):
    def __init__(self, *, webhook_url: str, **options: Any) -> None:
        self.webhook_url = webhook_url
        options.setdefault("timeout", (5, 30))
        options.setdefault("max_retries", 3)
        options.setdefault("max_retry_after", 10)
        super().__init__(**options)

    def describe_path(self, url: str) -> str:
        return "Teams webhook"

    def error_for_response(self, response: requests.Response, *, method: str, url: str) -> ConnectorError:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        detail = ""
        try:
            data = response.json()
            error = data.get("error") if isinstance(data, Mapping) else None
            detail = str(error.get("message") or "") if isinstance(error, Mapping) else str(error or "")
        except ValueError:
            detail = response.text.strip()
        detail = " ".join(detail.split())[:300]
        said = f": {detail}" if detail else "."
        if status == 429:
            return TeamsError(f"Teams is rate limiting this webhook (429){said}", status=status, retryable=True,
                              retry_after=retry_after if retry_after is not None else 1.0)
        if status >= 500:
            return TeamsError(f"Teams did not answer properly ({status}){said}", status=status, retryable=True,
                              retry_after=retry_after)
        if status in (401, 403):
            return TeamsError(f"Teams refused the webhook URL ({status}){said} The workflow may be turned off or "
                              "its URL changed: copy it again.", status=status)
        if status in (404, 410):
            return TeamsError(f"Teams does not know this webhook URL ({status}){said} The workflow may have been "
                              "deleted.", status=status)
        if status == 400:
            return TeamsError(f"Teams refused the message (400){said}", status=status)
        return TeamsError(f"Teams answered {status}{said}", status=status)

    def post(self, payload: Mapping[str, Any]) -> int:
        check_url(self.webhook_url)
        response = self.send("POST", self.webhook_url, json=dict(payload))
        status = response.status_code
        response.close()
        return status


CREDENTIALS = (
    Field(
        "webhook_url", "Webhook URL", required=True, secret=True,
        help="From a Teams workflow “Post to a channel when a webhook request is received” (or the channel's "
             "Workflows → webhook template): the HTTP POST URL of its trigger.",
    ),
)


def clean_credentials(values: dict[str, str]) -> dict[str, str]:
    url = values.get("webhook_url", "").strip()
    problem = webhook_problem(url)
    if problem:
        raise CredentialsError("webhook_url", problem)
    return {**values, "webhook_url": url}


def build_client(credentials: Mapping[str, str], **options: Any) -> TeamsClient:
    return TeamsClient(webhook_url=credentials.get("webhook_url", ""), **options)


def authorize(client: TeamsClient) -> Account:
    """The URL is checked for its shape and its address; proving it would mean posting a message."""
    problem = webhook_problem(client.webhook_url)
    if problem:
        raise TeamsError(problem)
    check_url(client.webhook_url)
    host = (urlsplit(client.webhook_url).hostname or "").lower()
    return Account(
        id=hashlib.sha256(client.webhook_url.encode()).hexdigest()[:16],
        name=f"Teams webhook at {host}",
        details={"host": host},
    )


def describe_error(exc: Exception, name: str) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{message} (connection “{name}”)"


def notify(client: TeamsClient, subject: str, text: str) -> None:
    """A notice (a failure alert) as a small Adaptive Card: the subject in bold above the text."""
    from connectors.teams.cards import envelope, text_card

    client.post(envelope(text_card(subject, text)))


connector = Connector(
    key="teams",
    name="Microsoft Teams",
    description="Post messages and Adaptive Cards to a Teams channel through a workflow webhook.",
    credentials=CREDENTIALS,
    client=build_client,
    authorize=authorize,
    describe_error=describe_error,
    clean_credentials=clean_credentials,
    card_modules=("connectors.teams.cards",),
    connection_label="connection",
    help="In Teams, add the workflow “Post to a channel when a webhook request is received” and paste its URL.",
    notify=notify,
)
