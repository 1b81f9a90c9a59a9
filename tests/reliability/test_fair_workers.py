"""Two teams on one real worker process: one team's backlog, long run or hostile flow does not
starve the other, and a hostile run ends at a limit without taking the worker's memory or the
database with it. A running run is cancelled by an editor at its next step.

On the embedded default the worker is `manage.py worker` on SQLite; in the PostgreSQL + Redis pass
it is a Celery worker (solo pool).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from designer.activation import flow_activate
from designer.models import Run, RunStatus
from designer.runs import deliveries_accept
from tests.processes import wait_for
from tests.reliability.limits import compose, deliver, exploding_compose, for_each, nested_loops, webhook_flow
from tests.reliability.support import FINISHED, report

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

ITEMS = list(range(1000))


def database_bytes() -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
    name = Path(connection.settings_dict["NAME"])
    return sum(path.stat().st_size for path in (name, Path(f"{name}-wal")) if path.exists())


def peak_memory_bytes(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def team_a_webhook(team):
    flow = webhook_flow(team, [compose("step_1", "Hello {{trigger.body.name}}")], name="Team A webhook")
    return flow_activate(flow=flow)


def post_to(activation, name: str) -> None:
    url = reverse("webhook_webhook", args=[activation.pk, activation.secret])
    answer = Client().post(url, {"name": name}, content_type="application/json")
    assert answer.status_code == 200, answer.content


def seconds_to_finish(run: Run) -> float:
    return (run.finished_at - run.delivery.received_at).total_seconds()


def test_one_teams_backlog_of_200_runs_does_not_starve_another_teams_run(workers, team, other_team):
    slow = webhook_flow(other_team, [for_each("loop", "trigger.body.items", [compose("page", "{{loop.item}}")])],
                        name="Team B backlog")
    activation = team_a_webhook(team)
    worker = workers()
    with transaction.atomic():
        backlog = deliveries_accept([{"flow": slow, "version": slow.versions.first(), "event_id": f"b-{i}",
                                      "source": "test", "payload": {"body": {"items": ITEMS[:60]}}}
                                     for i in range(200)])
    wait_for(lambda: Run.objects.filter(flow=slow, status__in=FINISHED).exists(), timeout=60)
    post_to(activation, "Ada")
    run_a = wait_for(lambda: Run.objects.filter(flow=activation.flow, status__in=FINISHED).first(), timeout=30)
    assert run_a.status == RunStatus.SUCCEEDED, run_a.error
    b_waiting = Run.objects.filter(flow=slow, status=RunStatus.QUEUED).count()
    assert seconds_to_finish(run_a) < 3, seconds_to_finish(run_a)
    assert b_waiting > 100, "team B's backlog drained before team A's run was served"
    assert worker.alive
    report("team B's backlog of 200 runs, team A's one run, one worker",
           team_a_seconds=f"{seconds_to_finish(run_a):.2f}", team_b_still_queued=b_waiting, of=len(backlog))


def test_a_hostile_team_b_flow_beside_team_a_webhook_runs_on_one_worker(workers, team, other_team):
    loops = webhook_flow(other_team, nested_loops(3), name="Team B nested loops")
    explode = webhook_flow(other_team, exploding_compose(copies=40, levels=4), name="Team B exploding Compose")
    activation = team_a_webhook(team)
    worker = workers()
    before = database_bytes()
    hostile = [deliver(loops, {"items": ITEMS}, "loops"), deliver(explode, {}, "explode")]
    wait_for(lambda: Run.objects.filter(flow=loops, status=RunStatus.RUNNING).exists(), timeout=60)
    for index in range(4):
        post_to(activation, f"Ada {index}")
        time.sleep(1.5)
    wait_for(lambda: Run.objects.filter(flow=activation.flow, status__in=FINISHED).count() == 4, timeout=30)
    team_a = list(Run.objects.filter(flow=activation.flow).select_related("delivery"))
    assert [run.status for run in team_a] == [RunStatus.SUCCEEDED] * 4
    slowest = max(seconds_to_finish(run) for run in team_a)
    assert slowest < 5, slowest

    wait_for(lambda: all(Run.objects.get(pk=run.pk).status in FINISHED for run in hostile), timeout=180)
    loops_run, explode_run = (Run.objects.get(pk=run.pk) for run in hostile)
    assert loops_run.status == RunStatus.FAILED
    assert "(RUN_MAX_STEPS=5,000;" in loops_run.error
    assert explode_run.status == RunStatus.FAILED
    assert explode_run.error == ("“Compose” (c3) failed: The text would be more than 1 MB, over the limit of 1 MB "
                                 "for one output (the RUN_MAX_OUTPUT_BYTES setting).")
    memory = peak_memory_bytes(worker.process.pid)
    grown = database_bytes() - before
    assert memory < 300 * 1024 * 1024, memory
    assert grown < 50 * 1024 * 1024, grown
    report("hostile team B flows beside team A's webhook, one worker",
           team_a_slowest_seconds=f"{slowest:.2f}", loops_steps=loops_run.steps.count(),
           loops_gave_way=loops_run.yields, worker_peak_mb=f"{memory / 2**20:.0f}",
           database_growth_mb=f"{grown / 2**20:.1f}")


UNLIMITED = {"RUN_MAX_STEPS": "10000000", "RUN_MAX_LOOP_ITERATIONS": "10000000", "RUN_MAX_STORED_BYTES": "0"}


def test_a_long_run_of_one_team_gives_way_to_another_teams_run_and_then_goes_on(workers, team, other_team):
    long = webhook_flow(other_team, nested_loops(3), name="Team B long loops")
    activation = team_a_webhook(team)
    workers(**UNLIMITED)
    run_b = deliver(long, {"items": ITEMS})
    wait_for(lambda: Run.objects.get(pk=run_b.pk).steps.count() > 100, timeout=60)
    time.sleep(2)  # team B's run has held the worker for its slice (RUN_SLICE_SECONDS=2)
    post_to(activation, "Ada")
    run_a = wait_for(lambda: Run.objects.filter(flow=activation.flow, status__in=FINISHED).first(), timeout=30)
    assert run_a.status == RunStatus.SUCCEEDED, run_a.error
    assert seconds_to_finish(run_a) < 3, seconds_to_finish(run_a)
    steps = Run.objects.get(pk=run_b.pk).steps.count()
    wait_for(lambda: Run.objects.get(pk=run_b.pk).steps.count() > steps + 100, timeout=30)  # and B goes on
    run_b.refresh_from_db()
    assert run_b.status == RunStatus.RUNNING and run_b.yields >= 1 and run_b.attempts == 1
    assert run_b.trigger["body"]["items"] == ITEMS  # on the run's row once it gave way, if not before
    keys = list(run_b.steps.values_list("step_id", "iteration"))
    assert len(keys) == len(set(keys)), "a step was recorded twice"
    report("team B's long run gave way to team A's run", team_a_seconds=f"{seconds_to_finish(run_a):.2f}",
           team_b_gave_way=run_b.yields)


def test_an_editor_cancels_a_running_run_and_it_stops_at_its_next_step(workers, team, member):
    flow = webhook_flow(team, nested_loops(3), name="Long loops")
    workers(**UNLIMITED)
    run = deliver(flow, {"items": ITEMS})
    wait_for(lambda: Run.objects.get(pk=run.pk).steps.count() > 50, timeout=60)
    client = Client()
    client.force_login(member(Role.EDITOR))
    answer = client.post(reverse("api_run_cancel", args=[run.pk]))
    assert answer.status_code == 200 and answer.json()["status"] in ("running", "cancelled")
    asked = time.monotonic()
    wait_for(lambda: Run.objects.get(pk=run.pk).status in FINISHED + (RunStatus.CANCELLED,), timeout=10)
    seconds = time.monotonic() - asked
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED, run.error
    assert seconds < 3, seconds
    steps = run.steps.count()
    time.sleep(1)
    assert run.steps.count() == steps
    report("a running run cancelled", seconds=f"{seconds:.2f}", steps=steps)
