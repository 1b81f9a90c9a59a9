"""Alert fixtures: a real SMTP server on loopback (aiosmtpd), the Slack and Teams stand-ins, and a
flow whose step always fails, run by the engine."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from accounts.models import Role
from connectors.slack.standin import SlackStandIn
from connectors.teams.standin import TeamsStandIn
from designer import services
from designer.engine import run_execute
from designer.runs import delivery_accept


class Inbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self):
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mailer(port: int) -> dict:
    return {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                        "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5}}}


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.MAILERS = mailer(controller.port)
    settings.DEFAULT_FROM_EMAIL = "Flows <flows@example.org>"
    yield inbox
    controller.stop()


@pytest.fixture(scope="module")
def slack_server():
    with SlackStandIn() as server:
        yield server


@pytest.fixture
def slack(slack_server, settings):
    slack_server.reset()
    settings.SLACK_API_BASE = slack_server.api_base
    settings.OUTBOUND_ALLOWED_HOSTS = [slack_server.host_port]
    return slack_server


@pytest.fixture
def teams(settings):
    with TeamsStandIn() as server:
        settings.OUTBOUND_ALLOWED_HOSTS = [server.host_port]
        yield server


@pytest.fixture
def owner_membership(team):
    return team.memberships.get(role=Role.OWNER)


@pytest.fixture
def failing_flow(settings, owner_membership):
    """A flow caught from a webhook whose Send Email step is given no address: every run fails."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.PUBLIC_BASE_URL = "https://flows.example.org"
    flow = services.flow_create(membership=owner_membership, name="Survey follow-up")
    definition = {
        "event": {"id": "trigger", "card": "webhook.catch", "configuration": None, "options": {}},
        "steps": [{"id": "step_1", "card": "email.send",
                   "inputs": {"to": "{{trigger.event_id}}", "subject": "Hi", "text": "Hello"}}],
    }
    services.flow_save(membership=owner_membership, flow=flow, definition=definition, base_version=0)
    services.flow_publish(membership=owner_membership, flow=flow)
    return flow


@pytest.fixture
def fail(failing_flow):
    """fail(n) runs the failing flow n times with the engine; returns the runs' ids."""
    counter = iter(range(10_000))

    def run(n: int = 1) -> list[int]:
        ids = []
        for _ in range(n):
            item = delivery_accept(flow=failing_flow, version=failing_flow.versions.get(number=1),
                                   event_id=f"evt-{next(counter)}", source="webhook",
                                   payload={"body": "not an address"})
            assert run_execute(item.pk) == "failed"
            ids.append(item.pk)
        return ids

    return run
