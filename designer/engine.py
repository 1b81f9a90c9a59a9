"""The run engine: walks a pinned flow version for one event and records every step.

No HTTP or view code here. A run is claimed with a lease so that two workers never run it at
once, and a run whose worker died is claimed again after the lease ends; steps that already
succeeded are not repeated (their recorded outputs are reused), so a retried run never makes the
same Qualtrics change twice. A step is recorded as running before it first sends a change (a
POST); a resumed run that finds it so does not send it again, since Qualtrics may have applied
it, and fails with a message that says so.

When the database goes away mid-run (a dropped connection, a lock held past the timeout), the
run is not failed: the record of a step that changed Qualtrics is written again for a while,
and otherwise the run gives up its lease so the scheduler hands it to a worker again.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors import registry
from connectors.functions import evaluate_condition, iterate_list, render_template
from connectors.http import ConnectorError
from connectors.specs import CardInputError, RunContext
from designer import live
from designer.models import Run, RunStatus, RunStep

logger = logging.getLogger(__name__)

STEP_ATTEMPTS = 3
STEP_BACKOFF_SECONDS = 1.0
RESPONSE_404_RETRIES = (1.0, 2.0, 4.0)  # a response can 404 briefly right after its event
MAX_STORED_JSON = 32 * 1024
MAX_LOOP_ITEMS = 1000
LIVE_STEP_SECONDS = 0.25
DATABASE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)


class RunFailed(Exception):
    """Ends a run with a clear message."""


class _Stop(Exception):
    """Continue If said no: the run ends successfully, early."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.RUN_LEASE_SECONDS)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def cap(value: Any) -> Any:
    """Keeps stored step data bounded; large values are replaced by a preview."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
        value = text
    if len(text) <= MAX_STORED_JSON:
        return json.loads(text) if not isinstance(value, str) else value
    return {"_truncated": True, "size": len(text), "preview": text[:2000]}


@dataclass
class _Context:
    run: Run
    outputs: dict[str, Any] = field(default_factory=dict)
    done: dict[tuple[str, str], RunStep] = field(default_factory=dict)
    in_flight: dict[tuple[str, str], RunStep] = field(default_factory=dict)  # sent a change, outcome not recorded
    failed: dict[tuple[str, str], RunStep] = field(default_factory=dict)  # failed, but the run was not ended
    position: int = 0
    clients: dict[int, Any] = field(default_factory=dict)
    identities: dict[int, tuple] = field(default_factory=dict)
    touched: float = field(default_factory=time.monotonic)  # when the run row was last renewed

    def resolve(self, ref: str) -> Any:
        step_id, _, path = ref.partition(".")
        if step_id not in self.outputs:
            raise CardInputError(f"The output '{ref}' is not available: its card has not run.")
        value: Any = self.outputs[step_id]
        if path in value:
            return value[path]
        for part in path.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value

    def value(self, raw: Any) -> Any:
        if isinstance(raw, dict) and set(raw) == {"ref"}:
            return self.resolve(raw["ref"])
        return raw

    def client(self, configuration_id: int | None):
        from accounts.models import Configuration

        if configuration_id is None:
            raise RunFailed("This card has no configuration: choose one in the editor.")
        if configuration_id not in self.clients:
            configuration = Configuration.objects.filter(pk=configuration_id, team_id=self.run.team_id).first()
            if configuration is None:
                raise RunFailed("The configuration this card uses was deleted: choose another one in the editor.")
            self.clients[configuration_id] = _pooled_client(configuration)
            self.identities[configuration_id] = _identity(configuration)
        return self.clients[configuration_id]


# Clients (and so their pooled connections) outlive a run: a worker running one run after another
# for the same configuration reuses its connections instead of opening new ones for every run.
# A client is kept per thread, for one configuration as it is now (a changed token or data center
# makes a new one), and dropped after a short idle time.
CLIENT_IDLE_SECONDS = 30.0
CLIENTS_KEPT = 32
_clients = threading.local()


def _identity(configuration) -> tuple:
    return (configuration.pk, configuration.datacenter, bytes(configuration.api_token_encrypted or b""),
            settings.QUALTRICS_API_BASE)


# A survey's definition (questions and their types, for the New Response outputs) is read once
# per configuration and survey every few seconds instead of once per run: at many runs a second
# it was a third of the calls to Qualtrics. A survey edited meanwhile shows in runs after that.
SURVEY_CACHE_SECONDS = 10.0
SURVEYS_KEPT = 256
_surveys: dict[tuple, tuple[float, Any]] = {}


def _survey(identity: tuple, client, survey_id: str):
    key = (identity, survey_id)
    now = time.monotonic()
    kept = _surveys.get(key)
    if kept is not None and now - kept[0] < SURVEY_CACHE_SECONDS:
        return kept[1]
    try:
        survey = client.get_survey(survey_id)
    except ConnectorError:
        return None  # question labels are a nicety; the answers are in the record
    _surveys[key] = (now, survey)
    while len(_surveys) > SURVEYS_KEPT:
        _surveys.pop(next(iter(_surveys)), None)
    return survey


def _pooled_client(configuration):
    from connectors.qualtrics.client import QualtricsClient

    pool: dict[int, tuple[tuple, Any, float]] = getattr(_clients, "pool", None)
    if pool is None:
        pool = _clients.pool = {}
    identity = _identity(configuration)
    now = time.monotonic()
    kept = pool.pop(configuration.pk, None)
    if kept is not None and kept[0] == identity and now - kept[2] < CLIENT_IDLE_SECONDS:
        client = kept[1]
    else:
        if kept is not None:
            kept[1].close()
        client = QualtricsClient.for_configuration(configuration)
    pool[configuration.pk] = (identity, client, now)
    while len(pool) > CLIENTS_KEPT:
        pool.pop(next(iter(pool)))[1].close()
    return client


def run_claim(run_id: int) -> Run | None:
    """Takes the run if it is queued, or running under an expired lease (its worker died)."""
    now = timezone.now()
    with transaction.atomic():
        claimed = Run.objects.filter(pk=run_id).filter(
            Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING, lease_until__lt=now)
        ).update(status=RunStatus.RUNNING, lease_until=now + _lease(), attempts=F("attempts") + 1, started_at=now, updated_at=now)
    if not claimed:
        return None
    # Only what the run itself reads: its pinned version and its delivery. The flow (its name, for
    # live updates) is read when a live update is sent; building this query with the flow joined
    # and its definition deferred cost more than a millisecond per run.
    return Run.objects.select_related("version", "delivery").get(pk=run_id)


def run_execute(run_id: int) -> str | None:
    run = run_claim(run_id)
    if run is None:
        return None
    try:
        _execute(run)
    except (OperationalError, InterfaceError) as exc:
        if not _database_unavailable(exc):
            raise
        _interrupted(run, exc)
        return None
    return run.status


def _execute(run: Run) -> None:
    live.publish_run(run)
    ctx = _Context(run=run)
    if run.attempts > 1:  # an earlier attempt may have recorded steps
        steps = list(run.steps.all())
        ctx.done = {(s.step_id, s.iteration): s for s in steps if s.status == RunStatus.SUCCEEDED}
        ctx.in_flight = {(s.step_id, s.iteration): s for s in steps if s.status == RunStatus.RUNNING}
        ctx.failed = {(s.step_id, s.iteration): s for s in steps if s.status == RunStatus.FAILED}
        ctx.position = len(steps)
    definition = run.version.definition
    try:
        ctx.outputs["trigger"] = _trigger_outputs(ctx, definition.get("event") or {})
        _walk(ctx, definition.get("steps") or [], iteration="")
    except _Stop:
        _finish(run, RunStatus.STOPPED, "")
    except RunFailed as exc:
        _finish(run, RunStatus.FAILED, str(exc))
    except Exception as exc:  # a bug must fail the run visibly, not leave it running
        if _database_unavailable(exc):
            raise  # not a bug: the run goes on once the database is back
        logger.exception("Run %s crashed", run.pk)
        _finish(run, RunStatus.FAILED, f"Internal error: {type(exc).__name__}. The team has been notified in the logs.")
    else:
        _finish(run, RunStatus.SUCCEEDED, "")


def _database_unavailable(exc: BaseException) -> bool:
    """A lost connection, a database shut down or locked past its timeout, rather than a bug."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    # PostgreSQL: connection exception, rollback, insufficient resources, operator intervention.
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return sqlstate[:2] in ("08", "40", "53", "57") or any(
        word in str(exc).lower() for word in ("connection", "locked", "timeout")
    )


