"""django-tasks-db's task rows on the runs' hot path, written as statements instead of built by
the ORM for every run: the webhook inbox stores a batch's tasks with one multi-row insert, and
the worker claims each task with one `UPDATE … RETURNING` (SQLite 3.35+, PostgreSQL), with the
run of an `execute_run` task claimed in the same transaction (`designer.engine.run_claim_with_task`),
and stores its success with one `UPDATE` in the transaction of its next claim (`ClaimedTask`).
While a worker is busy, that next claim is made in the transaction that ends its current run
(`designer.engine.run_finish_claims`): a run takes the database's write lock twice, at its start
with the run before's end, and before its first change to an outside system.

The rows are exactly those django-tasks-db writes and reads (`DBTaskResult`): its admin, its
`prune_db_task_results`, the scheduler's count of waiting tasks (`designer/runs.py`) and a stock
`db_worker` see no difference. What is left out is the `task_enqueued` signal of stored tasks,
which only logs at DEBUG. A task's row says it succeeded a moment after its run has ended (with
the worker's next claim, within `--interval` when the queue is empty); a worker killed in that
moment leaves it marked running, while its run, the record that counts, has ended.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

from django.db import DatabaseError, OperationalError, close_old_connections, connections, router, transaction
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.management.commands.db_worker import logger
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.compat import normalize_json
from django_tasks_db.utils import is_locked_database_exception, retry

from designer.rows import RowInsert

# The vendors whose UPDATE takes RETURNING and whose JSON a statement can append to.
APPEND_WORKER_ID = {
    "sqlite": "json_insert({column}, '$[#]', %s)",
    "postgresql": "{column} || jsonb_build_array(%s::text)",
}


def enqueue_many(task, calls: Iterable[tuple]) -> None:
    """Stores a task row for each tuple of arguments in `calls`, as `task.enqueue(*args)` would,
    with one insert. Inside the caller's transaction: the rows commit with it."""
    backend = task.get_backend()
    rows = _task_rows(task, backend)
    # The backend's id function (the model's default unless configured).
    rows.execute(((backend._get_id(), normalize_json({"args": list(args), "kwargs": {}})) for args in calls),
                 using=router.db_for_write(DBTaskResult))


_task_inserts: dict[tuple, RowInsert] = {}


def _task_rows(task, backend) -> RowInsert:
    """The insert of `task`'s rows: what varies is the id and the arguments."""
    # What django-tasks-db's pre_save sets when the task has no time to run after.
    run_after = task.run_after or get_date_max()
    key = (task.module_path, task.priority, task.queue_name, run_after, backend.alias)
    rows = _task_inserts.get(key)
    if rows is None:
        rows = _task_inserts[key] = RowInsert(
            DBTaskResult, ["id", "args_kwargs"], returning=None,
            fixed={"task_path": task.module_path, "priority": task.priority, "queue_name": task.queue_name,
                   "run_after": run_after, "backend_name": backend.alias},
        )
    return rows


class ClaimedTask(DBTaskResult):
    """A task row claimed by `Claim`. Its success is stored by a statement written once, where
    django-tasks-db's `save(update_fields=…)` builds the same UPDATE for every task; and it is
    stored in the transaction of the worker's next claim, so that a run's end costs the database's
    write lock one turn less. A failure is stored by django-tasks-db at once, as before.

    Its `Task` is found once per kind of row (path, priority, queue, backend) rather than imported
    and copied with `Task.using` each of the three times the worker asks for it: a `Task` cannot
    change, so every row of a kind can share one."""

    _claim: Claim | None = None

    class Meta:
        proxy = True
        app_label = "designer"

    @property
    def task(self):
        if self.run_after != get_date_max():  # a task to run later: its own time, not kept
            return super().task
        key = (self.task_path, self.priority, self.queue_name, self.backend_name)
        found = _tasks.get(key)
        if found is None:
            found = _tasks[key] = super().task
        return found

    def set_successful(self, return_value: Any) -> None:
        self.status = TaskResultStatus.SUCCESSFUL
        self.finished_at = timezone.now()
        self.return_value = return_value
        self.exception_class_path = self.traceback = ""
        if self._claim is not None:
            self._claim.succeeded.append(self)
        else:
            _store_successes(router.db_for_write(DBTaskResult), [self])


_tasks: dict[tuple, Any] = {}  # ClaimedTask.task's, by kind of row

_finish_sql: dict[str, str] = {}


