"""Qualtrics misbehaving during runs: 429 and 500 storms on real workers, and slow answers.

Whatever Qualtrics does, every run ends once (succeeded, or failed with a message that says what
Qualtrics answered, or stopped for a person when a create may have been applied), no run is
executed twice, and no contact is created twice. A create that Qualtrics may have applied (it did
not answer in time) is never sent again by itself.
"""

from __future__ import annotations

import time

import pytest

from designer.activation import flow_activate
from designer.engine import run_execute
from designer.models import ActivationStatus, Run, RunStatus
from designer.runs import delivery_accept, run_rerun
from tests.processes import wait_for
from tests.reliability.support import contact_emails, contact_posts, finished, report

pytestmark = [pytest.mark.slow, pytest.mark.scaleout]


def deliver(flow, sandbox, email: str) -> Run:
    response_id = sandbox.record_response(values={"recipientEmail": email}, notify=False)
    return delivery_accept(
        flow=flow, version=flow.versions.first(), event_id=response_id, payload={"response_id": response_id}, source="webhook"
    )


def storm(flow, sandbox, workers, *, total: int, status: int, count: int, retry_after: float | None, label: str):
    """Two workers run `total` webhook-delivered runs while the next `count` API calls answer `status`."""
    activation = flow_activate(flow=flow)
    assert activation.status == ActivationStatus.ACTIVE_WEBHOOK
    workers()
    workers()
    sandbox.clear_requests()
    sandbox.inject_fault("", status, count=count, retry_after=retry_after)
    emails = [f"{label}-{index}@example.com" for index in range(total)]
    started = time.monotonic()
    for email in emails:
        sandbox.record_response(values={"recipientEmail": email})
    wait_for(lambda: finished(flow) == total, timeout=180, message=f"{finished(flow)} of {total} runs ended")
    elapsed = time.monotonic() - started
    served = len([r for r in sandbox.requests() if r["status"] == status])
    sandbox.clear_faults()
    return emails, elapsed, served


def assert_each_run_ended_once(flow, sandbox, emails, *, said: str) -> list[Run]:
    runs = list(Run.objects.filter(flow=flow).select_related("delivery"))
    assert len(runs) == len(emails)
    assert len({run.delivery.event_id for run in runs}) == len(emails)
    assert [run.attempts for run in runs] == [1] * len(runs), "a run was claimed twice"
    # A create that may have been applied leaves its run to a person (attention), not failed.
    failed = [run for run in runs if run.status in (RunStatus.FAILED, RunStatus.ATTENTION)]
    succeeded = [run for run in runs if run.status == RunStatus.SUCCEEDED]
    assert len(failed) + len(succeeded) == len(runs)
    for run in failed:
        assert said in run.error, run.error
        assert run.error.startswith(("“New Response” (trigger) failed:", "“Create Contact in Mailing List” (step_1) failed:",
                                     "“Create Contact in Mailing List” (step_1) needs attention:"))
    for run in runs:
        step_ids = list(run.steps.values_list("step_id", flat=True))
        assert len(step_ids) == len(set(step_ids)), f"a step of run {run.pk} was recorded twice: {step_ids}"
    created = sorted(run.trigger["recipient_email"] for run in succeeded)
    assert contact_emails(sandbox) == created
    assert len(contact_posts(sandbox, 200)) == len(succeeded)
    return failed


def rerun_until_done(flow, sandbox, failed: list[Run], emails: list[str]) -> None:
    """After the storm, re-running the failed runs creates the missing contacts, once each."""
    reruns = [run_rerun(run=run) for run in failed]
    wait_for(
        lambda: (
            Run.objects.filter(
                pk__in=[r.pk for r in reruns], status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]
            ).count()
            == len(reruns)
        ),
        timeout=60,
    )
    assert set(Run.objects.filter(pk__in=[r.pk for r in reruns]).values_list("status", flat=True)) <= {
        RunStatus.SUCCEEDED
    }
    assert contact_emails(sandbox) == sorted(emails)


@pytest.mark.django_db(transaction=True)
def test_a_429_storm_with_retry_after_ends_every_run_once_and_creates_no_contact_twice(
    workers, make_flow, qualtrics_sandbox
):
    flow = make_flow()
    emails, elapsed, served = storm(
        flow, qualtrics_sandbox, workers, total=16, status=429, count=60, retry_after=0.2, label="rate"
    )
    failed = assert_each_run_ended_once(flow, qualtrics_sandbox, emails, said="(429)")
    assert served > 0
    report(
        "429 storm",
        runs=len(emails),
        injected=60,
        served_429=served,
        succeeded=len(emails) - len(failed),
        failed=len(failed),
        seconds=f"{elapsed:.1f}",
        contacts=len(contact_emails(qualtrics_sandbox)),
    )
    rerun_until_done(flow, qualtrics_sandbox, failed, emails)