def _interrupted(run: Run, exc: Exception) -> None:
    """Gives up the run's lease so that the scheduler's stalled-run pass hands it out again soon."""
    logger.warning("Run %s was interrupted by the database and will be resumed: %s", run.pk, exc)
    try:
        if not connection.in_atomic_block:
            connection.close()  # the next query opens a new connection
        Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(lease_until=timezone.now())
    except DatabaseError:
        pass  # the lease runs out by itself


def _finish(run: Run, status: str, error: str) -> None:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.lease_until = None
    run.current_step, run.progress = "", None
    run.save(update_fields=["status", "error", "finished_at", "lease_until", "current_step", "progress", "updated_at"])
    live.publish_run(run)


def _trigger_outputs(ctx: _Context, event: dict) -> dict:
    run = ctx.run
    if run.trigger:
        return run.trigger
    card = registry.get(event.get("card", ""))
    response_id = run.delivery.response_id if run.delivery_id else ""
    survey_id = (event.get("options") or {}).get("survey_id") or (run.delivery.survey_id if run.delivery_id else "")
    if not response_id:
        raise RunFailed("This run has no response to work on.")
    client = ctx.client(event.get("configuration"))
    from connectors.qualtrics.errors import NotFoundError

    started = time.monotonic()
    record = None
    for attempt, delay in enumerate((*RESPONSE_404_RETRIES, None)):
        try:
            record = client.get_response(survey_id, response_id)
            break
        except NotFoundError as exc:
            if delay is None:
                raise RunFailed(f"Qualtrics has no response {response_id} in survey {survey_id}: {exc.message}") from exc
            _sleep(delay)
        except ConnectorError as exc:
            if not exc.retryable or delay is None:
                raise RunFailed(f"Could not read response {response_id} from Qualtrics: {exc.message}") from exc
            _sleep(delay)
    survey = None
    if card.dynamic_outputs is not None:
        survey = _survey(ctx.identities[event.get("configuration")], client, survey_id)
    outputs = card.event_outputs(record, survey) if card.event_outputs else dict(record or {})
    run.trigger = cap(outputs)
    _record(ctx, step_id="trigger", card=card, iteration="", status=RunStatus.SUCCEEDED,
            inputs={"response_id": response_id, "survey_id": survey_id}, outputs=outputs, error="",
            started=started, attempts=1, run_fields={"trigger": run.trigger})
    return outputs


