"""The Send Email card: a text (and optionally HTML) email through the server's SMTP mailer.

The SMTP server is the operator's (EMAIL_* environment variables, `MAILERS["default"]`), not a team
connection. Addresses are checked before anything is sent; see README.md in this folder.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Mapping
from email.utils import formataddr, getaddresses
from typing import Any

from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, make_msgid
from django.core.validators import validate_email

from connectors.functions import as_text
from connectors.http import ConnectorError
from connectors.outbound.placeholders import fill
from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext

CARD_KEY = "email.send"
MAX_RECIPIENTS = 50
MAX_SUBJECT_CHARS = 998  # the longest line RFC 5322 allows
MAX_BODY_CHARS = 1024 * 1024
MAX_ADDRESS_TEXT = 20_000

ADDRESSES_HELP = "One or more addresses separated by commas, like ada@example.com, Bob <bob@example.com>; or a list."
TO = Field("to", "To", required=True, help=ADDRESSES_HELP)
CC = Field("cc", "Cc", help=ADDRESSES_HELP)
BCC = Field("bcc", "Bcc", help="Receive the email without being shown to the others. " + ADDRESSES_HELP)
REPLY_TO = Field("reply_to", "Reply to", help="Where replies go, if not to the sender. " + ADDRESSES_HELP)
SUBJECT = Field("subject", "Subject", required=True)
TEXT = Field("text", "Text", required=True, help="The message as plain text; placeholders like {{step_1.name}} are filled in.")
HTML = Field("html", "HTML", help="Optional. The same message as HTML, shown by mail programs that can; the text is the fallback.")

MESSAGE_ID = Field("message_id", "Message ID", help="The Message-ID header of the email sent.")
RECIPIENTS = Field("recipients", "Recipients", type="list", help="Every address it was sent to (to, cc and bcc).")
RECIPIENT_COUNT = Field("recipient_count", "Recipient count", type="number")


def _items(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [as_text(item) for item in value if as_text(item).strip()]
    text = as_text(value).strip()
    if text.startswith("["):  # a list output filled into the text as JSON
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return _items(parsed)
    return [text] if text else []


def split_outside_quotes(text: str) -> list[str]:
    """Parts of text separated by commas or semicolons, except inside "quoted names"."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char in ",;" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_addresses(ctx: RunContext, value: Any, *, what: str) -> list[str]:
    """The addresses in an input, as Name <address> or address; refuses anything not an address."""
    items = _items(fill(ctx, value) if isinstance(value, str) else [fill(ctx, v) for v in _items(value)])
    text = ", ".join(as_text(item) for item in items)
    if len(text) > MAX_ADDRESS_TEXT:
        raise CardInputError(f"{what}: the addresses are longer than {MAX_ADDRESS_TEXT:,} characters.")
    if any(c in text for c in "\r\n\x00"):
        raise CardInputError(f"{what}: addresses cannot contain line breaks.")
    found: list[str] = []
    for part in (p.strip() for p in split_outside_quotes(text)):
        if not part:
            continue
        parsed = getaddresses([part])
        if len(parsed) != 1 or not parsed[0][1]:
            raise CardInputError(f"{what}: '{part[:80]}' is not an email address.")
        name, address = parsed[0]
        try:
            validate_email(address)
        except ValidationError:
            raise CardInputError(f"{what}: '{part[:80]}' is not an email address.") from None
        found.append(formataddr((name, address)) if name else address)
    return found


def _bare(address: str) -> str:
    return getaddresses([address])[0][1].lower()


def _run_send(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    to = parse_addresses(ctx, inputs.get("to"), what="To")
    cc = parse_addresses(ctx, inputs.get("cc"), what="Cc")
    bcc = parse_addresses(ctx, inputs.get("bcc"), what="Bcc")
    reply_to = parse_addresses(ctx, inputs.get("reply_to"), what="Reply to")
    if not to:
        raise CardInputError("To: give at least one address.")
    recipients = list(dict.fromkeys(_bare(a) for a in [*to, *cc, *bcc]))
    if len(recipients) > MAX_RECIPIENTS:
        raise CardInputError(
            f"To, Cc and Bcc name {len(recipients)} addresses; at most {MAX_RECIPIENTS} can be sent one email."
        )
    subject = " ".join(as_text(fill(ctx, inputs.get("subject"))).split())
    if not subject:
        raise CardInputError("Subject: give the email a subject.")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise CardInputError(f"Subject: at most {MAX_SUBJECT_CHARS} characters.")
    text = as_text(fill(ctx, inputs.get("text")))
    html = as_text(fill(ctx, inputs.get("html")))
    if not text.strip() and not html.strip():
        raise CardInputError("Text: give the message to send.")
    if len(text) > MAX_BODY_CHARS or len(html) > MAX_BODY_CHARS:
        raise CardInputError("Text and HTML: at most 1 MB each.")

    message_id = make_msgid(domain="flows.local")
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to, cc=cc, bcc=bcc,
        reply_to=reply_to, headers={"Message-ID": message_id},
    )
    if html.strip():
        message.attach_alternative(html, "text/html")
    send(message)
    return {"message_id": message_id, "recipients": recipients, "recipient_count": len(recipients)}


def send(message: EmailMultiAlternatives) -> None:
    """Sends through the default mailer; a failure before the message went out may be retried."""
    connection = mail.mailers.default
    try:
        connection.open()
    except smtplib.SMTPAuthenticationError:
        raise ConnectorError(
            "The mail server refused the username and password (EMAIL_HOST_USER, EMAIL_HOST_PASSWORD).",
            retryable=False,
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ConnectorError(f"Could not connect to the mail server: {type(exc).__name__}. Nothing was sent.",
                             retryable=True) from None
    try:
        connection.send_messages([message])
    except smtplib.SMTPRecipientsRefused as exc:
        refused = ", ".join(sorted(exc.recipients))[:500]
        raise ConnectorError(f"The mail server refused these recipients: {refused}. Nothing was sent.",
                             retryable=False) from None
    except smtplib.SMTPSenderRefused:
        raise ConnectorError(
            f"The mail server refused the sender {settings.DEFAULT_FROM_EMAIL} (DEFAULT_FROM_EMAIL).", retryable=False
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ConnectorError(
            f"The mail server failed while the email was being sent ({type(exc).__name__}); it may have been sent, "
            "so it was not sent again.",
            retryable=False,
        ) from None
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide what happened
            pass


SEND = register(
    Card(
        renders_placeholders=True,  # fills them itself (inside JSON bodies too)
        key=CARD_KEY,
        name="Send Email",
        changes="sends the email to its recipients",
        description="Send an email, as plain text and optionally HTML, to up to 50 people.",
        kind="action",
        connector="email",
        group="Email",
        inputs=(TO, CC, BCC, REPLY_TO, SUBJECT, TEXT, HTML),
        outputs=(MESSAGE_ID, RECIPIENTS, RECIPIENT_COUNT),
        run=_run_send,
        sample_outputs={
            "message_id": "<175000000000.1.1234@flows.local>",
            "recipients": ["ada@example.com"],
            "recipient_count": 1,
        },
    )
)
