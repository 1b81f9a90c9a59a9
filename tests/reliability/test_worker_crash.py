"""A worker process killed with SIGKILL in the middle of a step.

Recovery is the product's own: another worker, and the scheduler's stalled-run pass
(`manage.py scheduler --once`) once the dead worker's lease (RUN_LEASE_SECONDS=2) has run out.
"""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from designer.activation import flow_activate
from designer.models import Run, RunStatus
from tests.processes import wait_for
from tests.reliability.support import (
    contact_emails,
    contact_posts,
    finished,
    read_contacts_step,
    report,
)

pytestmark = [pytest.mark.slow, pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


def recover(workers, run: Run) -> float:
    """Start a fresh worker, let the dead worker's lease run out, run the scheduler once."""
    started = time.monotonic()
    workers()
    wait_for(lambda: Run.objects.get(pk=run.pk).lease_until < timezone.now(), timeout=10)
    call_command("scheduler", "--once")
    wait_for(lambda: finished(run.flow) == 1, timeout=60)
    return time.monotonic() - started


def test_a_worker_killed_during_a_read_step_is_resumed_and_the_create_before_it_is_not_repeated(
    workers, make_flow, sandbox_configuration, qualtrics_sandbox
):
    flow = make_flow([read_contacts_step(sandbox_configuration.pk, qualtrics_sandbox)])
    flow_activate(flow=flow)
    first = workers()
    qualtrics_sandbox.add_latency(5.0, "directories", method="GET", count=1)  # step_2's read hangs
    qualtrics_sandbox.record_response(values={"recipientEmail": "resumed@example.com"})

    wait_for(lambda: qualtrics_sandbox.requests("directories", method="GET"), timeout=30)
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.RUNNING
    assert list(run.steps.values_list("step_id", "status")) == [("trigger", "succeeded"), ("step_1", "succeeded")]
    first.kill()

    seconds = recover(workers, run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    assert list(run.steps.values_list("step_id", flat=True)) == ["trigger", "step_1", "step_2"]
    assert run.steps.get(step_id="step_2").outputs["count"] == 1
    assert len(contact_posts(qualtrics_sandbox)) == 1
    assert contact_emails(qualtrics_sandbox) == ["resumed@example.com"]
    report(
        "worker killed during a read step",
        attempts=run.attempts,
        contact_posts=1,
        recovery_seconds=f"{seconds:.1f}",
        outcome="succeeded",
    )


def test_a_worker_killed_while_a_create_is_in_flight_never_sends_it_again_and_the_run_says_why(
    workers, make_flow, qualtrics_sandbox
):
    flow = make_flow([{"id": "step_2", "card": "core.compose", "inputs": {"template": "{{step_1.contact_id}}"}}])
    flow_activate(flow=flow)
    first = workers()
    qualtrics_sandbox.add_latency(3.0, "directories", method="POST", count=1)  # the create hangs, then is applied
    qualtrics_sandbox.record_response(values={"recipientEmail": "in-flight@example.com"})

    wait_for(lambda: contact_posts(qualtrics_sandbox), timeout=30)
    first.kill()
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.RUNNING

    seconds = recover(workers, run)
    run.refresh_from_db()
    assert run.status == RunStatus.ATTENTION
    assert run.error.startswith(
        "“Create Contact in Mailing List” (step_1) needs attention: It was sending a change to Qualtrics"
    )
    assert "not sent again" in run.error
    assert run.attempts == 2
    step = run.steps.get(step_id="step_1")
    assert step.status == RunStatus.ATTENTION
    assert not run.steps.filter(step_id="step_2").exists()
    wait_for(lambda: contact_emails(qualtrics_sandbox), timeout=10)
    assert len(contact_posts(qualtrics_sandbox)) == 1
    assert contact_emails(qualtrics_sandbox) == ["in-flight@example.com"]  # applied once, by Qualtrics
    report(
        "worker killed while a create was in flight",
        attempts=run.attempts,
        contact_posts=1,
        recovery_seconds=f"{seconds:.1f}",
        outcome="needs attention, create not repeated",
    )


def test_a_run_interrupted_after_a_step_failed_ends_failed_on_resume_without_sending_the_step_again(
    settings, make_flow, qualtrics_sandbox
):
    from datetime import timedelta

    from designer.engine import run_execute
    from designer.runs import delivery_accept

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "refused@example.com"}, notify=False)
    run = delivery_accept(
        flow=flow,
        version=flow.versions.first(),
        event_id=response_id,
        payload={"response_id": response_id},
        source="webhook",
    )
    qualtrics_sandbox.inject_fault("directories", 400, count=1, method="POST")
    assert run_execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    error = run.error
    # As if the worker lost the database after recording the failed step, before ending the run.
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, error="", finished_at=None, lease_until=timezone.now() - timedelta(seconds=1)
    )

    assert run_execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.error == error
    assert len(contact_posts(qualtrics_sandbox)) == 1
    assert contact_emails(qualtrics_sandbox) == []
