"""Creating runs: from deliveries, tests and re-runs; enqueued after the transaction commits.

Imports go one way: polling and webhooks use this module, this module enqueues `designer.tasks`,
and the tasks import what they run (the engine, polling) only when they run it."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.module_loading import import_string

from connectors.http import ConnectorError
from connectors.specs import DeliveryRefused
from designer.dbtasks import enqueue_many
from designer.models import (
    EVENT_SOURCES,
    Activation,
    Delivery,
    DeliverySource,
    Flow,
    FlowVersion,
    Run,
    RunStatus,
    StepResolution,
)
from designer.rows import RowInsert
from designer.tasks import execute_run, execute_runs
from designer.triggers import TriggerError, connection_client, event_ready, trigger_context

logger = logging.getLogger(__name__)

# The header of an `execute_runs` message that says how many runs' turns it carries.
TURNS_HEADER = "qflows_turns"


class RunRequestError(Exception):
    """A run that cannot be started; the message says why."""


def _enqueue(run_id: int) -> None:
    if _stored_in_this_database(execute_run):
        # The task is a row next to the run: one commit stores both, and no worker sees the
        # task before the run exists.
        execute_run.enqueue(run_id)
        return
    later = getattr(_later, "runs", None)
    if later is not None:
        transaction.on_commit(lambda: later.append(run_id))
    else:
        transaction.on_commit(lambda: _hand_over(run_id))


def _enqueue_all(run_ids: list[int]) -> None:
    """`_enqueue` for many runs: where tasks are rows of this database, one insert stores them all."""
    if _stored_in_this_database(execute_run):
        enqueue_many(execute_run, [(run_id,) for run_id in run_ids])
    else:
        for run_id in run_ids:
            _enqueue(run_id)


# Runs committed on this thread while `hand_over_later` is on, to be handed over by its caller.
_later = threading.local()


def hand_over_later() -> None:
    """Until `hand_over_now`, runs this thread commits are kept for it instead of being handed to
    the task queue (Celery) at each commit, so that the webhook inbox answers the deliveries it
    stored before it sends their tasks: a hand-over is a broker round trip per run. A run whose
    hand-over does not happen (the process ends first, the broker refuses) stays queued, and the
    scheduler hands it over (`runs_requeue_stalled`). No effect where tasks are rows of this
    database: they are stored with their runs."""
    if getattr(_later, "runs", None) is None:
        _later.runs = []


def hand_over_now() -> None:
    """Hands over the runs kept since `hand_over_later`, and stops keeping them: on Celery with one
    producer and one pipeline of Redis commands for them all (`_hand_over_batch`)."""
    runs, _later.runs = getattr(_later, "runs", None) or [], None
    if runs and _hand_over_batch(runs):
        return
    for run_id in runs:
        _hand_over(run_id)


_declared = False  # whether this process has declared the task queue (`_hand_over_batch`)


def _groups(run_ids: list[int], per_task: int, at_least: int = 1) -> list[list[int]]:
    """`run_ids` in order, cut into as few groups of at most `per_task` as can be, but no fewer
    than `at_least` (while there are runs for them), of sizes that differ by one at most (7 runs
    at 4 a task: 4 and 3, not 4, 2 and 1)."""
    count = max(-(-len(run_ids) // max(1, per_task)), min(len(run_ids), at_least))
    size, larger = divmod(len(run_ids), count) if count else (0, 0)
    groups, start = [], 0
    for index in range(count):
        end = start + size + (index < larger)
        groups.append(run_ids[start:end])
        start = end
    return groups


def _hand_over_batch(run_ids: list[int]) -> bool:
    """Sends the runs' tasks to Celery in one batch of its producer (kombu's `Producer.batch`: one
    Redis pipeline instead of a connection checkout and a round trip per task). False where the
    queue is not Celery. If the broker refuses, the runs not sent stay queued and the scheduler
    hands them over later, as in `_hand_over`.

    Up to RUNS_PER_TASK runs go in one `execute_runs` task, whose message says in a header how
    many turns it carries (`_tasks_waiting` counts them): a worker takes, starts and finishes one
    message for them, and the inbox sends fewer. A batch makes at least as many tasks as a worker
    has threads (`worker_concurrency`), so that runs an idle worker could run side by side (each
    waiting on its calls) do not wait for each other in one task.

    The task queue is declared with the first batch a process sends; kombu would otherwise copy
    and bind the queue for every message only to find it declared. The task's arguments are shown
    as written here rather than through Celery's safe repr."""
    global _declared
    app = _celery_app()
    if app is None:
        return False
    try:
        declare = [] if _declared else None
        with app.producer_or_acquire() as producer, producer.batch():
            for group in _groups(run_ids, settings.RUNS_PER_TASK, app.conf.worker_concurrency or 1):
                app.send_task(execute_runs.module_path, args=[group], producer=producer, ignore_result=True,
                              declare=declare, argsrepr=f"[{group}]", kwargsrepr="{}",
                              headers={TURNS_HEADER: len(group)})
        _declared = True
    except Exception:
        logger.exception("Runs %s are stored, but the task queue refused them; the scheduler sends them again "
                         "within a minute.", ", ".join(map(str, run_ids)))
    return True


