"""The limits of one run (RUN_MAX_* settings), whole stored outputs for resumed runs, and cancelling.

Runs are executed in this process (`run_execute`), as a worker would; a resumed run is made by
putting the run back to running under an expired lease, as after its worker died.
"""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from designer.engine import run_execute
from designer.models import Run, RunStatus
from tests.reliability.limits import compose, deliver, exploding_compose, for_each, nested_loops, webhook_flow

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db]

ITEMS = list(range(20))


@pytest.fixture(autouse=True)
def dummy_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def executed(run: Run) -> Run:
    run_execute(run.pk)
    run.refresh_from_db()
    return run


def as_if_its_worker_died(run: Run, **changes) -> None:
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished_at=None, error="",
                                         lease_until=timezone.now() - timedelta(seconds=1), **changes)


def test_nested_loops_stop_at_the_step_limit_with_a_message_naming_the_setting(team, settings):
    settings.RUN_MAX_STEPS = 300
    run = executed(deliver(webhook_flow(team, nested_loops(3)), {"items": ITEMS}))  # 8,420 steps unlimited
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("The run stopped after 300 steps, the most one run may execute (RUN_MAX_STEPS=300")
    assert run.steps.exclude(step_id="trigger").count() == 300


def test_loop_iterations_in_all_are_limited(team, settings):
    settings.RUN_MAX_LOOP_ITERATIONS = 50
    run = executed(deliver(webhook_flow(team, nested_loops(2)), {"items": ITEMS}))  # 420 iterations
    assert run.status == RunStatus.FAILED
    assert "reached 50 iterations in all" in run.error and "(RUN_MAX_LOOP_ITERATIONS=50;" in run.error
    # 3 iterations of the outer loop and 47 of the inner ones.
    assert run.steps.filter(step_id="inner").count() == 47


def test_a_for_each_over_more_items_than_the_setting_allows_fails(team, settings):
    settings.RUN_MAX_LOOP_ITEMS = 5
    run = executed(deliver(webhook_flow(team, nested_loops(1)), {"items": ITEMS[:6]}))
    assert run.status == RunStatus.FAILED
    assert run.error == ("“For Each” (loop_1) failed: it got 6 items, more than the 5 one For Each may run "
                         "(RUN_MAX_LOOP_ITEMS=5; the operator can change it).")


