"""Authoring journeys of issue #14 on an active flow, with a real worker and webhooks from the
sandbox: publishing a changed flow while responses keep arriving switches its runs to the new
version with none lost or doubled; placeholders typed into a Custom API Action's URL, an Update
Contact field and an email's subject are filled in when the flow runs; and a skipped NPS answer
takes the Else branch, which the run page shows."""

from __future__ import annotations

import json
import threading
import time

import pytest
from playwright.sync_api import expect

from alerts.tests.conftest import Inbox, free_port
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.activation import flow_activate
from designer.models import Run
from tests.e2e.editor import card, field, open_editor, save
from tests.e2e.test_editor import event, saved_flow
from tests.processes import Worker, worker_base_env

pytestmark = pytest.mark.e2e

ENDED = ("succeeded", "failed", "cancelled")


@pytest.fixture
def live_server(websocket_live_server):
    """The editor's and the run page's activity update over websockets, so the product's server serves them."""
    return websocket_live_server


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def worker(live_server, qualtrics_sandbox, settings, smtp):
    settings.PUBLIC_BASE_URL = live_server.url  # the sandbox's webhooks reach the live server
    env = worker_base_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        QUALTRICS_API_BASE=qualtrics_sandbox.api_base_template,
        PUBLIC_BASE_URL=live_server.url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp[1]),
        EMAIL_TIMEOUT="5",
        DEFAULT_FROM_EMAIL="flows@example.org",
    )
    env.pop("REDIS_URL", None)  # the live server enqueues on the database backend
    process = Worker(env).start()
    yield process
    process.stop()


def compose(step_id: str, template: str) -> dict:
    return {"id": step_id, "card": "core.compose", "inputs": {"template": template}}


def runs_of(flow, response_ids) -> dict[str, list[Run]]:
    found: dict[str, list[Run]] = {rid: [] for rid in response_ids}
    for run in Run.objects.filter(flow=flow, delivery__event_id__in=list(response_ids)).select_related("delivery", "version"):
        found[run.delivery.event_id].append(run)
    return found