def _celery_app():
    """The Celery app of the task queue, or None where the queue is not Celery."""
    backend = execute_run.get_backend()
    if type(backend).__name__ != "CeleryBackend":
        return None
    return import_string(backend.options.get("CELERY_APP") or "celery.current_app")


def _hand_over(run_id: int) -> None:
    """Sends a stored run to the workers (Celery). If the broker refuses, the run stays queued and
    the scheduler hands it over later: the delivery that made it is answered as stored."""
    try:
        execute_run.enqueue(run_id)
    except Exception:
        logger.exception("Run %s is stored, but the task queue refused it; the scheduler sends it again "
                         "within a minute.", run_id)


def _stored_in_this_database(task) -> bool:
    try:
        from django_tasks_db import DatabaseBackend
    except ImportError:  # pragma: no cover - installed with the product
        return False
    return isinstance(task.get_backend(), DatabaseBackend)


def run_create(*, flow: Flow, version: FlowVersion, delivery: Delivery | None, rerun_of: Run | None = None) -> Run:
    run = Run.objects.create(flow=flow, team_id=flow.team_id, version=version, delivery=delivery, rerun_of=rerun_of)
    _enqueue(run.pk)
    return run


def pinned_versions(activation_ids) -> dict[int, int]:
    """{activation id: the id of the version it runs}, read with the activations' rows locked (in
    id order) inside the caller's transaction: storing a delivery and Publish's switch of the
    version are serialized, so each delivery runs on exactly the version that was live when it was
    stored."""
    rows = (Activation.objects.select_for_update().filter(pk__in=sorted(activation_ids), version__isnull=False)
            .order_by("pk").values_list("pk", "version_id"))
    return dict(rows)


def delivery_accept(*, flow: Flow, version: FlowVersion | None = None, event_id: str, source: str,
                    topic: str = "", payload: dict | None = None, activation_id: int | None = None,
                    version_id: int | None = None) -> Run | None:
    """Stores an event once per (flow, event id) and starts its run on `version` (or the version
    of id `version_id`); None for a duplicate. With `activation_id`, the run gets the version that
    activation runs when the event is stored."""
    if version_id is None and version is not None:
        version_id = version.pk
    try:
        with transaction.atomic():
            if activation_id is not None:
                version_id = pinned_versions([activation_id]).get(activation_id, version_id)
            delivery = Delivery.objects.create(
                flow=flow, event_id=event_id, source=source, topic=topic, payload=payload or {}
            )
            run = Run.objects.create(flow=flow, team_id=flow.team_id, version_id=version_id, delivery=delivery)
            _enqueue(run.pk)
            return run
    except IntegrityError:
        return None