def test_an_exploding_compose_fails_at_the_output_limit_before_building_the_text(team, settings):
    settings.RUN_MAX_OUTPUT_BYTES = 100_000
    # 704 bytes, then 28 KB, then 1.1 MB, then 45 MB of text, without a limit.
    run = deliver(webhook_flow(team, exploding_compose(copies=40, levels=4)), {})
    tracemalloc.start()
    try:
        run = executed(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.status == RunStatus.FAILED
    assert run.error == ("“Compose” (c3) failed: The text would be more than 97.7 KB, over the limit of 97.7 KB "
                         "for one output (the RUN_MAX_OUTPUT_BYTES setting).")
    assert not run.steps.filter(step_id="c4").exists()
    assert peak < 3 * 1024 * 1024, f"{peak / 1e6:.1f} MB allocated"


def test_a_runs_stored_data_in_all_is_limited(team, settings):
    settings.RUN_MAX_STORED_BYTES = 60_000
    steps = [for_each("loop", "trigger.body.items", [compose("page", "y" * 5000 + "{{loop.index}}")])]
    run = executed(deliver(webhook_flow(team, steps), {"items": ITEMS}))
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("“Compose” (page) failed: the run's stored data would pass 58.6 KB, the most one "
                                "run may store (RUN_MAX_STORED_BYTES=60,000;")
    assert run.steps.filter(step_id="page").count() < 10


def test_the_events_outputs_count_once_toward_a_runs_stored_data(team, settings):
    # The event's outputs are stored on its step and kept on the run as its trigger: one text,
    # counted once. The payload (the event step's inputs) and its outputs are about 30 KB each.
    settings.RUN_MAX_STORED_BYTES = 80_000
    run = executed(deliver(webhook_flow(team, [compose("short", "ok")]), {"text": "z" * 30_000}))
    assert run.status == RunStatus.SUCCEEDED, run.error
    event = run.steps.get(step_id="trigger")
    assert run.trigger == event.outputs and event.outputs["body"]["text"] == "z" * 30_000


def test_a_run_past_its_wall_time_fails_at_its_next_step(team, settings):
    settings.RUN_MAX_SECONDS = 60
    run = executed(deliver(webhook_flow(team, [compose("step_1", "a"), compose("step_2", "b")]), {}))
    assert run.status == RunStatus.SUCCEEDED
    # Taken up again after its worker died, 61 s after it first started.
    run.steps.filter(step_id="step_2").delete()
    as_if_its_worker_died(run, started_at=timezone.now() - timedelta(seconds=61))
    run = executed(run)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("The run stopped after 60 seconds, the longest one run may take (RUN_MAX_SECONDS=60;")


def test_a_run_whose_worker_stopped_too_often_fails_instead_of_starting_again(team, settings):
    settings.RUN_MAX_ATTEMPTS = 3
    run = deliver(webhook_flow(team, [compose("step_1", "a")]), {})
    as_if_its_worker_died(run, attempts=3)
    run = executed(run)
    assert run.status == RunStatus.FAILED and run.attempts == 4
    assert run.error.startswith("The worker running it stopped 3 times before the run ended, so it was not started "
                                "again (RUN_MAX_ATTEMPTS=3;")
    assert not run.steps.exists()


def test_event_data_over_32_kb_is_stored_whole_and_a_resumed_run_reads_exactly_it(team):
    steps = [compose("step_1", "{{trigger.body.email}}"), compose("step_2", "done")]
    body = {"comments": "c" * 40_000, "email": "respondent@example.com"}
    run = executed(deliver(webhook_flow(team, steps), body))
    assert run.status == RunStatus.SUCCEEDED
    assert run.trigger["body"] == body
    assert run.steps.get(step_id="step_1").outputs == {"text": "respondent@example.com"}

    run.steps.exclude(step_id__in=["trigger"]).delete()
    as_if_its_worker_died(run)
    run = executed(run)
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 2
    assert run.steps.get(step_id="step_1").outputs == {"text": "respondent@example.com"}


def test_a_resumed_run_that_finds_an_output_stored_as_a_preview_fails_clearly(team):
    steps = [compose("step_1", "{{trigger.body.email}}"), compose("step_2", "To {{step_1.text}}")]
    run = executed(deliver(webhook_flow(team, steps), {"email": "respondent@example.com"}))
    assert run.status == RunStatus.SUCCEEDED
    # As stored before outputs were kept whole: over 32 KB, only a preview.
    run.steps.filter(step_id="step_1").update(outputs={"_truncated": True, "size": 40_000, "preview": '{"text": "re'})
    run.steps.filter(step_id="step_2").delete()
    as_if_its_worker_died(run)
    run = executed(run)
    assert run.status == RunStatus.FAILED
    assert run.error == ("“Compose” (step_1) failed: Its output was stored only as a preview (it was over 32 KB "
                         "when this run first ran), so this resumed run cannot use it without losing data. "
                         "Re-run the flow.")
    assert not run.steps.filter(step_id="step_2").exists()


def test_an_editor_cancels_a_queued_run_at_once_and_no_worker_runs_it(team, member, client):
    run = deliver(webhook_flow(team, [compose("step_1", "a")]), {})
    client.force_login(member(Role.VIEWER))
    assert client.post(reverse("api_run_cancel", args=[run.pk])).status_code == 403
    client.force_login(member(Role.EDITOR))
    answer = client.post(reverse("api_run_cancel", args=[run.pk]))
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert run_execute(run.pk) is None
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and not run.steps.exists()
    assert run.error == "Cancelled at a person's request before the run ended."
    again = client.post(reverse("api_run_cancel", args=[run.pk]))
    assert again.status_code == 409 and again.json()["detail"] == "This run has already ended."


def test_a_running_run_is_asked_to_stop_and_ends_cancelled_at_its_next_step(team, member, client):
    run = deliver(webhook_flow(team, [compose("step_1", "a")]), {})
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, attempts=1,
                                         lease_until=timezone.now() + timedelta(minutes=1))
    client.force_login(member(Role.EDITOR))
    answer = client.post(reverse("run_cancel", args=[run.pk]), follow=True)
    assert "The run stops at its next step." in answer.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.cancel_requested_at is not None
    Run.objects.filter(pk=run.pk).update(lease_until=timezone.now() - timedelta(seconds=1))  # its worker stopped
    run = executed(run)
    assert run.status == RunStatus.CANCELLED and not run.steps.exists()