def wait_for_runs(flow, response_ids, *, ended: bool = False, timeout: float = 30) -> dict[str, list[Run]]:
    """The runs of each response once every one has one (ended ones, with `ended`); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = runs_of(flow, response_ids)
        if all(runs and (not ended or all(r.status in ENDED for r in runs)) for runs in found.values()):
            return found
        if time.monotonic() > deadline:
            missing = [rid for rid, runs in found.items() if not runs]
            raise AssertionError(f"No run within {timeout} s for {missing}; runs: {found}")
        time.sleep(0.2)


class Respondents:
    """Respondents finishing the survey one after another, in a thread, until stopped; the sandbox
    delivers a webhook for each."""

    def __init__(self, sandbox, pause: float = 0.15):
        self.sandbox, self.pause = sandbox, pause
        self.recorded: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._record, name="respondents", daemon=True)

    def _record(self) -> None:
        while not self._stop.is_set():
            self.recorded.append(self.sandbox.record_response(values={"recipientEmail": "busy@example.com"}))
            self._stop.wait(self.pause)

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.recorded) < count:
            assert time.monotonic() < deadline, f"only {len(self.recorded)} responses recorded in {timeout} s"
            self._stop.wait(0.05)

    def __enter__(self) -> Respondents:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def test_publishing_an_active_flow_while_responses_arrive_switches_runs_to_the_new_version_none_lost_or_doubled(
    signed_in, live_server, worker, owner, qualtrics_sandbox, sandbox_configuration
):
    flow = saved_flow(owner, "Thank respondents", {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [compose("step_1", "v1 thanks {{trigger.response_id}}")],
    })
    flow_activate(flow=flow, user=owner.user, membership=owner)
    page = open_editor(signed_in, live_server, flow)
    label = page.locator("#flow-version")
    notice = page.locator("#editor-notice")
    expect(label).to_have_text("Live: version 1")

    with Respondents(qualtrics_sandbox) as respondents:
        # The template changes and is saved as a draft while responses keep coming in.
        template = field(card(page, "step_1"), "template").locator("textarea")
        template.fill("")
        template.press_sequentially("v2 thanks {{trigger.response_id}}")
        save(page)
        expect(label).to_have_text("Live: version 1 · Draft: unpublished changes")
        # A response stored after the save still runs the live version, not the draft.
        drafted = [qualtrics_sandbox.record_response(values={"recipientEmail": "draft@example.com"})]
        wait_for_runs(flow, drafted, timeout=15)

        page.get_by_role("button", name="Publish").click()
        expect(notice).to_contain_text("Published: version 2 is live")
        expect(label).to_have_text("Live: version 2")
        during = list(respondents.recorded)
        respondents.wait_for(len(during) + 3)  # respondents keep finishing after the switch

    after = [qualtrics_sandbox.record_response(values={"recipientEmail": "later@example.com"}) for _ in range(2)]
    everyone = list(dict.fromkeys(respondents.recorded + drafted + after))
    assert len(during) >= 3, f"too few responses arrived while the flow was edited: {during}"

    found = wait_for_runs(flow, everyone, ended=True)
    doubled = {rid: [r.pk for r in runs] for rid, runs in found.items() if len(runs) != 1}
    assert not doubled, f"responses with more than one run: {doubled}"
    runs = {rid: runs[0] for rid, runs in found.items()}
    for rid, run in runs.items():
        assert run.status == "succeeded", (rid, run.error)
        number = run.version.number
        assert number in (1, 2), (rid, number)
        [step] = run.steps.filter(step_id="step_1")
        assert step.outputs["text"] == f"v{number} thanks {rid}", (rid, number, step.outputs)
    assert [runs[rid].version.number for rid in drafted] == [1]
    assert [runs[rid].version.number for rid in after] == [2, 2]
    recorded_after_publish = respondents.recorded[len(during):]
    assert recorded_after_publish and {runs[rid].version.number for rid in recorded_after_publish} == {2}
    assert {runs[rid].version.number for rid in everyone} == {1, 2}

    # The editor opened afresh shows the live version with nothing left unpublished.
    page.reload()
    expect(page.locator("#editor.ready")).to_be_attached()
    expect(label).to_have_text("Live: version 2")
    expect(field(card(page, "step_1"), "template").locator("textarea")).to_have_value("v2 thanks {{trigger.response_id}}")


def test_placeholders_typed_into_an_api_url_a_contact_field_and_an_email_subject_are_filled_in_when_the_flow_runs(
    signed_in, live_server, worker, owner, qualtrics_sandbox, sandbox_configuration, smtp
):
    inbox, _ = smtp
    cfg, directory = sandbox_configuration.pk, qualtrics_sandbox.directory_id
    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    contact_id = client.create_contact(directory, email="ada@example.com", firstName="Ada")
    flow = services.flow_create(membership=owner, name="Tag the respondent's contact")
    services.flow_save(membership=owner, flow=flow, base_version=0, definition={
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [
            {"id": "step_1", "card": "qualtrics.custom_api_action", "configuration": cfg, "options": {"method": "GET"}},
            {"id": "step_2", "card": "qualtrics.update_contact", "configuration": cfg,
             "options": {"directory_id": directory}},
            {"id": "step_3", "card": "email.send", "inputs": {"to": "support@example.com", "text": "See Qualtrics."}},
        ],
    })
    page = open_editor(signed_in, live_server, flow)

    # Literal text and placeholders, typed as a person types them.
    api = card(page, "step_1")
    field(api, "relative_url").locator("input").press_sequentially(
        f"directories/{directory}/contacts/{{{{trigger.ed.customer_id}}}}")
    update = card(page, "step_2")
    field(update, "contact_id").locator("input").press_sequentially("{{trigger.ed.customer_id}}")
    field(update, "external_reference").locator("input").press_sequentially(
        "survey-{{trigger.recipient_email}}-{{trigger.response_id}}")
    field(card(page, "step_3"), "subject").locator("input").press_sequentially(
        "Contact {{trigger.ed.customer_id}} answered {{trigger.q.QID3}}/10")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#editor-notice")).to_contain_text("Published: version 1 is live")
    flow.refresh_from_db()
    steps = flow.live_version.definition["steps"]
    assert steps[1]["inputs"]["external_reference"] == "survey-{{trigger.recipient_email}}-{{trigger.response_id}}"
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#activation-badge")).to_have_text("Active (webhook)")

    qualtrics_sandbox.clear_requests()
    response_id = qualtrics_sandbox.record_response(
        values={"recipientEmail": "ada@example.com", "customer_id": contact_id, "QID3": 4})
    [run] = wait_for_runs(flow, [response_id], ended=True)[response_id]
    assert run.status == "succeeded", run.error

    reads = [r["api_path"] for r in qualtrics_sandbox.requests("directories", method="GET")]
    assert f"directories/{directory}/contacts/{contact_id}" in reads, reads
    [put] = qualtrics_sandbox.requests(f"directories/{directory}/contacts/{contact_id}", method="PUT")
    assert json.loads(put["body"])["extRef"] == f"survey-ada@example.com-{response_id}", put["body"]
    assert client.get_contact(directory, contact_id)["extRef"] == f"survey-ada@example.com-{response_id}"
    [message] = inbox.messages()
    assert message["Subject"] == f"Contact {contact_id} answered 4/10"


def test_a_skipped_nps_answer_goes_down_the_else_branch_and_the_run_page_says_so(
    signed_in, live_server, worker, owner, qualtrics_sandbox, sandbox_configuration
):
    flow = saved_flow(owner, "Follow up detractors", {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [{
            "id": "step_1", "card": "core.if_else",
            "inputs": {"left": {"ref": "trigger.q.QID3"}, "operator": "less_than", "right": "7"},
            "then": [compose("step_2", "Detractor {{trigger.recipient_email}}")],
            "else": [compose("step_3", "No follow-up for {{trigger.recipient_email}}")],
        }],
    })
    flow_activate(flow=flow, user=owner.user, membership=owner)

    # The respondent leaves the NPS question unanswered.
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "quiet@example.com", "QID2": "Fine"})
    [run] = wait_for_runs(flow, [response_id], ended=True)[response_id]
    assert run.status == "succeeded", run.error

    page = signed_in
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    expect(page.locator('[data-step="step_1"]')).to_have_attribute("data-step-status", "succeeded")
    expect(page.locator('[data-step="step_2"]')).to_have_attribute("data-step-status", "skipped")
    otherwise = page.locator('[data-step="step_3"]')
    expect(otherwise).to_have_attribute("data-step-status", "succeeded")
    expect(otherwise).to_contain_text("No follow-up for quiet@example.com")
    assert run.steps.get(step_id="step_1").outputs["result"] is False
