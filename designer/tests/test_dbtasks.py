"""django-tasks-db's rows written and claimed by statements (`designer/dbtasks.py`): a batch's
tasks are the rows `enqueue` writes, a claim takes the next ready task in django-tasks-db's order
exactly once, and `manage.py worker` runs the runs it claims that way. On SQLite here and on
PostgreSQL in the scale-out pass (with the database task backend in both)."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from designer.dbtasks import Claim, enqueue_many
from designer.models import Run, RunStatus
from designer.runs import deliveries_accept
from designer.tasks import execute_run, poll_activation
from tests.reliability.limits import compose, webhook_flow

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "polls"]}}
    settings.SCHEDULER_IN_WORKERS = False


def claim(worker_id="w1", queues=("*",), excluded=()):
    return Claim(backend_name="default", queue_names=list(queues), excluded_queue_names=list(excluded),
                 worker_id=worker_id)


def test_a_batch_of_tasks_is_the_rows_enqueue_writes():
    execute_run.enqueue(41)
    enqueue_many(execute_run, [(42,), (43,)])
    fields = [f.attname for f in DBTaskResult._meta.concrete_fields if f.attname not in ("id", "enqueued_at", "args_kwargs")]
    rows = list(DBTaskResult.objects.order_by("args_kwargs__args__0").values("args_kwargs", "enqueued_at", *fields))
    assert [row.pop("args_kwargs") for row in rows] == [{"args": [n], "kwargs": {}} for n in (41, 42, 43)]
    assert all(row.pop("enqueued_at") is not None for row in rows)
    assert rows[0] == rows[1] == rows[2]
    assert rows[0]["status"] == TaskResultStatus.READY and rows[0]["run_after"] == get_date_max()
    # The worker's stock query finds them ready, as it finds enqueue's.
    assert DBTaskResult.objects.ready().count() == 3


def test_a_claim_takes_the_next_ready_task_in_order_and_marks_it_running():
    enqueue_many(execute_run, [(1,), (2,)])
    execute_run.using(priority=10).enqueue(3)
    execute_run.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(4)
    poll_activation.using(queue_name="polls").enqueue(5)
    DBTaskResult.objects.filter(args_kwargs__args__0=2).update(worker_ids=["earlier"])

    first = claim()
    order = [first().args_kwargs["args"][0] for _ in range(4)]
    assert order == [3, 1, 2, 5]  # priority first, then in the order enqueued; the deferred task waits
    assert first() is None

    taken = DBTaskResult.objects.get(args_kwargs__args__0=2)
    assert taken.status == TaskResultStatus.RUNNING and taken.worker_ids == ["earlier", "w1"]
    assert timezone.now() - taken.started_at < timedelta(seconds=30)
    # The instance returned is the row as the ORM reads it.
    DBTaskResult.objects.filter(args_kwargs__args__0=4).update(run_after=timezone.now() - timedelta(seconds=1))
    returned = first()
    stored = DBTaskResult.objects.get(pk=returned.pk)
    assert [getattr(returned, f.attname) for f in DBTaskResult._meta.concrete_fields] == [
        getattr(stored, f.attname) for f in DBTaskResult._meta.concrete_fields]
    assert returned.task_result.args == [4] and returned.task.name == "execute_run"


def test_claimed_rows_of_one_kind_share_their_task_and_a_deferred_one_keeps_its_time():
    enqueue_many(execute_run, [(1,), (2,)])
    execute_run.using(priority=10).enqueue(3)
    later = timezone.now() - timedelta(seconds=1)
    execute_run.using(run_after=later).enqueue(4)
    taking = claim()
    tasks = {task.args_kwargs["args"][0]: task for task in (taking() for _ in range(4))}
    assert tasks[1].task is tasks[2].task  # found once for the kind
    assert tasks[1].task == execute_run.using(backend="default")
    assert tasks[3].task.priority == 10 and tasks[3].task is not tasks[1].task
    assert tasks[4].task.run_after == later and tasks[4].task_result.args == [4]


def test_a_claim_keeps_to_the_worker_queues():
    poll_activation.using(queue_name="polls").enqueue(1)
    execute_run.enqueue(2)
    assert claim(queues=["polls"])().args_kwargs["args"] == [1]
    assert claim(queues=["polls"])() is None
    assert claim(queues=["*"], excluded=["default"])() is None
    assert claim(queues=["*"], excluded=["polls"])().args_kwargs["args"] == [2]


def test_claims_racing_from_two_connections_take_each_task_once():
    enqueue_many(execute_run, [(n,) for n in range(200)])
    taken: dict[str, list[int]] = {"a": [], "b": []}
    together = threading.Barrier(2)

    def drain(worker_id):
        try:
            take = claim(worker_id)
            together.wait(10)
            while (task := take()) is not None:
                taken[worker_id].append(task.args_kwargs["args"][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=drain, args=(worker_id,)) for worker_id in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken["a"] + taken["b"]) == list(range(200))
    assert DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count() == 200


def test_the_worker_command_runs_the_runs_it_claims(team):
    flow = webhook_flow(team, [compose("step_1", "Hello {{trigger.body.name}}")])
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}",
                                   "source": "webhook", "payload": {"body": {"name": f"n{i}"}, "event_id": f"e{i}"}} for i in range(3)])
    call_command("worker", queue_name="*", batch=True, startup_delay=False, worker_id="batch-1", interval=0)
    assert set(Run.objects.filter(pk__in=run_ids).values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    tasks = DBTaskResult.objects.filter(task_path=execute_run.module_path)
    assert [(t.status, t.worker_ids) for t in tasks] == [(TaskResultStatus.SUCCESSFUL, ["batch-1"])] * 3


def test_the_run_of_an_execute_run_task_is_claimed_in_the_same_write_as_the_task(team):
    """One turn of the database's write lock takes a task and the run it runs (as its own turn,
    while no other team waits), where the task's first statement used to take the run in a turn
    of its own: a worker's run costs one write transaction less."""
    flow = webhook_flow(team, [compose("step_1", "Hello {{trigger.body.name}}")])
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}",
                                      "source": "webhook", "payload": {"body": {"name": f"n{i}"}, "event_id": f"e{i}"}}
                                     for i in range(2)])
    # Each transaction or autocommit statement: what it claims.
    watch, turns = _write_turns(lambda written: [kind for kind in _kinds(written) if kind in ("task", "run")])
    with connection.execute_wrapper(watch):
        call_command("worker", queue_name="*", batch=True, startup_delay=False, worker_id="joined", interval=0)
    assert [(run.status, run.attempts) for run in Run.objects.filter(pk__in=run_ids)] == [(RunStatus.SUCCEEDED, 1)] * 2
    claims = [turn for turn in turns if "task" in turn or "run" in turn]
    assert claims[:2] == [["task", "run"], ["task", "run"]], claims
    assert ["run"] not in claims  # no run claimed in a turn of its own