def _event_source_condition() -> RawSQL:
    """`source IN ('webhook', 'poll', 'schedule')` with the values written into the statement, as in
    the condition of the partial unique index `one_delivery_per_event`. SQLite uses a partial index
    only for a statement that states its condition with the same constants: with the values bound
    as parameters, the duplicate check searched all the flow's stored deliveries by `flow_id`, in
    the inbox's write transaction, longer as the flow's history grew."""
    values = [str(source) for source in EVENT_SOURCES]
    assert all(value.isalnum() for value in values)  # fixed choices, written as literals
    column = f"{connection.ops.quote_name(Delivery._meta.db_table)}.{connection.ops.quote_name('source')}"
    literals = ", ".join(f"'{value}'" for value in values)
    return RawSQL(f"{column} IN ({literals})", (), output_field=BooleanField())


_DELIVERY_ROWS = RowInsert(Delivery, ["flow_id", "event_id", "source", "topic", "payload"])
_RUN_ROWS = RowInsert(Run, ["flow_id", "team_id", "version_id", "delivery_id"])


def _version_id(item: dict) -> int | None:
    if "version_id" in item:
        return item["version_id"]
    return item["version"].pk if item.get("version") else None


def deliveries_accept(items: list[dict]) -> list[int | None]:
    """`delivery_accept` for many events at once (each a dict of its arguments, the version given
    as `version` or `version_id`), inside the caller's transaction: the ones already stored (or
    repeated in `items`) give None, the others are stored with two multi-row inserts and their
    runs enqueued, and give their run's id. Should another process store one of them meanwhile,
    they are stored one at a time instead."""
    once = EVENT_SOURCES
    keys = {(item["flow"].pk, item["event_id"]) for item in items if item["source"] in once}
    stored = set()
    if keys:
        stored = set(
            Delivery.objects.filter(
                _event_source_condition(), flow_id__in={flow_id for flow_id, _ in keys},
                event_id__in={eid for _, eid in keys},
            ).order_by().values_list("flow_id", "event_id")
        )
    fresh: list[int] = []
    results: list[int | None] = [None] * len(items)
    for index, item in enumerate(items):
        key = (item["flow"].pk, item["event_id"])
        if item["source"] in once:
            if key in stored:
                continue
            stored.add(key)
        fresh.append(index)
    if not fresh:
        return results
    picked = [items[i] for i in fresh]
    try:
        with transaction.atomic():
            delivery_ids = _DELIVERY_ROWS.execute(
                (item["flow"].pk, item["event_id"], item["source"], item.get("topic", ""), item.get("payload") or {})
                for item in picked)
            run_ids = _RUN_ROWS.execute(
                (item["flow"].pk, item["flow"].team_id, _version_id(item), delivery_id)
                for item, delivery_id in zip(picked, delivery_ids, strict=True))
    except IntegrityError:
        alone = (delivery_accept(flow=item["flow"], version_id=_version_id(item), event_id=item["event_id"],
                                 source=item["source"], topic=item.get("topic", ""), payload=item.get("payload"))
                 for item in items)
        return [run.pk if run else None for run in alone]
    _enqueue_all(run_ids)
    for i, run_id in zip(fresh, run_ids, strict=True):
        results[i] = run_id
    return results


class RerunRefused(ValueError):
    """The run cannot be run again; the message says why."""


def rerunnable(runs):
    """The runs of a selection that can run again: step tests left out."""
    from designer.engine import STEP_TEST_EVENT_PREFIX

    return runs.exclude(version__isnull=True).exclude(delivery__event_id__startswith=STEP_TEST_EVENT_PREFIX)