@retry()  # as django-tasks-db's set_successful: a locked database is tried again
def _store_successes(using: str, tasks: list[ClaimedTask]) -> None:
    with transaction.atomic(using=using):
        _write_successes(connections[using], tasks)


def _write_successes(connection, tasks: list[ClaimedTask]) -> None:
    meta = DBTaskResult._meta
    qn = connection.ops.quote_name
    sql = _finish_sql.get(connection.vendor)
    if sql is None:
        sql = _finish_sql[connection.vendor] = (
            f"UPDATE {qn(meta.db_table)} SET {qn('status')} = %s, {qn('return_value')} = %s, "
            f"{qn('finished_at')} = %s, {qn('exception_class_path')} = '', {qn('traceback')} = '' "
            f"WHERE {qn('id')} = %s"
        )
    return_value = meta.get_field("return_value")
    with connection.cursor() as cursor:
        for task in tasks:
            cursor.execute(sql, [
                task.status,
                return_value.get_db_prep_save(task.return_value, connection),
                connection.ops.adapt_datetimefield_value(task.finished_at),
                meta.pk.get_db_prep_value(task.pk, connection),
            ])


class Claim:
    """Claims the next ready task of a worker's queues with one statement: the task row is marked
    running by this worker and returned, or None when no task is ready. The order is
    django-tasks-db's (priority, then run after, then enqueued)."""

    def __init__(self, *, backend_name: str, queue_names: list[str], excluded_queue_names: list[str],
                 worker_id: str) -> None:
        self.using = router.db_for_write(DBTaskResult)
        self.backend_name = backend_name
        self.worker_id = worker_id
        self.succeeded: list[ClaimedTask] = []  # stored with the next claim, or by settle()
        self.next: ClaimedTask | None = None  # claimed with the finish of the worker's last run (`ahead`)
        connection = connections[self.using]
        self.supported = connection.vendor in APPEND_WORKER_ID and (
            connection.vendor != "sqlite" or connection.Database.sqlite_version_info >= (3, 35))  # RETURNING
        meta = DBTaskResult._meta
        qn = connection.ops.quote_name
        self.fields = meta.concrete_fields
        self.converters = []
        for field in self.fields:
            column = field.get_col(meta.db_table)
            self.converters.append(
                (column, connection.ops.get_db_converters(column) + column.get_db_converters(connection))
            )
        conditions = [f"{qn('status')} = %s", f"{qn('backend_name')} = %s",
                      f"({qn('run_after')} = %s OR {qn('run_after')} <= %s)"]
        self.filter_params: list[Any] = []
        if "*" not in queue_names:
            conditions.append(f"{qn('queue_name')} IN ({', '.join(['%s'] * len(queue_names))})")
            self.filter_params += queue_names
        if excluded_queue_names:
            conditions.append(f"{qn('queue_name')} NOT IN ({', '.join(['%s'] * len(excluded_queue_names))})")
            self.filter_params += excluded_queue_names
        lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
        append = APPEND_WORKER_ID.get(connection.vendor, "").format(column=qn("worker_ids"))
        table = qn(meta.db_table)
        self.sql = (
            f"UPDATE {table} SET {qn('status')} = %s, {qn('started_at')} = %s, {qn('worker_ids')} = {append} "
            f"WHERE {qn('id')} = (SELECT {qn('id')} FROM {table} WHERE {' AND '.join(conditions)} "
            f"ORDER BY {qn('priority')} DESC, {qn('run_after')} ASC, {qn('enqueued_at')} ASC LIMIT 1{lock}) "
            f"RETURNING {', '.join(qn(field.column) for field in self.fields)}"
        )

    def __call__(self) -> DBTaskResult | None:
        # One turn of the write lock: the successes of the tasks run since the last claim, the
        # claim, and the claim of the run of an `execute_run` task (`run_claim_with_task`).
        with transaction.atomic(using=self.using):
            task = self._claim()
        self.succeeded = []
        return task

    def ahead(self) -> None:
        """The same claim, made in the transaction that ends the worker's current run
        (`designer.engine.run_finish_claims`): one turn of the write lock for a run's end and the
        next one's start. What it took is the worker's next task (`next`) once that transaction
        has committed; if it is rolled back, nothing was taken."""
        from designer.engine import run_claim_with_task

        stored = len(self.succeeded)
        # A claim that fails costs the finish nothing: the worker claims after it, as when idle.
        # On PostgreSQL within a savepoint, since an error there ends the transaction.
        try:
            with transaction.atomic(using=self.using) if connections[self.using].vendor != "sqlite" else nullcontext():
                task = self._claim()
        except DatabaseError:
            if connections[self.using].needs_rollback:  # the connection is gone, and the finish with it
                raise
            logger.exception("The next task could not be claimed with the finish of a run; the worker claims it.")
            run_claim_with_task(None)
            return

        def committed() -> None:
            del self.succeeded[:stored]
            self.next = task

        transaction.on_commit(committed, using=self.using)

    def _claim(self) -> ClaimedTask | None:
        from designer.engine import run_claim_with_task
        from designer.tasks import execute_run

        connection = connections[self.using]
        adapt = connection.ops.adapt_datetimefield_value
        now = timezone.now()
        params = [TaskResultStatus.RUNNING, adapt(now), self.worker_id,
                  TaskResultStatus.READY, self.backend_name, adapt(get_date_max()), adapt(now), *self.filter_params]
        task = None
        if self.succeeded:
            _write_successes(connection, self.succeeded)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if rows:
            values = []
            for value, (column, converters) in zip(rows[0], self.converters, strict=True):
                for converter in converters:
                    value = converter(value, column, connection)
                values.append(value)
            task = ClaimedTask.from_db(self.using, [field.attname for field in self.fields], values)
            task._claim = self
        arguments = task.args_kwargs.get("args") if task is not None else None
        run_id = (arguments[0] if task is not None and task.task_path == execute_run.module_path and arguments
                  and type(arguments[0]) is int else None)
        # A claim that fails is left to the task, which tries again and says why: on PostgreSQL
        # within a savepoint, so that the task's claim still commits.
        try:
            with transaction.atomic(using=self.using) if run_id and connection.vendor != "sqlite" else nullcontext():
                run_claim_with_task(run_id)
        except DatabaseError:
            if run_id is None:
                raise
            logger.exception("The run of task %s could not be claimed with it; the task claims it.", task.pk)
            run_claim_with_task(None)
        return task

    def settle(self) -> None:
        """Stores the successes still waiting for a claim (the worker is stopping)."""
        if self.succeeded:
            _store_successes(self.using, self.succeeded)
            self.succeeded = []


