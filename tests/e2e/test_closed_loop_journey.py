"""Browser journey for closing the loop: a flow New Response → If/Else (NPS ≤ 6) → Send Email +
Slack message + HTTP Request, with survey answers mapped into mixed text, is opened in the editor,
activated from its status page, and a response recorded in the sandbox reaches a real SMTP server,
the Slack stand-in and an HTTP receiver, each with the mapped values."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from accounts.configurations import configuration_create
from alerts.tests.conftest import Inbox, free_port
from connectors.httprequest.tests.receiver import Receiver
from connectors.slack.standin import SlackStandIn
from designer import services
from designer.models import Run
from tests.processes import Worker, worker_base_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(websocket_live_server):
    """The pages of this journey update over websockets, so daphne serves them."""
    return websocket_live_server


@pytest.fixture
def smtp(settings):
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def slack(settings):
    with SlackStandIn() as server:
        yield server


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def worker(live_server, qualtrics_sandbox, settings, smtp, slack, receiver):
    allowed = f"{slack.host_port},{receiver.host}:{receiver.port}"
    settings.PUBLIC_BASE_URL = live_server.url
    settings.OUTBOUND_ALLOWED_HOSTS = allowed.split(",")
    settings.SLACK_API_BASE = slack.api_base
    env = worker_base_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        QUALTRICS_API_BASE=qualtrics_sandbox.api_base_template,
        PUBLIC_BASE_URL=live_server.url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        OUTBOUND_ALLOWED_HOSTS=allowed,
        SLACK_API_BASE=slack.api_base,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp[1]),
        EMAIL_TIMEOUT="5",
        DEFAULT_FROM_EMAIL="flows@example.org",
    )
    env.pop("REDIS_URL", None)
    process = Worker(env).start()
    yield process
    process.stop()


@pytest.fixture
def flow(owner, qualtrics_sandbox, sandbox_configuration, worker, slack, receiver):
    hook = configuration_create(membership=owner, connector="slack", name="Support Slack", shared=True,
                                credentials={"webhook_url": slack.webhook_url, "bot_token": ""})
    who, nps, said = "{{trigger.recipient_email}}", "{{trigger.q.QID3}}", "{{trigger.q.QID2}}"
    definition = {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": sandbox_configuration.pk,
                  "options": {"survey_id": qualtrics_sandbox.survey_id}},
        "steps": [{
            "id": "step_1", "card": "core.if_else",
            "inputs": {"left": {"ref": "trigger.q.QID3"}, "operator": "less_than", "right": 7},
            "then": [
                {"id": "step_2", "card": "email.send",
                 "inputs": {"to": "support@example.com", "subject": f"Detractor {who}: {nps}/10",
                            "text": f"{who} scored {nps} and said: {said}"}},
                {"id": "step_3", "card": "slack.post_message", "configuration": hook.pk, "options": {},
                 "inputs": {"text": f"Detractor {who} scored *{nps}*: {said}"}},
                {"id": "step_4", "card": "http.request",
                 "options": {"method": "POST", "body_type": "json"},
                 "inputs": {"url": f"{receiver.url}/detractors",
                            "body": f'{{"email": "{who}", "nps": {nps}, "comment": "{said}"}}'}},
            ],
            "else": [],
        }],
    }
    item = services.flow_create(membership=owner, name="Close the loop")
    services.flow_save(membership=owner, flow=item, definition=definition, base_version=0)
    return item


def test_a_detractors_response_reaches_email_slack_and_an_http_receiver_with_the_mapped_values(
    signed_in, live_server, flow, qualtrics_sandbox, smtp, slack, receiver
):
    page = signed_in
    inbox, _ = smtp
    page.goto(f"{live_server.url}/flows/{flow.pk}/edit/")
    for name in ("New Response", "If/Else", "Send Email", "Post Message", "HTTP Request"):
        expect(page.locator("body")).to_contain_text(name)

    page.goto(f"{live_server.url}/flows/{flow.pk}/status/")
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#activation-status")).to_have_text("Active (webhook)")
    expect(page.locator("#alerts")).to_contain_text("Alerts")

    qualtrics_sandbox.record_response(values={"recipientEmail": "ada@example.com", "QID3": 3,
                                              "QID2_TEXT": "Too slow"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not Run.objects.filter(flow=flow, status__in=("succeeded", "failed")):
        time.sleep(0.2)
    run = Run.objects.get(flow=flow)
    assert run.status == "succeeded", run.error

    [message] = inbox.messages()
    assert message["Subject"] == "Detractor ada@example.com: 3/10"
    assert message.get_content().strip() == "ada@example.com scored 3 and said: Too slow"
    [posted] = slack.messages
    assert posted["text"] == "Detractor ada@example.com scored *3*: Too slow"
    [request] = [r for r in receiver.requests if r["path"] == "/detractors"]
    assert json.loads(request["body"]) == {"email": "ada@example.com", "nps": 3, "comment": "Too slow"}

    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Succeeded")