def run_rerunnable(run: Run) -> bool:
    """Whether `run` can run again (as `rerunnable` selects): not a step test."""
    from designer.engine import STEP_TEST_EVENT_PREFIX

    return run.version_id is not None and not (
        run.delivery_id and run.delivery.event_id.startswith(STEP_TEST_EVENT_PREFIX))


def run_rerun(*, run: Run, use_current: bool = False) -> Run:
    """A new run of the same event, on the run's own version or the live one. A step test is not a
    run of the flow's event: it is tested again from the editor instead."""
    if not run_rerunnable(run):
        raise RerunRefused(f"Run #{run.pk} is a step test: test the step again in the editor instead.")
    version = run.version
    if use_current:  # the published version, never the draft
        version = run.flow.live_version or run.flow.versions.first() or version
    with transaction.atomic():
        delivery = None
        if run.delivery_id:
            old = run.delivery
            delivery = Delivery.objects.create(flow=run.flow, event_id=old.event_id, source=DeliverySource.RERUN,
                                               topic=old.topic, payload=old.payload)
        return run_create(flow=run.flow, version=version, delivery=delivery, rerun_of=run)


OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.ATTENTION)


def runs_rerun_many(*, runs, use_current: bool = False) -> tuple[list[Run], list[Run]]:
    """Re-runs each of `runs` that can be re-run; answers the new runs and the step tests left out."""
    created, left_out = [], []
    for run in runs:
        if run_rerunnable(run):
            created.append(run_rerun(run=run, use_current=use_current))
        else:
            left_out.append(run)
    return created, left_out


def runs_cancel_many(*, runs) -> tuple[list[Run], list[Run]]:
    """Cancels each of `runs` that has not ended (see run_cancel); answers those asked to stop and
    those that had already ended, left as they are."""
    cancelled, ended = [], []
    for run in runs:
        if run.status in OPEN_STATUSES:
            cancelled.append(run_cancel(run=run))
        else:
            ended.append(run)
    return cancelled, ended


def run_cancel(*, run: Run) -> Run:
    """Cancels a run that has not ended: a queued run (or one whose worker died) at once, a running
    run at its next step (its worker's heartbeat reads the request within a second). A change a
    step is sending meanwhile is not called back. An ended run is left as it is."""
    now = timezone.now()
    ended = "Cancelled at a person's request before the run ended."
    # No worker holds a queued, waiting or attention run (nor a running one whose lease ran out).
    at_once = Q(status__in=[RunStatus.QUEUED, RunStatus.WAITING, RunStatus.ATTENTION]) | Q(
        status=RunStatus.RUNNING, lease_until__lt=now
    )
    if Run.objects.filter(at_once, pk=run.pk).update(
        status=RunStatus.CANCELLED, error=ended, finished_at=now, lease_until=None, current_step="", progress=None,
        cancel_requested_at=now, updated_at=now, resume_at=None,
    ):
        run.refresh_from_db()
        from designer import live

        live.publish_run(run)
        return run
    Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now
    )
    run.refresh_from_db()
    return run


def flow_test(*, flow: Flow, event_id: str) -> Run:
    """Runs the published flow once on an event its trigger names by id (a response of the
    survey). A draft never runs: it is published first, after validation."""
    version = flow.live_version
    if version is None:
        raise RunRequestError("Publish the flow before testing it: a draft does not run.")
    event_id = (event_id or "").strip()
    if not event_id:
        raise RunRequestError("Choose an event to test with.")
    event, client, ctx = _trigger_for(flow, version.definition)
    try:
        found = event.trigger.event(ctx, event_id)
    except DeliveryRefused as exc:
        raise RunRequestError(exc.message) from None
    except ConnectorError as exc:
        raise RunRequestError(f"Could not read that event: {exc.message}") from exc
    finally:
        _close(client)
    with transaction.atomic():
        delivery = Delivery.objects.create(flow=flow, event_id=found.id, source=DeliverySource.TEST,
                                           topic=found.topic, payload=dict(found.data))
        return run_create(flow=flow, version=version, delivery=delivery)