def _write_turns(sql_of):
    """An execute wrapper and the list it fills: each transaction (SQLite: BEGIN to COMMIT) or
    autocommit statement, as the kinds of write `sql_of` finds in it."""
    from designer import engine

    turns: list[list[str]] = []
    blocks: list = [None]  # the outermost atomic block of the last statement (PostgreSQL sends no BEGIN)

    def watch(execute, sql, params, many, context):
        written = engine._sql().written_out(sql)
        kinds = [] if written.startswith("PREPARE ") else sql_of(written)
        conn = context["connection"]
        block = conn.atomic_blocks[0] if conn.in_atomic_block else None
        if sql.startswith("BEGIN") or block is None or block is not blocks[-1] or not turns:
            turns.append(kinds)
        else:
            turns[-1] += kinds
        blocks.append(block)
        return execute(sql, params, many, context)

    return watch, turns


def _kinds(written: str) -> list[str]:
    return [kind for kind, marker in (("finish", "finished_at = %s, lease_until = NULL"),
                                      ("success", 'SET "status" = %s, "return_value"'),
                                      ("task", 'SET "status" = %s, "started_at"'),
                                      ("run", "attempts = attempts + 1")) if marker in written]


def test_a_busy_worker_claims_its_next_task_and_run_with_the_finish_of_the_run_before(team):
    """While tasks wait, the write that ends a run also stores the success of the task before,
    claims the next task and its run: a run takes the write lock once at its start and end
    together, where the finish and the next claim were two turns."""
    flow = webhook_flow(team, [compose("step_1", "Hello {{trigger.body.name}}")])
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}",
                                      "source": "webhook", "payload": {"body": {"name": f"n{i}"}, "event_id": f"e{i}"}}
                                     for i in range(3)])
    watch, turns = _write_turns(_kinds)
    with connection.execute_wrapper(watch):
        call_command("worker", queue_name="*", batch=True, startup_delay=False, worker_id="ahead", interval=0)
    runs = Run.objects.filter(pk__in=run_ids).order_by("pk")
    assert [(run.status, run.attempts, run.steps.count()) for run in runs] == [(RunStatus.SUCCEEDED, 1, 2)] * 3
    written = [turn for turn in turns if turn]
    # The last finish's claim finds no task; the worker's claim after it stores the last success.
    assert written == [["task", "run"], ["finish", "task", "run"], ["finish", "success", "task", "run"],
                       ["finish", "success", "task"], ["success", "task"]], written
    tasks = DBTaskResult.objects.filter(task_path=execute_run.module_path)
    assert [(t.status, t.worker_ids) for t in tasks] == [(TaskResultStatus.SUCCESSFUL, ["ahead"])] * 3


