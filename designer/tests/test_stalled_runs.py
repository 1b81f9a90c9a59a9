"""The scheduler's stalled-run pass tells a backlog from a stall. A queued run whose task waits in
the queue is merely behind others, however long it has waited: it is not handed over again (each
hand-over was another task row, or another message on Redis, for the workers to go through). A
queued run that no task will take up (its hand-over was refused or lost), and a running run past
its lease (its worker died), are handed over.

On the embedded default the queue is django-tasks-db's table; in the PostgreSQL + Redis pass it is
Celery's queue on Redis. No worker runs here: the tasks stay where they were put."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from designer.models import Run, RunStatus
from designer.runs import deliveries_accept, hand_over_later, hand_over_now, runs_requeue_stalled
from designer.tasks import execute_run
from tests.reliability.limits import compose, webhook_flow

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


def celery_app():
    backend = execute_run.get_backend()
    if type(backend).__name__ != "CeleryBackend":
        return None
    return backend._get_celery_app()


def tasks_waiting() -> int:
    """execute_run tasks waiting for a worker, as the queue itself counts them."""
    app = celery_app()
    if app is None:
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.filter(task_path=execute_run.module_path, status="READY").count()
    with app.connection_for_read() as conn:
        client = conn.default_channel.client
        return client.llen(app.conf.task_default_queue)


def run_ids_waiting() -> list[int]:
    """The runs of the waiting execute_run and execute_runs tasks, as the queue holds them."""
    app = celery_app()
    if app is None:
        from django_tasks_db.models import DBTaskResult

        return sorted(args[0] for args in DBTaskResult.objects.filter(
            task_path=execute_run.module_path, status="READY").values_list("args_kwargs__args", flat=True))
    with app.connection_for_read() as conn:
        messages = conn.default_channel.client.lrange(app.conf.task_default_queue, 0, -1)
    return sorted(run_id for group in groups_waiting(messages) for run_id in group)


def groups_waiting(messages=None) -> list[list[int]]:
    """The runs of each waiting task on Celery's queue, in the queue's order of taking them."""
    app = celery_app()
    if messages is None:
        with app.connection_for_read() as conn:
            messages = conn.default_channel.client.lrange(app.conf.task_default_queue, 0, -1)
    bodies = [json.loads(base64.b64decode(json.loads(message)["body"])) for message in messages]
    return [args[0] if isinstance(args[0], list) else [args[0]] for args, kwargs, embed in reversed(bodies)]


@pytest.fixture
def empty_queue():
    app = celery_app()
    if app is not None:
        app.control.purge()  # no worker runs in this test; earlier tests may have left messages


@pytest.fixture
def flow(team):
    return webhook_flow(team, [compose("step_1", "Hello")])


def backlog(flow, count: int, first: int = 0) -> list[Run]:
    """`count` queued runs, each handed to the task queue as the inbox does."""
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"b{i}",
                                      "source": "test", "payload": {}} for i in range(first, first + count)])
    return list(Run.objects.filter(pk__in=run_ids).order_by("pk"))


def lost(flow, count: int) -> list[Run]:
    """`count` queued runs no task was made for (as when the broker refused the hand-over)."""
    return [Run.objects.create(flow=flow, team_id=flow.team_id, version=flow.versions.first()) for _ in range(count)]


def age(runs: list[Run], seconds: float = 120) -> None:
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def test_a_backlog_waiting_in_the_queue_is_not_handed_over_again(flow, empty_queue):
    runs = backlog(flow, 30)
    age(runs)
    assert tasks_waiting() == 30
    assert runs_requeue_stalled() == 0
    assert tasks_waiting() == 30


def test_queued_runs_without_a_task_are_handed_over_beside_a_backlog(flow, empty_queue):
    waiting = backlog(flow, 20)
    stalled = lost(flow, 3)
    age(waiting + stalled)
    assert tasks_waiting() == 20
    assert runs_requeue_stalled() == 3
    assert tasks_waiting() == 23
    # Each run now has a task waiting: the next rounds hand nothing over.
    age(waiting + stalled)
    assert runs_requeue_stalled() == 0
    assert tasks_waiting() == 23


def test_a_run_queued_only_briefly_is_left_to_its_task(flow, empty_queue):
    lost(flow, 2)
    assert runs_requeue_stalled() == 0
    assert tasks_waiting() == 0


def test_a_run_past_its_lease_is_handed_over_even_with_a_backlog(flow, empty_queue):
    runs = backlog(flow, 5)
    age(runs)
    held = runs[0]
    Run.objects.filter(pk=held.pk).update(status=RunStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=5))
    # The task that took it is gone with its worker.
    before = tasks_waiting()
    assert runs_requeue_stalled() == 1
    assert tasks_waiting() == before + 1


def test_the_runs_of_an_inbox_batch_are_handed_over_together_once_each(flow, empty_queue, settings):
    settings.RUNS_PER_TASK = 4
    hand_over_later()  # as the webhook inbox does: answer the batch first, then hand its runs over
    runs = backlog(flow, 25)
    hand_over_now()
    assert run_ids_waiting() == sorted(run.pk for run in runs)
    if celery_app() is not None:
        # In the order they were stored, in groups as even as can be: up to four runs a task, but
        # no fewer tasks than a worker's eight threads.
        ids = [run.pk for run in runs]
        assert celery_app().conf.worker_concurrency == 8
        assert groups_waiting() == [ids[0:4]] + [ids[start:start + 3] for start in range(4, 25, 3)]
        assert tasks_waiting() == 8
    hand_over_later()  # a later batch: the queue is declared already
    runs += backlog(flow, 5, first=25)
    hand_over_now()
    assert run_ids_waiting() == sorted(run.pk for run in runs)


def test_a_backlog_handed_over_several_runs_a_task_is_counted_by_its_runs(flow, empty_queue, settings):
    settings.RUNS_PER_TASK = 8
    hand_over_later()
    waiting = backlog(flow, 60)
    hand_over_now()
    stalled = lost(flow, 2)
    age(waiting + stalled)
    # Eight tasks carry the sixty runs' turns: only the two runs without a task are handed over.
    assert runs_requeue_stalled() == 2
    assert len(run_ids_waiting()) == 62  # a turn for each queued run (the oldest runs get the new ones)
    age(waiting + stalled)
    assert runs_requeue_stalled() == 0


def test_runs_whose_batch_the_broker_refused_stay_queued_for_the_scheduler(flow, empty_queue, settings, caplog):
    default = settings.TASKS
    settings.TASKS = {"default": {"BACKEND": "django_tasks_celery.CeleryBackend",
                                  "OPTIONS": {"CELERY_APP": "tests.task_backends.unreachable_celery"}}}
    hand_over_later()
    runs = backlog(flow, 3)
    hand_over_now()
    assert "stored, but the task queue refused them" in caplog.text
    assert set(Run.objects.values_list("status", flat=True)) == {RunStatus.QUEUED}

    settings.TASKS = default  # the queue works again
    age(runs)
    assert runs_requeue_stalled() == 3
    assert run_ids_waiting() == sorted(run.pk for run in runs)
