"""A Celery worker is the transport of runs and costs little per task: it keeps its database
connection from one task to the next, as Django keeps one between the requests of a thread
(CONN_MAX_AGE, with health checks), instead of opening a new PostgreSQL connection for every run;
it writes no task result, keeps no copy of a task it has taken, and prints nothing for a run that
succeeds. Run in the PostgreSQL + Redis pass, with a real worker."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from designer.models import Run, RunStatus
from designer.runs import deliveries_accept, hand_over_later, hand_over_now
from tests.processes import wait_for
from tests.reliability.limits import compose, webhook_flow
from tests.reliability.support import read_contacts_step

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
                       reason="a Celery worker on PostgreSQL + Redis"),
]

RUNS = 40


def sessions_opened() -> int:
    """Connections ever made to the test database (PostgreSQL's cumulative statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_celery_worker_reuses_its_database_connection_across_runs(workers, team):
    flow = webhook_flow(team, [compose("step_1", "Hello {{trigger.body.name}}")])
    worker = workers()
    # The worker is up (it has made its first connections) before counting.
    with transaction.atomic():
        deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": "warm", "source": "test",
                            "payload": {"body": {"name": "warm"}}}])
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == 1, timeout=60)
    before = sessions_opened()
    with transaction.atomic():
        deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}", "source": "test",
                            "payload": {"body": {"name": f"n{i}"}}} for i in range(RUNS)])
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == RUNS + 1, timeout=60)
    worker.stop()  # a backend's statistics reach the shared counters by the time it ends
    time.sleep(1)
    opened = sessions_opened() - before
    # This test's own connection is kept; the worker's connection may be replaced (its age, a
    # failed health check), not opened per run.
    assert opened <= 3, f"{opened} connections for {RUNS} runs"


def test_a_celery_worker_stores_no_task_results(workers, team):
    """Celery is the transport only: a run's outcome is in the database, and nothing reads a
    task's result, so none is written to Redis."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    before = set(client.scan_iter("celery-task-meta-*"))
    flow = webhook_flow(team, [compose("step_1", "Hello")])
    workers()
    with transaction.atomic():
        deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"r{i}", "source": "test",
                            "payload": {"body": {}}} for i in range(5)])
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == 5, timeout=60)
    assert set(client.scan_iter("celery-task-meta-*")) - before == set()


def test_a_celery_worker_keeps_no_copy_in_redis_of_the_task_it_is_running(
    workers, team, sandbox_configuration, qualtrics_sandbox
):
    """kombu's acknowledgement emulation is off: it stored every task a worker took in a Redis
    hash until the task ended, two round trips per task, so that a task lost with its worker came
    back an hour later. The scheduler resumes such a run from the database instead
    (tests/reliability/test_worker_crash.py)."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    flow = webhook_flow(team, [read_contacts_step(sandbox_configuration.pk, qualtrics_sandbox)])
    qualtrics_sandbox.add_latency(2.0, "directories", method="GET", count=1)  # the step's read takes 2 s
    workers()
    with transaction.atomic():
        deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": "held", "source": "test",
                            "payload": {"body": {}}}])
    wait_for(lambda: qualtrics_sandbox.requests("directories", method="GET"), timeout=30)
    assert Run.objects.get(flow=flow).status == RunStatus.RUNNING
    assert list(client.scan_iter("unacked*")) == []
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == 1, timeout=60)


def test_a_celery_worker_prints_no_line_for_a_task_that_succeeds_below_debug(workers, team, tmp_path):
    output = tmp_path / "worker.log"
    flow = webhook_flow(team, [compose("step_1", "Hello")])
    worker = workers(output=output)
    with transaction.atomic():
        deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"q{i}", "source": "test",
                            "payload": {"body": {}}} for i in range(3)])
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == 3, timeout=60)
    worker.stop()
    printed = output.read_text()
    assert "path=designer.tasks.execute_run" not in printed, printed[-2000:]


def test_a_celery_worker_runs_every_run_of_a_task_that_carries_several(workers, team, settings):
    """The webhook inbox hands a batch's runs over a few to a task (RUNS_PER_TASK); each is run in
    its turn, and a turn that finds nothing to run does not end those after it."""
    settings.RUNS_PER_TASK = 4
    flow = webhook_flow(team, [compose("step_1", "Hello {{trigger.body.name}}")])
    hand_over_later()
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"g{i}",
                                      "source": "test", "payload": {"body": {"name": f"n{i}"}}} for i in range(10)])
    Run.objects.filter(pk=run_ids[1]).delete()  # the second turn of the first task finds no run
    hand_over_now()
    workers()
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == 9, timeout=60)
    assert "Hello n9" in str(Run.objects.get(pk=run_ids[9]).steps.get(step_id="step_1").outputs)


def test_the_runs_of_a_task_lost_with_its_killed_worker_are_handed_over_again(
    workers, team, settings, sandbox_configuration, qualtrics_sandbox
):
    """A worker killed in the middle of a task that carries several runs loses the turns it had
    not taken; those runs are still queued, and the scheduler's stalled-run pass hands them over
    (with the run it was running, once its lease ran out). Each run ends once."""
    from designer.runs import _celery_app, runs_requeue_stalled

    settings.RUNS_PER_TASK = 3
    app = _celery_app()
    threads, app.conf.worker_concurrency = app.conf.worker_concurrency, 1  # one task for the three runs
    try:
        flow = webhook_flow(team, [read_contacts_step(sandbox_configuration.pk, qualtrics_sandbox)])
        qualtrics_sandbox.add_latency(5.0, "directories", method="GET", count=1)  # the first run's read hangs
        hand_over_later()
        with transaction.atomic():
            run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"k{i}",
                                          "source": "test", "payload": {"body": {}}} for i in range(3)])
        hand_over_now()
    finally:
        app.conf.worker_concurrency = threads
    first = workers()
    wait_for(lambda: qualtrics_sandbox.requests("directories", method="GET"), timeout=30)
    first.kill()
    assert Run.objects.get(pk=run_ids[0]).status == RunStatus.RUNNING
    assert set(Run.objects.filter(pk__in=run_ids[1:]).values_list("status", flat=True)) == {RunStatus.QUEUED}

    workers()
    wait_for(lambda: Run.objects.get(pk=run_ids[0]).lease_until < timezone.now(), timeout=10)
    Run.objects.filter(pk__in=run_ids[1:]).update(updated_at=timezone.now() - timedelta(seconds=120))  # a minute on
    assert runs_requeue_stalled() == 3
    wait_for(lambda: Run.objects.filter(pk__in=run_ids, status=RunStatus.SUCCEEDED).count() == 3, timeout=60)
    assert sorted(Run.objects.filter(pk__in=run_ids).values_list("attempts", flat=True)) == [1, 1, 2]
