"""Runs that need a person (a change that may have been applied), runs that wait as long as a
service asks without holding a worker, and the HTTP attempts each step keeps, against the
sandbox over HTTP."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import Configuration, Role
from connectors.qualtrics.client import QualtricsClient
from designer import engine
from designer.engine import run_execute
from designer.models import Run, RunStatus, StepResolution
from designer.runs import runs_requeue_stalled, runs_resume_waiting
from designer.tests.test_engine import deliver, list_contacts, make_flow  # noqa: F401 (a fixture)

pytestmark = pytest.mark.scaleout

DUMMY_TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
QSF = json.dumps({
    "SurveyEntry": {"SurveyID": "SV_qsf0000000001", "SurveyName": "Weekly check-in", "SurveyLanguage": "EN"},
    "SurveyElements": [],
}).encode()


def sandbox_client(sandbox) -> QualtricsClient:
    return QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)


def survey_posts(sandbox) -> list[dict]:
    return [r for r in sandbox.requests("surveys", method="POST") if r["api_path"].strip("/") == "surveys"]


@pytest.fixture
def import_flow(team, make_flow):
    """Import Survey, a create without a natural key to look it up by, then a step that uses its output."""
    from designer.files import file_upload

    value = file_upload(team=team, upload=SimpleUploadedFile("pulse.qsf", QSF, content_type="application/json"))
    steps = [
        {"id": "step_1", "card": "qualtrics.import_survey", "configuration": Configuration.objects.get().pk,
         "inputs": {"survey_name": "Imported pulse", "file": value}},
        {"id": "step_2", "card": "core.compose", "inputs": {"template": "made {{step_1.survey_id}}"}},
    ]
    return make_flow(steps=steps)


def needs_attention(flow, sandbox) -> Run:
    """A run whose import Qualtrics applied, then answered 500."""
    run = deliver(flow, sandbox)
    before = len(sandbox_client(sandbox).list_surveys())
    sandbox.clear_requests()
    sandbox.inject_fault("surveys", 500, count=1, method="POST", apply=True)
    assert run_execute(run.pk) == RunStatus.ATTENTION
    assert len(survey_posts(sandbox)) == 1
    assert len(sandbox_client(sandbox).list_surveys()) == before + 1  # applied once, by Qualtrics
    return Run.objects.get(pk=run.pk)


def test_a_create_without_a_natural_key_answered_500_needs_attention_and_resumes_without_resending(
    settings, owner_client, team, import_flow, qualtrics_sandbox
):
    settings.TASKS = DUMMY_TASKS
    run = needs_attention(import_flow, qualtrics_sandbox)
    surveys = len(sandbox_client(qualtrics_sandbox).list_surveys())
    assert run.status == RunStatus.ATTENTION and run.finished_at is None and run.lease_until is None
    assert run.error.startswith("“Import Survey” (step_1) needs attention:") and "may have applied" in run.error
    step = run.steps.get(step_id="step_1")
    assert step.status == RunStatus.ATTENTION and "may have applied" in step.error
    assert not run.steps.filter(step_id="step_2").exists()
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "Needs attention" in page and "Resume without resending" in page and "Resend" in page

    # Neither the stalled-run pass nor a stray task takes it up: it waits for a person.
    assert runs_requeue_stalled(older_than=timedelta(0)) == 0
    assert run_execute(run.pk) is None

    answer = owner_client.post(reverse("api_run_resume", args=[run.pk]), {"resend": False}, content_type="application/json")
    assert answer.status_code == 202 and answer.json()["status"] == RunStatus.QUEUED
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.error == ""
    step = run.steps.get(step_id="step_1")
    owner = team.memberships.get(role=Role.OWNER).user
    assert (step.status, step.outputs, step.resolution, step.resolved_by) == (
        RunStatus.SUCCEEDED, {}, StepResolution.SKIPPED, owner)
    assert step.resolved_at is not None
    assert run.steps.get(step_id="step_2").outputs == {"text": "made "}
    assert [s.step_id for s in run.steps.all()] == ["trigger", "step_1", "step_2"]
    assert len(survey_posts(qualtrics_sandbox)) == 1  # not sent again
    assert len(sandbox_client(qualtrics_sandbox).list_surveys()) == surveys
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "Skipped by owner: may have been applied" in page

    # Once resumed, it no longer needs attention.
    again = owner_client.post(reverse("api_run_resume", args=[run.pk]), {"resend": True}, content_type="application/json")
    assert again.status_code == 409


def test_resend_sends_the_step_exactly_once_more_from_the_run_page(
    settings, owner_client, import_flow, qualtrics_sandbox
):
    settings.TASKS = DUMMY_TASKS
    run = needs_attention(import_flow, qualtrics_sandbox)
    surveys = len(sandbox_client(qualtrics_sandbox).list_surveys())
    answer = owner_client.post(reverse("run_resume", args=[run.pk]), {"resend": "true"})
    assert answer.status_code == 302 and answer.url == reverse("run_detail", args=[run.pk])
    assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert len(survey_posts(qualtrics_sandbox)) == 2  # exactly one more
    assert len(sandbox_client(qualtrics_sandbox).list_surveys()) == surveys + 1
    step = Run.objects.get(pk=run.pk).steps.get(step_id="step_1")
    assert step.status == RunStatus.SUCCEEDED and step.resolution == StepResolution.RESENT
    assert step.outputs["survey_id"].startswith("SV_")
    assert [(a["method"], a["status"]) for a in step.attempt_log] == [("POST", 500), ("POST", 200)]
    assert step.attempts == 2
    assert run_execute(run.pk) is None  # ended: nothing sends it a third time
    assert "Sent again by owner" in owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()


def test_a_step_found_sending_a_change_on_resume_needs_attention(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = DUMMY_TASKS
    run = deliver(make_flow(), qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    # As if the worker died while the create was in flight.
    run.steps.filter(step_id="step_1").update(status=RunStatus.RUNNING)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))
    qualtrics_sandbox.clear_requests()
    assert run_execute(run.pk) == RunStatus.ATTENTION
    run.refresh_from_db()
    assert "It was sending a change to Qualtrics when this run was interrupted" in run.error
    assert run.steps.get(step_id="step_1").status == RunStatus.ATTENTION
    assert qualtrics_sandbox.requests("directories", method="POST") == []


def test_only_editors_of_the_team_may_resume(settings, client, member, other_team, import_flow, qualtrics_sandbox):
    settings.TASKS = DUMMY_TASKS
    run = needs_attention(import_flow, qualtrics_sandbox)
    url = reverse("api_run_resume", args=[run.pk])
    client.force_login(member(Role.VIEWER))
    assert client.post(url, {"resend": True}, content_type="application/json").status_code == 403
    assert client.post(reverse("run_resume", args=[run.pk]), {"resend": "true"}).status_code == 403
    client.force_login(other_team.memberships.get(role=Role.OWNER).user)
    assert client.post(url, {"resend": True}, content_type="application/json").status_code == 404
    assert Run.objects.get(pk=run.pk).status == RunStatus.ATTENTION
    client.force_login(member(Role.EDITOR, "eddie"))
    assert client.post(url, {"resend": "yes"}, content_type="application/json").status_code == 400


# Waiting as long as asked ----------------------------------------------------------------------


def test_a_long_retry_after_parks_the_run_frees_the_worker_and_resumes_it_then(settings, make_flow, qualtrics_sandbox):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    flow = make_flow()
    run = deliver(flow, qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 429, count=1, retry_after=30, method="POST")
    started = timezone.now()
    assert run_execute(run.pk) == RunStatus.WAITING
    run.refresh_from_db()
    assert timedelta(seconds=29) < run.resume_at - started < timedelta(seconds=35)
    assert run.lease_until is None and run.finished_at is None and run.error == ""
    assert run.wait_message == "Qualtrics asked to wait 30 s"
    step = run.steps.get(step_id="step_1")
    assert step.status == RunStatus.WAITING and [a["status"] for a in step.attempt_log] == [429]
    # The queue has the run for then.
    deferred = DBTaskResult.objects.filter(  # tasks to run at once have the largest date as run_after
        task_path__endswith="execute_run", run_after__gt=started, run_after__lt=started + timedelta(days=1))
    assert [(t.args_kwargs["args"], abs((t.run_after - run.resume_at).total_seconds()) < 1) for t in deferred] == [
        ([run.pk], True)]

    # Before then nothing takes it up, and nothing is sent.
    assert runs_resume_waiting() == 0 and runs_requeue_stalled(older_than=timedelta(0)) == 0
    assert run_execute(run.pk) is None
    # The worker is free meanwhile: another run goes through.
    other = deliver(flow, qualtrics_sandbox, {"recipientEmail": "other@example.com"})
    assert run_execute(other.pk) == RunStatus.SUCCEEDED
    posts = len(qualtrics_sandbox.requests("directories", method="POST"))
    assert posts == 2  # the refused one, and the other run's

    # Then (a scheduler's clock past resume_at), it is enqueued once, however many schedulers tick.
    later = run.resume_at + timedelta(seconds=1)
    assert runs_resume_waiting(now=later) == 1
    assert runs_resume_waiting(now=later) == 0
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.resume_at is None and run.waited_seconds == 30
    step = run.steps.get(step_id="step_1")
    assert step.status == RunStatus.SUCCEEDED and [a["status"] for a in step.attempt_log] == [429, 200]
    assert [s.step_id for s in run.steps.all()] == ["trigger", "step_1"]
    assert sorted(c["email"] for c in list_contacts(qualtrics_sandbox)) == ["ada@example.com", "other@example.com"]


def test_a_waiting_run_is_shown_with_the_time_it_resumes(settings, owner_client, make_flow, qualtrics_sandbox):
    settings.TASKS = DUMMY_TASKS
    run = deliver(make_flow(), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 429, count=1, retry_after=30, method="POST")
    assert run_execute(run.pk) == RunStatus.WAITING
    run.refresh_from_db()
    data = owner_client.get(reverse("api_run", args=[run.pk])).json()
    assert data["status"] == "waiting" and data["resume_at"] == run.resume_at.isoformat()
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert f"Waiting until <time datetime=\"{run.resume_at.isoformat()}" in page
    assert "(Qualtrics asked to wait 30 s)" in page


def test_waiting_longer_than_the_cap_ends_the_run_clearly(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = DUMMY_TASKS
    settings.RUN_MAX_WAIT_SECONDS = 50
    run = deliver(make_flow(), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 429, count=2, retry_after=30, method="POST")
    assert run_execute(run.pk) == RunStatus.WAITING
    assert runs_resume_waiting(now=Run.objects.get(pk=run.pk).resume_at + timedelta(seconds=1)) == 1
    assert run_execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.error.startswith("“Create Contact in Mailing List” (step_1) failed: Qualtrics asked to wait 30 s more")
    assert "waits at most 50 s in all (RUN_MAX_WAIT_SECONDS)" in run.error
    assert list_contacts(qualtrics_sandbox) == []


# One attempt count -------------------------------------------------------------------------------


def test_every_http_attempt_is_recorded_and_the_totals_agree_with_the_message(
    settings, monkeypatch, owner_client, make_flow, qualtrics_sandbox
):
    settings.TASKS = DUMMY_TASKS
    monkeypatch.setattr(engine, "_sleep", lambda seconds: None)
    run = deliver(make_flow(), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 429, count=1000, retry_after=0.01, method="POST")
    assert run_execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    step = run.steps.get(step_id="step_1")
    posts = qualtrics_sandbox.requests("directories", method="POST")
    assert step.attempts == len(step.attempt_log) == len(posts) == 15  # 3 tries of the step, 5 calls each
    assert "Gave up after 15 attempts" in run.error
    assert {(a["method"], a["status"], a["error"]) for a in step.attempt_log} == {("POST", 429, "RateLimitedError")}
    assert all(a["retry_after"] == 0.01 and a["at"] for a in step.attempt_log)
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "15 attempts" in page and "HTTP attempts (15)" in page
    assert page.count("429 RateLimitedError, asked to wait 0.01 s</td>") == 15
    data = owner_client.get(reverse("api_run", args=[run.pk])).json()
    [shown] = [s for s in data["steps"] if s["step_id"] == "step_1"]
    assert shown["attempts"] == len(shown["attempt_log"]) == 15


def test_a_step_that_made_no_http_call_counts_its_tries(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = DUMMY_TASKS
    run = deliver(make_flow(steps=[{"id": "step_1", "card": "core.compose", "inputs": {"template": "hi"}}]),
                  qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    step = run.steps.get(step_id="step_1")
    assert (step.attempts, step.attempt_log) == (1, [])
    trigger = run.steps.get(step_id="trigger")
    assert trigger.attempts == len(trigger.attempt_log) >= 1
