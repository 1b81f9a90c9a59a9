"""The Send Email card through a real SMTP server on loopback (aiosmtpd), reading what arrived."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from connectors import registry
from connectors.email.cards import CARD_KEY, MAX_RECIPIENTS
from connectors.http import ConnectorError
from connectors.specs import CardInputError, RunContext

OUTPUTS = {"trigger": {"name": "Ada", "email": "ada@example.com", "score": 9}}


def resolve(ref: str):
    step, _, key = ref.partition(".")
    return OUTPUTS[step][key]


class Inbox:
    """An aiosmtpd handler that keeps every message and refuses recipients at refused.example."""

    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 5},
    }}
    settings.DEFAULT_FROM_EMAIL = "Flows <flows@example.org>"
    yield inbox
    controller.stop()


def run(**inputs):
    return registry.get(CARD_KEY).run(RunContext(resolve=resolve), {}, inputs)


def test_a_text_and_html_email_arrives_with_its_placeholders_filled_in(smtp):
    out = run(
        to="{{trigger.email}}, Bob <bob@example.com>",
        cc=["carol@example.com"],
        bcc="dave@example.com",
        reply_to="support@example.org",
        subject="Thanks {{trigger.name}}\r\nBcc: evil@example.com",
        text="Hi {{trigger.name}}, you scored {{trigger.score}}.",
        html="<p>Hi <b>{{trigger.name}}</b></p>",
    )
    assert out["recipient_count"] == 4
    assert out["recipients"] == ["ada@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    [envelope] = smtp.envelopes
    assert sorted(envelope.rcpt_tos) == ["ada@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
    assert envelope.mail_from == "flows@example.org"
    [message] = smtp.messages()
    # The line break in the subject became a space: no header can be added through it.
    assert message["Subject"] == "Thanks Ada Bcc: evil@example.com"
    assert message["To"] == "ada@example.com, Bob <bob@example.com>" and message["Cc"] == "carol@example.com"
    assert message["Bcc"] is None and message["Reply-To"] == "support@example.org"
    assert message["Message-ID"] == out["message_id"]
    assert message.get_body(("plain",)).get_content().strip() == "Hi Ada, you scored 9."
    assert message.get_body(("html",)).get_content().strip() == "<p>Hi <b>Ada</b></p>"


def test_text_only_mail_and_a_quoted_name_with_a_comma(smtp):
    run(to='"Lovelace, Ada" <ada@example.com>; bob@example.com', subject="Hello", text="Plain")
    [message] = smtp.messages()
    assert message.get_content_type() == "text/plain"
    assert sorted(smtp.envelopes[0].rcpt_tos) == ["ada@example.com", "bob@example.com"]


def test_a_list_output_filled_into_to_is_read_as_addresses(smtp):
    OUTPUTS["step_2"] = {"people": ["x@example.com", "y@example.com"]}
    try:
        out = run(to="{{step_2.people}}", subject="S", text="T")
    finally:
        OUTPUTS.pop("step_2")
    assert out["recipients"] == ["x@example.com", "y@example.com"]


@pytest.mark.parametrize("inputs, message", [
    ({"to": "not an address"}, "To: 'not an address' is not an email address"),
    ({"to": "ada@example.com bob@example.com"}, "is not an email address"),
    ({"to": ""}, "To: give at least one address"),
    ({"cc": "ada@"}, "Cc: 'ada@' is not an email address"),
    ({"reply_to": "x"}, "Reply to"),
    ({"subject": "  "}, "Subject"),
    ({"text": ""}, "Text: give the message"),
    ({"to": ", ".join(f"p{i}@example.com" for i in range(MAX_RECIPIENTS + 1))}, "at most 50"),
])
def test_addresses_and_fields_it_cannot_use_are_refused_before_sending(smtp, inputs, message):
    values = {"to": "ada@example.com", "subject": "S", "text": "T", **inputs}
    with pytest.raises(CardInputError, match=message):
        run(**values)
    assert smtp.envelopes == []


def test_a_refused_recipient_fails_the_step_and_names_the_address(smtp):
    with pytest.raises(ConnectorError, match="nobody@refused.example") as caught:
        run(to="nobody@refused.example", subject="S", text="T")
    assert not caught.value.retryable
    assert smtp.envelopes == []


def test_no_mail_server_is_a_retryable_failure_with_nothing_sent(settings):
    settings.MAILERS = {"default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "timeout": 2},
    }}
    with pytest.raises(ConnectorError, match="Could not connect to the mail server") as caught:
        run(to="ada@example.com", subject="S", text="T")
    assert caught.value.retryable