def _walk(ctx: _Context, steps: list[dict], iteration: str) -> None:
    for step in steps:
        _step(ctx, step, iteration)


def _step(ctx: _Context, step: dict, iteration: str) -> None:
    step_id = step["id"]
    card = registry.get(step["card"])
    previous = ctx.done.get((step_id, iteration))
    if previous is not None and card.key not in ("core.for_each", "core.if_else"):
        ctx.outputs[step_id] = previous.outputs
        if card.key == "core.continue_if" and not previous.outputs.get("result"):
            raise _Stop()
        return
    failed = ctx.failed.get((step_id, iteration))
    if failed is not None:  # an earlier attempt failed here and was interrupted before it ended the run
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {failed.error}")
    started = time.monotonic()
    inputs: dict[str, Any] = {}
    try:
        for spec in card.inputs:
            raw = (step.get("inputs") or {}).get(spec.key, spec.default)
            inputs[spec.key] = ctx.value(raw)
    except CardInputError as exc:
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.FAILED, inputs=inputs,
                outputs={}, error=str(exc), started=started, attempts=1)
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {exc}") from exc

    if card.key == "core.if_else":
        result = evaluate_condition(inputs.get("left"), inputs.get("operator") or "equals", inputs.get("right"))
        ctx.outputs[step_id] = {"result": result}
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.SUCCEEDED, inputs=inputs,
                outputs={"result": result}, error="", started=started, attempts=1)
        _walk(ctx, step.get("then" if result else "else") or [], iteration)
        return
    if card.key == "core.for_each":
        try:
            items = iterate_list(inputs.get("list"))
        except CardInputError as exc:
            raise RunFailed(f"“{card.name}” ({step_id}) failed: {exc}") from exc
        if len(items) > MAX_LOOP_ITEMS:
            raise RunFailed(f"“{card.name}” ({step_id}) got {len(items)} items; at most {MAX_LOOP_ITEMS} are run.")
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.SUCCEEDED, inputs=inputs,
                outputs={"count": len(items)}, error="", started=started, attempts=1)
        for index, item in enumerate(items):
            ctx.outputs[step_id] = {"item": item, "index": index}
            _walk(ctx, step.get("steps") or [], f"{iteration}.{index}" if iteration else str(index))
        return

    _run_card(ctx, step, card, inputs, iteration, started)
    if card.key == "core.continue_if" and not ctx.outputs[step_id].get("result"):
        raise _Stop()


