"""Browser journey for closing the loop: a person builds New Response → If/Else (NPS < 7) → Send
Email + Slack message + HTTP Request in the editor with the mouse and keyboard (the NPS answer
dragged into the condition, survey answers typed as placeholders into mixed text, a bearer
connection added from the HTTP Request card), saves and activates it there, records a detractor's
response on the sandbox's page, and a real SMTP server, the Slack stand-in and an HTTP receiver get
the filled-in values (the receiver with the connection's Authorization header)."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from accounts.configurations import configuration_create
from accounts.models import Configuration
from alerts.tests.conftest import Inbox, free_port
from connectors.httprequest.tests.receiver import Receiver
from connectors.slack.standin import SlackStandIn
from designer.models import Flow, Run
from tests.e2e.editor import EDITOR_URL, card, choose, drag_with_mouse, field, output_chip, palette_card, save
from tests.processes import Worker, worker_base_env

pytestmark = pytest.mark.e2e

WHO, NPS, SAID = "{{trigger.recipient_email}}", "{{trigger.q.QID3}}", "{{trigger.q.QID2}}"
API_TOKEN = "support-api-token-7d1e4b9c"


@pytest.fixture
def live_server(websocket_live_server):
    """The pages of this journey update over websockets, so the product's server serves them."""
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
def support_slack(owner, slack):
    """The team's Slack connection (an incoming webhook to the stand-in), made beforehand."""
    hook = configuration_create(membership=owner, connector="slack", name="Support Slack", shared=True,
                                credentials={"webhook_url": slack.webhook_url, "bot_token": ""})
    assert hook.status == "authorized", hook.status_message
    return hook


def picker_label(configuration) -> str:
    """How the editor's connection picker names a connection: its name and whom it belongs to."""
    return f"{configuration.name} · {configuration.account_name}" if configuration.account_name else configuration.name


def test_a_flow_built_in_the_browser_sends_a_detractors_response_to_email_slack_and_an_http_receiver(
    signed_in, live_server, worker, qualtrics_sandbox, sandbox_configuration, support_slack, smtp, slack, receiver
):
    page = signed_in
    inbox, _ = smtp
    page.get_by_placeholder("New flow name").fill("Close the loop")
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(EDITOR_URL)
    expect(page.locator("#editor.ready")).to_be_attached()

    # New Response on the customer survey.
    palette_card(page, "New Response").click()
    trigger = card(page, "trigger")
    choose(trigger, "configuration", picker_label(sandbox_configuration))
    choose(trigger, "survey_id", "Customer Satisfaction")
    nps = output_chip(trigger, "How likely are you to recommend us to a friend or colleague?")
    expect(nps).to_be_visible()

    # If/Else: the NPS answer is less than 7.
    drag_with_mouse(page, palette_card(page, "If/Else"), page.locator(".step-list.top > li:last-child .drop-slot"))
    condition = card(page, "step_1")
    drag_with_mouse(page, nps, field(condition, "left"))
    expect(field(condition, "left").locator(".chip.mapped")).to_contain_text("How likely")
    choose(condition, "operator", "is less than")
    field(condition, "right").locator("input").fill("7")
    then = condition.locator(".branch-then")

    # Then: Send Email, with the answers typed into its text as placeholders.
    then.get_by_role("button", name="Add card here").click()
    expect(page.locator(".palette-target")).to_contain_text("Then of If/Else")
    palette_card(page, "Send Email").click()
    email = then.locator("#card-step_2")
    expect(email).to_be_visible()
    field(email, "to").locator("input").fill("support@example.com")
    field(email, "subject").locator("input").press_sequentially(f"Detractor {WHO}: {NPS}/10")
    field(email, "text").locator("input, textarea").first.press_sequentially(f"{WHO} scored {NPS} and said: {SAID}")

    # Then: a Slack message through the team's connection, dragged into the branch.
    slack_card = page.locator(".palette-card[data-key='slack.post_message']")  # Teams has a Post Message too
    drag_with_mouse(page, slack_card, then.locator(".drop-slot.last").last)
    post = then.locator("#card-step_3")
    expect(post).to_be_visible()
    choose(post, "configuration", picker_label(support_slack))
    field(post, "text").locator("input, textarea").first.press_sequentially(f"Detractor {WHO} scored *{NPS}*: {SAID}")

    # Then: HTTP Request with a bearer connection added from the card, which offers none at first.
    then.get_by_role("button", name="Add card here").click()
    palette_card(page, "HTTP Request").click()
    request = then.locator("#card-step_4")
    expect(request).to_be_visible()
    picker = field(request, "configuration")
    expect(picker).to_contain_text("Connection (optional)")
    expect(picker.locator("select")).to_have_value("")
    expect(picker.locator("select option:checked")).to_have_text("No connection")
    picker.get_by_role("button", name="Add Account").click()
    form = picker.locator("form.add-account")
    form.get_by_label("Name", exact=True).fill("Support API")
    form.get_by_label("Auth type").fill("bearer")
    form.get_by_label("Token", exact=True).fill(API_TOKEN)
    form.get_by_label("Share with my team").check()
    form.get_by_role("button", name="Add and authorize").click()
    expect(page.locator("#editor-notice")).to_contain_text("Account “Support API” added and selected")
    expect(picker.locator("select option:checked")).to_have_text("Support API · Bearer token")
    choose(request, "method", "POST")
    field(request, "url").locator("input").fill(f"{receiver.url}/detractors")
    field(request, "body").locator("input, textarea").first.press_sequentially(
        f'{{"email": "{WHO}", "nps": {NPS}, "comment": "{SAID}"}}')

    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved. Publish it to make it live.")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#editor-notice")).to_contain_text("Published: version 1 is live")
    flow = Flow.objects.get(name="Close the loop")
    [branch] = flow.definition["steps"]
    assert branch["inputs"] == {"left": {"ref": "trigger.q.QID3"}, "operator": "less_than", "right": "7"}
    email_step, slack_step, http_step = branch["then"]
    assert email_step["inputs"]["subject"] == f"Detractor {WHO}: {NPS}/10"
    assert slack_step["configuration"] == support_slack.pk
    api = Configuration.objects.get(name="Support API")
    assert http_step["configuration"] == api.pk and api.connector == "http"
    assert API_TOKEN not in json.dumps(flow.definition)

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#activation-badge")).to_have_text("Active (webhook)")

    # A detractor answers the survey on the sandbox's own page.
    page.goto(f"{qualtrics_sandbox.url}/")
    page.get_by_role("link", name="Customer Satisfaction").click()
    page.get_by_role("group", name=re.compile("How likely")).get_by_label("3", exact=True).check()
    page.get_by_label("What could we do better?").fill("Too slow")
    page.get_by_label("Email", exact=True).fill("ada@example.com")
    page.get_by_role("button", name="Record response and send webhook").click()
    expect(page.get_by_role("heading", name="Response recorded")).to_be_visible()

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
    [sent] = [r for r in receiver.requests if r["path"] == "/detractors"]
    assert json.loads(sent["body"]) == {"email": "ada@example.com", "nps": 3, "comment": "Too slow"}
    assert sent["headers"]["authorization"] == f"Bearer {API_TOKEN}"
    stored = json.dumps([[s.inputs, s.outputs, s.error] for s in run.steps.all()])
    assert API_TOKEN not in stored

    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    expect(page.locator("body")).not_to_contain_text(API_TOKEN)
    page.goto(f"{live_server.url}/flows/{flow.pk}/status/")
    expect(page.locator("#activation-status")).to_have_text("Active (webhook)")
    expect(page.locator("#alerts")).to_contain_text("Alerts")
