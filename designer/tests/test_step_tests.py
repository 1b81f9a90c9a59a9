"""Sample data and step tests (issue #14) against the Qualtrics sandbox over HTTP: the event card's
sample is the survey's latest response, a step test runs one card on the pinned samples, a card
that changes something is tested only once confirmed, and test runs never reach failure alerts."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from alerts.models import FlowAlert
from alerts.services import alerts_due
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.engine import run_execute
from designer.models import Delivery, Run, RunStatus, StepSample

pytestmark = pytest.mark.scaleout


@pytest.fixture
def sandbox(qualtrics_sandbox):
    qualtrics_sandbox.set_export_polls(1)  # response exports (the latest response) are ready at once
    return qualtrics_sandbox


@pytest.fixture
def definition(sandbox_configuration, sandbox):
    cfg = sandbox_configuration.pk
    lists = {"directory_id": sandbox.directory_id, "mailing_list_id": sandbox.mailing_list_id}
    return {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": cfg,
                  "options": {"survey_id": sandbox.survey_id}},
        "steps": [
            {"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": cfg,
             "options": lists, "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"}},
            {"id": "step_2", "card": "qualtrics.read_contact_from_mailing_list", "configuration": cfg,
             "options": lists, "inputs": {"contact_id": {"ref": "step_1.contact_id"}}},
            {"id": "step_3", "card": "core.compose", "inputs": {"template": "Hello {{trigger.recipient_email}}"}},
        ],
    }


@pytest.fixture
def flow(team, definition):
    membership = team.memberships.get(role=Role.OWNER)
    item = services.flow_create(membership=membership, name="Newsletter")
    services.flow_save(membership=membership, flow=item, definition=definition, base_version=0)
    item.refresh_from_db()
    return item


def contacts(sandbox) -> list[dict]:
    client = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)
    return client.list_mailing_list_contacts(sandbox.directory_id, sandbox.mailing_list_id)


def load_sample(client, flow, **body):
    return client.post(reverse("api_flow_sample", args=[flow.pk]), body, content_type="application/json")


def test_step(client, flow, step_id, **body):
    return client.post(reverse("api_flow_step_test", args=[flow.pk, step_id]), body, content_type="application/json")


test_step.__test__ = False  # a helper, not a test


def test_the_event_sample_is_the_surveys_latest_response_run_through_the_event_card(owner_client, flow, sandbox):
    sandbox.record_response(values={"recipientEmail": "older@example.com"}, notify=False,
                            recorded_at=timezone.now() - timedelta(minutes=5))
    sandbox.record_response(values={"recipientEmail": "grace@example.com"}, notify=False)
    answer = load_sample(owner_client, flow)
    assert answer.status_code == 200, answer.content
    result = answer.json()
    assert result["status"] == "succeeded" and result["error"] == ""
    assert result["outputs"]["recipient_email"] == "grace@example.com"
    assert result["event_id"].startswith("R_") and result["inputs"] == {"response_id": result["event_id"]}
    pinned = owner_client.get(reverse("api_flow_sample", args=[flow.pk])).json()["samples"]
    assert pinned["trigger"]["outputs"]["recipient_email"] == "grace@example.com"
    assert pinned["trigger"]["event_id"] == result["event_id"]
    run = Run.objects.get(pk=result["run"])
    assert run.status == RunStatus.SUCCEEDED and run.delivery.source == "test"
    assert [s.step_id for s in run.steps.all()] == ["trigger"]
    assert run.trigger == run.steps.get().outputs  # the test run's row took the event's outputs


def test_a_picked_response_and_a_pasted_webhook_body_are_samples_too(owner_client, flow, sandbox, team):
    picked = sandbox.record_response(values={"recipientEmail": "picked@example.com"}, notify=False,
                                     recorded_at=timezone.now() - timedelta(minutes=5))
    sandbox.record_response(values={"recipientEmail": "newer@example.com"}, notify=False)
    result = load_sample(owner_client, flow, event_id=picked).json()
    assert result["outputs"]["recipient_email"] == "picked@example.com"

    membership = team.memberships.get(role=Role.OWNER)
    hook = services.flow_create(membership=membership, name="Hook")
    hooked = {"event": {"id": "trigger", "card": "webhook.catch", "configuration": None, "options": {}},
              "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "Hi {{trigger.body.name}}"}}]}
    services.flow_save(membership=membership, flow=hook, definition=hooked, base_version=0)
    result = load_sample(owner_client, hook, data={"body": {"name": "Ada"}}).json()
    assert result["status"] == "succeeded" and result["outputs"]["body"] == {"name": "Ada"}
    result = test_step(owner_client, hook, "step_1").json()
    assert result["status"] == "succeeded" and result["outputs"] == {"text": "Hi Ada"}


def test_a_read_card_is_tested_on_the_samples_without_confirmation_and_its_outputs_are_pinned(
        owner_client, flow, sandbox):
    sandbox.record_response(values={"recipientEmail": "ada@example.com"}, notify=False)
    load_sample(owner_client, flow)
    client = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)
    created = client.create_mailing_list_contact(sandbox.directory_id, sandbox.mailing_list_id,
                                                 email="known@example.com", firstName="Known")
    # The read card's contact comes from step_1's sample, pinned here as a test of step_1 would.
    StepSample.objects.create(flow=flow, step_id="step_1", card="qualtrics.create_contact_in_mailing_list",
                              outputs={"contact_id": created["id"]})
    answer = test_step(owner_client, flow, "step_2")
    assert answer.status_code == 200, answer.content
    result = answer.json()
    assert result["status"] == "succeeded", result["error"]
    assert result["inputs"]["contact_id"] == created["id"]
    assert result["outputs"]["email"] == "known@example.com" and result["duration_ms"] >= 0
    assert StepSample.objects.get(flow=flow, step_id="step_2").outputs["email"] == "known@example.com"
    assert [c["email"] for c in contacts(sandbox)] == ["known@example.com"]  # nothing created by the test


def test_a_create_card_is_refused_without_confirmation_and_creates_exactly_one_contact_with_it(
        owner_client, flow, sandbox):
    sandbox.record_response(values={"recipientEmail": "grace@example.com"}, notify=False)
    load_sample(owner_client, flow)
    before = len(contacts(sandbox))
    refused = test_step(owner_client, flow, "step_1")
    assert refused.status_code == 409
    assert refused.json()["changes"] == "creates a contact in the chosen mailing list in Qualtrics"
    assert "creates a contact in the chosen mailing list" in refused.json()["detail"]
    assert len(contacts(sandbox)) == before and not Run.objects.filter(delivery__event_id="step-test:step_1")

    answer = test_step(owner_client, flow, "step_1", confirm=True)
    assert answer.status_code == 200, answer.content
    result = answer.json()
    assert result["status"] == "succeeded", result["error"]
    assert result["inputs"]["email"] == "grace@example.com" and result["outputs"]["contact_id"].startswith("CID_")
    after = contacts(sandbox)
    assert len(after) == before + 1 and after[-1]["email"] == "grace@example.com"
    # The next step reads the contact the test created, from step_1's pinned outputs.
    read = test_step(owner_client, flow, "step_2").json()
    assert read["status"] == "succeeded" and read["outputs"]["email"] == "grace@example.com"


def test_an_unsaved_step_sent_with_the_definition_is_tested_and_its_errors_shown(owner_client, flow, definition,
                                                                                 sandbox):
    sandbox.record_response(values={"recipientEmail": "ada@example.com"}, notify=False)
    load_sample(owner_client, flow)
    draft = copy.deepcopy(definition)
    draft["steps"].append({"id": "step_4", "card": "core.compose", "inputs": {"template": "New {{step_1.contact_id}}"}})
    result = test_step(owner_client, flow, "step_4", definition=draft).json()
    assert result["status"] == "failed"
    assert "step_1.contact_id" in result["error"] and "test the step step_1 first" in result["error"]
    assert not StepSample.objects.filter(flow=flow, step_id="step_4").exists()
    run = Run.objects.get(pk=result["run"])
    assert run.status == RunStatus.FAILED and run.steps.get().status == RunStatus.FAILED

    draft["steps"][-1]["inputs"]["template"] = "Hello {{trigger.recipient_email}}"
    assert test_step(owner_client, flow, "step_4", definition=draft).json()["outputs"] == {"text": "Hello ada@example.com"}
    # The saved definition has no step_4; a broken card is refused as a save would be.
    assert test_step(owner_client, flow, "step_4").status_code == 404
    draft["steps"][0]["options"] = {}
    refused = test_step(owner_client, flow, "step_1", definition=draft, confirm=True)
    assert refused.status_code == 400 and {e["step"] for e in refused.json()["errors"]} == {"step_1"}


def test_test_runs_never_reach_failure_alerts_and_are_never_run_by_a_worker(owner_client, flow, team, sandbox,
                                                                            settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    FlowAlert.objects.create(flow=flow, enabled=True, emails=["ops@example.com"], cursor=0)
    result = test_step(owner_client, flow, "step_3").json()
    assert result["status"] == "failed" and "load a sample event" in result["error"]
    assert Run.objects.get(pk=result["run"]).status == RunStatus.FAILED
    assert list(alerts_due(timezone.now())) == []

    # A step test interrupted (its process stopped) is handed out again by the scheduler: it ends failed.
    delivery = Delivery.objects.create(flow=flow, event_id="step-test:step_1", source="test", payload={})
    stuck = Run.objects.create(flow=flow, team=team, version=None, delivery=delivery)
    before = len(contacts(sandbox))
    assert run_execute(stuck.pk) == RunStatus.FAILED
    stuck.refresh_from_db()
    assert "step tests are not run again" in stuck.error and len(contacts(sandbox)) == before
    assert list(alerts_due(timezone.now())) == []


def test_viewers_cannot_test_and_other_teams_cannot_see_the_flow(client, member, flow, other_team):
    client.force_login(member(Role.VIEWER))
    assert test_step(client, flow, "step_3").status_code == 403
    assert load_sample(client, flow).status_code == 403
    assert client.get(reverse("api_flow_sample", args=[flow.pk])).status_code == 200
    client.force_login(other_team.memberships.get(role=Role.OWNER).user)
    assert test_step(client, flow, "step_3").status_code == 404


def test_a_draft_never_published_is_tested_and_its_test_runs_are_not_re_run(owner_client, flow, sandbox):
    assert flow.versions.count() == 0 and flow.live_version_id is None  # a draft only
    result = test_step(owner_client, flow, "step_3").json()
    run = Run.objects.get(pk=result["run"])
    assert run.version_id is None
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "Step test of the draft" in page and "Re-run on" not in page
    refused = owner_client.post(reverse("api_run_rerun", args=[run.pk]))
    assert refused.status_code == 409 and "test the step again in the editor" in refused.json()["detail"]
    bulk = owner_client.post(reverse("api_runs_rerun"), {"ids": [run.pk]}, content_type="application/json")
    assert bulk.status_code == 202 and bulk.json()["runs"] == []
    assert Run.objects.count() == 1