def _run_card(ctx: _Context, step: dict, card, inputs: dict, iteration: str, started: float) -> None:
    step_id = step["id"]
    run = ctx.run
    interrupted = ctx.in_flight.get((step_id, iteration))
    if interrupted is not None:
        error = ("It was sending a change to Qualtrics when this run was interrupted. Qualtrics may have applied "
                 "it, so it was not sent again: check Qualtrics, then re-run.")
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.FAILED, inputs=inputs,
                outputs={}, error=error, started=started, attempts=interrupted.attempts)
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {error}")

    def before_change(method: str, url: str) -> None:
        if (step_id, iteration) not in ctx.in_flight:
            ctx.position += 1
            ctx.in_flight[(step_id, iteration)] = RunStep.objects.create(
                run=run, position=ctx.position, step_id=step_id, card=card.key, name=card.name, iteration=iteration,
                status=RunStatus.RUNNING, inputs=cap(inputs), started_at=timezone.now(),
            )

    files_dir = Path(settings.MEDIA_ROOT) / "runs" / str(run.pk)
    attempts = 0
    error = ""
    while True:
        attempts += 1
        try:
            client = ctx.client(step.get("configuration")) if card.needs_configuration else None
            run_ctx = RunContext(client=client, files_dir=files_dir, resolve=ctx.resolve,
                                 on_progress=_progress_reporter(run, step_id))
            if any(output.type == "file" for output in card.outputs):
                files_dir.mkdir(parents=True, exist_ok=True)  # only cards that write files need it
            outputs = _call(card, client, run_ctx, step.get("options") or {}, inputs, before_change)
        except ConnectorError as exc:
            error = exc.message if hasattr(exc, "message") else str(exc)
            if exc.retryable and attempts < STEP_ATTEMPTS:
                _sleep(STEP_BACKOFF_SECONDS * (2 ** (attempts - 1)) * (0.5 + random.random()))
                continue
        except CardInputError as exc:
            error = str(exc)
        else:
            ctx.outputs[step_id] = outputs
            _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.SUCCEEDED, inputs=inputs,
                    outputs=outputs, error="", started=started, attempts=attempts)
            return
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.FAILED, inputs=inputs,
                outputs={}, error=error, started=started, attempts=attempts)
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {error}")


def _call(card, client, run_ctx: RunContext, options: dict, inputs: dict, before_change) -> dict:
    """Runs the card with `before_change` called before the client first sends a change."""
    if client is None:
        return card.run(run_ctx, options, inputs) or {}
    client.before_unsafe_send = before_change
    try:
        return card.run(run_ctx, options, inputs) or {}
    finally:
        client.before_unsafe_send = None


def _progress_reporter(run: Run, step_id: str):
    """Stores and publishes a long step's percent done (an export), at most twice a second."""
    last = [0.0]

    def report(percent: float) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and percent < 100:
            return
        last[0] = now
        run.current_step, run.progress = step_id, round(float(percent), 1)
        Run.objects.filter(pk=run.pk).update(current_step=step_id, progress=run.progress, updated_at=timezone.now())
        live.publish_run(run)

    return report


def _record(ctx: _Context, *, step_id, card, iteration, status, inputs, outputs, error, started, attempts,
            run_fields: dict | None = None) -> None:
    """Stores the step and renews the run's lease in one transaction (`run_fields` are saved with it)."""
    if (step_id, iteration) in ctx.done:  # recorded by an earlier attempt of this run
        if run_fields:
            Run.objects.filter(pk=ctx.run.pk).update(updated_at=timezone.now(), **run_fields)
        return
    marked = ctx.in_flight.pop((step_id, iteration), None)  # recorded as running when it sent a change
    if marked is None:
        ctx.position += 1
    now = timezone.now()
    step = RunStep(
        run=ctx.run, position=marked.position if marked else ctx.position, step_id=step_id, card=card.key,
        name=card.name, iteration=iteration, status=status,
        inputs=cap(inputs), outputs=cap(outputs), error=error[:4000], attempts=attempts,
        duration_ms=int((time.monotonic() - started) * 1000), started_at=marked.started_at if marked else now,
    )
    if marked is not None:
        step.pk = marked.pk
    # Every step is stored at once; the run row (lease, updated_at) and the live update follow at
    # most every LIVE_STEP_SECONDS, so quick steps cost one statement and pages still see progress.
    renew = bool(run_fields) or time.monotonic() - ctx.touched >= min(LIVE_STEP_SECONDS, _lease().total_seconds() / 4)

    def write() -> None:
        if not renew:
            step.save(force_update=marked is not None, force_insert=marked is None)
            return
        with transaction.atomic():
            step.save(force_update=marked is not None, force_insert=marked is None)
            Run.objects.filter(pk=ctx.run.pk).update(updated_at=now, lease_until=now + _lease(), **(run_fields or {}))

    if marked is not None:
        _retrying(write)  # Qualtrics has made the change: its record must survive a dropped connection
    else:
        write()
    if renew:
        ctx.touched = time.monotonic()
        live.publish_run(ctx.run)


def _retrying(write) -> None:
    """Runs `write`, and again after each loss of the database, for about 15 s in all."""
    for delay in (*DATABASE_RETRY_DELAYS, None):
        try:
            write()
            return
        except (OperationalError, InterfaceError) as exc:
            if delay is None or connection.in_atomic_block or not _database_unavailable(exc):
                raise
            logger.warning("Recording a step failed (%s); trying again in %g s", exc, delay)
            connection.close()
            _sleep(delay)