def test_a_task_claimed_with_a_finish_that_is_rolled_back_is_not_taken(team):
    """The next claim is the worker's only once the finish that carries it has committed: a
    finish that fails leaves the next task ready for any worker, and nothing is lost."""
    from designer import engine
    from designer.dbtasks import Worker

    flow = webhook_flow(team, [compose("step_1", "Hi")])
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}",
                                      "source": "webhook", "payload": {"body": {}, "event_id": f"e{i}"}}
                                     for i in range(2)])
    taking = claim("rolled")
    with transaction.atomic():
        first = taking()
    assert engine.run_execute(first.args_kwargs["args"][0]) == RunStatus.SUCCEEDED
    try:
        with transaction.atomic():
            taking.ahead()
            raise RuntimeError("the finish failed")
    except RuntimeError:
        pass
    assert taking.next is None
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1
    assert Run.objects.get(pk=run_ids[1]).status == RunStatus.QUEUED
    engine.run_claim_with_task(None)
    worker = Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="rolled", excluded_queue_names=[])
    worker.run()
    assert set(Run.objects.filter(pk__in=run_ids).values_list("status", flat=True)) == {RunStatus.SUCCEEDED}


def test_a_claim_that_fails_in_a_run_s_finish_costs_the_finish_nothing(team, caplog):
    """The database refuses the claim made with the first run's finish (a trigger, while that
    run's task is not yet stored as successful): the finish still commits, the worker claims
    the next task after it, and both runs succeed once."""
    flow = webhook_flow(team, [compose("step_1", "Hi")])
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}",
                                      "source": "webhook", "payload": {"body": {}, "event_id": f"e{i}"}}
                                     for i in range(2)])
    tasks, runs = DBTaskResult._meta.db_table, Run._meta.db_table
    refused = (f"EXISTS (SELECT 1 FROM {runs} WHERE id = {run_ids[0]} AND status = 'succeeded') "
               f"AND EXISTS (SELECT 1 FROM {tasks} WHERE status = 'RUNNING')")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE FUNCTION refuse_claim() RETURNS trigger AS $$ BEGIN IF {refused} THEN "
                           f"RAISE EXCEPTION 'claim refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER refuse_claim BEFORE UPDATE OF started_at ON {tasks} "
                           f"FOR EACH ROW EXECUTE FUNCTION refuse_claim()")
        else:
            cursor.execute(f"CREATE TRIGGER refuse_claim BEFORE UPDATE OF started_at ON {tasks} WHEN {refused} "
                           f"BEGIN SELECT RAISE(ABORT, 'claim refused'); END")
    try:
        with caplog.at_level(logging.ERROR, logger="django_tasks_db"):
            call_command("worker", queue_name="*", batch=True, startup_delay=False, worker_id="refused", interval=0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER refuse_claim" + (f" ON {tasks}" if connection.vendor == "postgresql" else ""))
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION refuse_claim()")
    assert [(run.status, run.attempts) for run in Run.objects.filter(pk__in=run_ids).order_by("pk")] == [
        (RunStatus.SUCCEEDED, 1)] * 2
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {TaskResultStatus.SUCCESSFUL}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "The next task could not be claimed with the finish of a run; the worker claims it."]


def test_a_worker_told_to_stop_between_two_tasks_runs_the_one_its_last_finish_claimed(team):
    """A stop asked for between a run's finish (which claimed the next task) and that task's
    start waits for that task, so that no claimed run is left to wait for its lease."""
    import signal

    from designer.dbtasks import Worker

    flow = webhook_flow(team, [compose("step_1", "Hi")])
    with transaction.atomic():
        run_ids = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": f"e{i}",
                                      "source": "webhook", "payload": {"body": {}, "event_id": f"e{i}"}}
                                     for i in range(3)])
    worker = Worker(queue_names=["*"], interval=0, batch=False, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="stopping", excluded_queue_names=[])
    run_task = worker.run_task

    def stop_after_the_first(task_result):
        run_task(task_result)
        if worker._run_tasks == 1:
            assert worker._claim.next is not None  # claimed with the first run's finish
            worker.shutdown(signal.SIGTERM, None)  # between two tasks: no exit

    worker.run_task = stop_after_the_first
    worker.run()
    statuses = dict(Run.objects.filter(pk__in=run_ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in run_ids] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.QUEUED]
    assert DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count() == 0
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1