class Worker(DatabaseWorker):
    """django-tasks-db's worker (same options, signals, shutdown and task handling) whose loop
    claims a task with `Claim`'s one statement instead of a locked select and a save in an
    exclusive transaction, and stores the tasks' successes with its next claim (or as it stops).
    While it runs a task, the run that task ends claims the next task with its finish
    (`Claim.ahead`); a task so claimed is run before the worker stops. On a database without
    `Claim`'s statement, the stock loop runs."""

    _claim: Claim | None = None

    def run(self) -> None:
        claim = Claim(backend_name=self.backend_name, queue_names=self.queue_names,
                      excluded_queue_names=self.excluded_queue_names, worker_id=self.worker_id)
        if not claim.supported:
            return super().run()
        self._claim = claim
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        try:
            self._loop(claim)
        finally:  # also on a signal's SystemExit
            try:
                claim.settle()
            except Exception:
                logger.exception("The worker could not store the success of its last tasks; their runs ended.")

    def shutdown(self, signum, frame) -> None:
        if self.running and self._claim is not None and self._claim.next is not None:
            logger.warning("Received %s - shutting down gracefully after the task already claimed... "
                           "(press Ctrl+C again to force)", signal.strsignal(signum))
            self.running = False  # between two tasks: the one claimed with the last finish runs first
            return
        super().shutdown(signum, frame)

    def _loop(self, claim: Claim) -> None:
        from designer.engine import run_claim_with_task, run_finish_claims

        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311 - spreads workers started together
        while self.running or claim.next is not None:
            close_old_connections()
            task_result, locked = claim.next, False
            if task_result is None:
                try:
                    task_result = claim()
                except OperationalError as error:
                    if not is_locked_database_exception(error):
                        raise
                    locked = True  # it is free again soon
            if task_result is not None:
                claim.next = None
                # The finish of the run this task ends claims the next task, unless the worker stops after it.
                last = not self.running or (self.max_tasks is not None and self._run_tasks + 1 >= self.max_tasks)
                run_finish_claims(None if last else claim.ahead)
                try:
                    self.run_task(task_result)
                finally:
                    run_finish_claims(None)
                    if claim.next is None:
                        run_claim_with_task(None)  # a run claimed with a task that did not run it
            elif self.batch and not locked:
                logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                return None
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Run maximum tasks (%d) on worker=%s - exiting gracefully.", self._run_tasks, self.worker_id)
                return None
            if self.running and task_result is None:
                time.sleep(self.interval)
        return None