def _trigger_for(flow: Flow, definition: dict):
    """The flow's event, a client for its connection (None without one) and a TriggerContext."""
    try:
        event, configuration = event_ready(flow, definition)
    except TriggerError as exc:
        raise RunRequestError(str(exc)) from None
    client = connection_client(configuration) if configuration else None
    probe = Activation(flow=flow, trigger=event.card.key, options=event.options, activated_at=timezone.now())
    return event, client, trigger_context(probe, client=client)


def _close(client) -> None:
    if client is not None and hasattr(client, "close"):
        client.close()


def flow_recent_events(*, flow: Flow, limit: int = 20) -> list[dict]:
    """Recent events of the flow's trigger (the latest responses of its survey, say), newest
    first, for the editor's Test button: `[{"id", "label", "data", ...}]`. They are read through
    the draft's event card only once that card has no problems (a draft is stored with them)."""
    trigger_problems = [p for p in flow.draft_problems or [] if isinstance(p, dict) and p.get("step") == "trigger"]
    if trigger_problems:
        raise RunRequestError(f"Fix the event card first: {trigger_problems[0].get('message', '')}")
    event, client, ctx = _trigger_for(flow, flow.definition)
    try:
        items = event.trigger.recent(ctx, limit)
    except ConnectorError as exc:
        raise RunRequestError(f"Could not list recent events: {exc.message}") from exc
    finally:
        _close(client)
    return items[:limit]