def test_a_task_whose_run_cannot_be_claimed_with_it_still_runs_and_the_run_waits_for_its_turn(team, other_team):
    """The run claimed with its task is the task's own turn only while no other team has queued
    runs; otherwise the task's fair pick decides, as for any turn, and nothing is lost."""
    flow = webhook_flow(team, [compose("step_1", "ours")])
    theirs = webhook_flow(other_team, [compose("step_1", "theirs")])
    with transaction.atomic():
        ours = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": "a",
                                   "source": "webhook", "payload": {"body": {}, "event_id": "a"}}])
        other = deliveries_accept([{"flow": theirs, "version": theirs.versions.first(), "event_id": "b",
                                    "source": "webhook", "payload": {"body": {}, "event_id": "b"}}])
    call_command("worker", queue_name="*", batch=True, startup_delay=False, worker_id="fair", interval=0)
    assert set(Run.objects.filter(pk__in=ours + other).values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    assert set(Run.objects.filter(pk__in=ours + other).values_list("attempts", flat=True)) == {1}


def test_a_worker_started_with_no_scheduler_runs_tasks_without_the_scheduler_thread(team, settings):
    settings.SCHEDULER_IN_WORKERS = True
    flow = webhook_flow(team, [compose("step_1", "Hi {{trigger.body.name}}")])
    with transaction.atomic():
        [run_id] = deliveries_accept([{"flow": flow, "version": flow.versions.first(), "event_id": "e1",
                                    "source": "webhook", "payload": {"body": {"name": "n"}, "event_id": "e1"}}])
    call_command("worker", queue_name="*", batch=True, startup_delay=False, interval=0, no_scheduler=True)
    assert Run.objects.get(pk=run_id).status == RunStatus.SUCCEEDED
    assert "scheduler" not in {thread.name for thread in threading.enumerate()}


def test_a_claimed_task_s_success_is_the_row_django_tasks_db_writes(team):
    execute_run.enqueue(0)  # no such run: the task succeeds without doing anything
    stock = DBTaskResult.objects.get()
    stock.set_successful({"n": 1})
    execute_run.enqueue(0)
    claiming = claim()
    task = claiming()
    assert type(task).__name__ == "ClaimedTask"
    task.set_successful({"n": 1})
    assert DBTaskResult.objects.get(pk=task.pk).status == TaskResultStatus.RUNNING  # until the next claim
    execute_run.enqueue(0)
    with CaptureQueriesContext(connection) as seen:
        assert claiming() is not None
    task_updates = [q for q in seen.captured_queries if q["sql"].startswith('UPDATE "django_tasks_database_dbtaskresult"')]
    assert len(task_updates) == 2  # in one transaction
    ours = DBTaskResult.objects.get(pk=task.pk)
    stock.refresh_from_db()
    fields = ("status", "return_value", "exception_class_path", "traceback", "worker_ids")
    assert [getattr(ours, f) for f in fields] == [getattr(stock, f) for f in fields[:-1]] + [["w1"]]
    assert ours.status == TaskResultStatus.SUCCESSFUL and ours.finished_at >= ours.started_at


def test_the_worker_logs_a_task_s_start_and_success_only_when_verbose(team, caplog):
    def run_one(verbosity):
        execute_run.enqueue(0)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="django.tasks"):
            call_command("worker", queue_name="*", batch=True, startup_delay=False, interval=0, verbosity=verbosity)
        return [r for r in caplog.records if r.name == "django.tasks"]

    assert run_one(1) == []
    assert {r.levelname for r in run_one(2)} == {"INFO"}


def test_a_stopping_worker_stores_the_success_of_its_last_task(team):
    execute_run.enqueue(0)
    call_command("worker", queue_name="*", startup_delay=False, interval=0, max_tasks=1, worker_id="last-1")
    [task] = DBTaskResult.objects.all()
    assert (task.status, task.worker_ids) == (TaskResultStatus.SUCCESSFUL, ["last-1"])