@pytest.mark.django_db(transaction=True)
def test_a_500_storm_ends_every_run_once_and_creates_no_contact_twice(workers, make_flow, qualtrics_sandbox):
    flow = make_flow()
    emails, elapsed, served = storm(
        flow, qualtrics_sandbox, workers, total=10, status=500, count=24, retry_after=None, label="error"
    )
    failed = assert_each_run_ended_once(flow, qualtrics_sandbox, emails, said="temporary problem")
    assert served > 0
    report(
        "500 storm",
        runs=len(emails),
        injected=24,
        served_500=served,
        succeeded=len(emails) - len(failed),
        failed=len(failed),
        seconds=f"{elapsed:.1f}",
        contacts=len(contact_emails(qualtrics_sandbox)),
    )
    rerun_until_done(flow, qualtrics_sandbox, failed, emails)


@pytest.mark.django_db(transaction=True)
def test_a_storm_that_outlasts_every_retry_fails_the_run_with_qualtrics_answer_and_creates_nothing(
    settings, make_flow, qualtrics_sandbox
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(), qualtrics_sandbox, "never@example.com")
    qualtrics_sandbox.inject_fault("directories", 429, count=1000, retry_after=0.1, method="POST")
    started = time.monotonic()
    assert run_execute(run.pk) == RunStatus.FAILED
    elapsed = time.monotonic() - started
    run.refresh_from_db()
    assert run.error.startswith(
        "“Create Contact in Mailing List” (step_1) failed: Qualtrics' rate limit was reached on POST"
    )
    assert "Gave up after 15 attempts" in run.error  # the step's 3 tries, 5 calls each, as its record says
    step = run.steps.get(step_id="step_1")
    assert (step.status, step.attempts, len(step.attempt_log)) == (RunStatus.FAILED, 15, 15)
    assert len(contact_posts(qualtrics_sandbox)) == 15  # 3 step attempts of 5 calls each, all refused
    assert contact_emails(qualtrics_sandbox) == []
    assert elapsed < 30
    report("endless 429 on the create", calls=15, seconds=f"{elapsed:.1f}", outcome="failed, nothing created")


@pytest.mark.django_db
def test_a_create_slower_than_the_read_timeout_is_not_sent_again_and_the_run_needs_attention(
    settings, make_flow, qualtrics_sandbox
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.QUALTRICS_TIMEOUT = (2, 1.0)
    run = deliver(make_flow(), qualtrics_sandbox, "slow@example.com")
    qualtrics_sandbox.add_latency(2.0, "directories", method="POST", count=1)

    started = time.monotonic()
    assert run_execute(run.pk) == RunStatus.ATTENTION
    elapsed = time.monotonic() - started
    run.refresh_from_db()
    assert run.error.startswith(
        "“Create Contact in Mailing List” (step_1) needs attention: Qualtrics did not answer POST directories/"
    )
    assert "in time" in run.error and "not sent again" in run.error
    assert run.trigger["recipient_email"] == "slow@example.com"  # the pause wrote the event's outputs too
    step = run.steps.get(step_id="step_1")
    assert step.status == RunStatus.ATTENTION and step.attempts == len(step.attempt_log)
    assert [a["method"] for a in step.attempt_log].count("POST") == 1  # then the look-up by email
    assert run_execute(run.pk) is None  # nothing picks it up again

    time.sleep(1.5)  # Qualtrics finishes the slow call after the client stopped waiting
    assert len(contact_posts(qualtrics_sandbox)) == 1
    assert contact_emails(qualtrics_sandbox) == ["slow@example.com"]  # applied once, by Qualtrics
    report(
        "create slower than the read timeout",
        read_timeout=1.0,
        latency=2.0,
        posts=1,
        seconds=f"{elapsed:.1f}",
        outcome="needs attention, not repeated",
    )


@pytest.mark.django_db
def test_a_read_slower_than_the_read_timeout_is_repeated_and_the_run_succeeds(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.QUALTRICS_TIMEOUT = (2, 1.0)
    run = deliver(make_flow(), qualtrics_sandbox, "reread@example.com")
    qualtrics_sandbox.add_latency(2.0, "surveys", method="GET", count=1)

    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    response_reads = [r for r in qualtrics_sandbox.requests("surveys", method="GET") if "/responses/" in r["api_path"]]
    assert len(response_reads) == 2
    assert len(contact_posts(qualtrics_sandbox)) == 1
    assert contact_emails(qualtrics_sandbox) == ["reread@example.com"]


@pytest.mark.django_db
def test_slow_answers_within_the_read_timeout_just_work(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.QUALTRICS_TIMEOUT = (2, 2.0)
    run = deliver(make_flow(), qualtrics_sandbox, "patient@example.com")
    qualtrics_sandbox.add_latency(1.2, "")

    started = time.monotonic()
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    elapsed = time.monotonic() - started
    calls = qualtrics_sandbox.requests()
    assert [c["status"] for c in calls] == [200] * len(calls)
    assert len({(c["method"], c["api_path"]) for c in calls}) == len(calls)  # nothing sent twice
    assert contact_emails(qualtrics_sandbox) == ["patient@example.com"]
    report(
        "slow but within the read timeout",
        latency=1.2,
        read_timeout=2.0,
        calls=len(calls),
        seconds=f"{elapsed:.1f}",
        outcome="succeeded",
    )