def runs_requeue_stalled(*, older_than: timedelta = timedelta(seconds=60)) -> int:
    """Hands over again the runs that no worker holds and no waiting task will take up: running
    past their lease (their worker died), or queued for `older_than` without a task.

    A task is a turn on a worker, not a particular run (designer/engine.py `_fair_pick`), and every
    queued run was handed over with one. A backlog of N queued runs with N tasks waiting is healthy
    however long its oldest run has waited: handing those runs over again only added task rows (or
    Redis messages) for the workers to go through. So only as many runs as the queue lacks tasks
    for are handed over, the oldest first: a hand-over the broker refused, a task lost with a
    worker or the queue. Where the queue cannot be counted, every run queued longer than
    `older_than` is handed over."""
    now = timezone.now()
    expired = list(Run.objects.filter(status=RunStatus.RUNNING, lease_until__lt=now).values_list("pk", flat=True)[:500])
    queued = list(
        Run.objects.filter(status=RunStatus.QUEUED, updated_at__lt=now - older_than).order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    if queued:
        waiting = _tasks_waiting()
        if waiting is not None:
            untaken = Run.objects.filter(status=RunStatus.QUEUED).count() - waiting
            queued = queued[:max(0, untaken)]
    stalled = expired + queued
    for run_id in stalled:
        Run.objects.filter(pk=run_id).update(updated_at=now)
        execute_run.enqueue(run_id)
    return len(stalled)


def _tasks_waiting() -> int | None:
    """How many runs' turns wait in the queue for a worker: ready `execute_run` rows of
    django-tasks-db, or the turns of the messages in Celery's queue (`_turns_on_redis`). None when
    the queue cannot say (another backend, the broker unreachable). On Celery the tasks a worker
    has taken but not started are not counted, nor told from other tasks of the queue (polls): a
    round may hand over a few runs more than needed, which the claim runs once."""
    backend = execute_run.get_backend()
    if _stored_in_this_database(execute_run):
        from django_tasks_db.models import DBTaskResult

        return (DBTaskResult.objects.ready().filter(task_path=execute_run.module_path, backend_name=backend.alias)
                .order_by().count())
    try:
        app = _celery_app()
        if app is None:
            return None
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            try:
                count = channel.queue_declare(queue=app.conf.task_default_queue, passive=True).message_count
            except conn.channel_errors:
                return 0  # the queue does not exist: an empty list on Redis
            if not count or not hasattr(channel, "_q_for_pri"):  # another broker: a turn a message
                return count
            return _turns_on_redis(channel, app.conf.task_default_queue)
    except Exception:
        logger.warning("Could not count the tasks waiting in the queue; queued runs are handed over by age.",
                       exc_info=True)
        return None


def _turns_on_redis(channel, queue: str, chunk: int = 1000) -> int:
    """The runs' turns waiting in a Celery queue on Redis: one per message, or as many as an
    `execute_runs` message's header says. Read in chunks of the queue's lists (one per priority);
    messages taken meanwhile may be missed or read twice. The lists are named as kombu's `_size`
    names them."""
    turns = 0
    for priority in channel.priority_steps:
        name = channel._q_for_pri(queue, priority)
        start = 0
        while messages := channel.client.lrange(name, start, start + chunk - 1):
            for message in messages:
                try:
                    turns += int(json.loads(message)["headers"].get(TURNS_HEADER, 1))
                except (ValueError, KeyError, TypeError, AttributeError):
                    turns += 1
            start += chunk
    return turns


def run_enqueue_at(run_id: int, when) -> None:
    """Hands a waiting run to the task queue to run at `when`, where the queue can defer tasks;
    the scheduler's tick (`runs_resume_waiting`) takes it up otherwise, and if this is lost."""
    try:
        if execute_run.get_backend().supports_defer:
            execute_run.using(run_after=when).enqueue(run_id)
    except Exception:
        logger.warning("Run %s waits until %s; the scheduler takes it up then.", run_id, when, exc_info=True)


def runs_resume_waiting(*, now=None) -> int:
    """Enqueues the waiting runs whose time has come. Each is claimed with a conditional update
    (waiting → queued), so several schedulers ticking at once enqueue it once."""
    now = now or timezone.now()
    due = list(
        Run.objects.filter(status=RunStatus.WAITING, resume_at__lte=now).order_by("resume_at")
        .values_list("pk", flat=True)[:500]
    )
    resumed = 0
    for run_id in due:
        if Run.objects.filter(pk=run_id, status=RunStatus.WAITING, resume_at__lte=now).update(
            status=RunStatus.QUEUED, updated_at=now
        ):
            _hand_over(run_id)
            resumed += 1
    return resumed


def run_resume(*, run: Run, user, resend: bool) -> Run:
    """A person's answer to a run that needs attention, whose step may have been applied.

    Without `resend` the step is taken as done with no outputs ("resumed without resending") and
    the run goes on after it; with `resend` its change is sent once more. Either way who chose and
    when is kept on the step, and the run is queued again."""
    now = timezone.now()
    with transaction.atomic():
        locked = Run.objects.select_for_update().filter(pk=run.pk).first()
        if locked is None or locked.status != RunStatus.ATTENTION:
            raise RunRequestError("This run does not need attention: only a run stopped at a step that may have "
                                  "been applied can be resumed.")
        step = locked.steps.filter(status=RunStatus.ATTENTION).order_by("-position").first()
        if step is None:
            raise RunRequestError("This run has no step waiting for a decision.")
        step.resolution = StepResolution.RESENT if resend else StepResolution.SKIPPED
        step.resolved_by, step.resolved_at = user, now
        if resend:
            step.status = RunStatus.QUEUED  # the engine sends it again, once, reusing this record
        else:
            step.status, step.outputs = RunStatus.SUCCEEDED, {}
        step.save(update_fields=["status", "outputs", "resolution", "resolved_by", "resolved_at"])
        # The time it spent waiting for a person does not count towards RUN_MAX_SECONDS: it starts again.
        Run.objects.filter(pk=locked.pk).update(status=RunStatus.QUEUED, error="", updated_at=now, started_at=None,
                                                attempts=F("attempts") - 1)
        _enqueue(locked.pk)
    locked.refresh_from_db()
    return locked

