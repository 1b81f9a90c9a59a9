"""Creating runs: from deliveries, tests and re-runs; enqueued after the transaction commits."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from designer.models import Delivery, DeliverySource, Flow, FlowVersion, Run, RunStatus

logger = logging.getLogger(__name__)


class RunRequestError(Exception):
    """A run that cannot be started; the message says why."""


def _enqueue(run_id: int) -> None:
    from designer.tasks import execute_run

    if _stored_in_this_database(execute_run):
        # The task is a row next to the run: one commit stores both, and no worker sees the
        # task before the run exists.
        execute_run.enqueue(run_id)
    else:
        transaction.on_commit(lambda: _hand_over(run_id))


def _hand_over(run_id: int) -> None:
    """Sends a stored run to the workers (Celery). If the broker refuses, the run stays queued and
    the scheduler hands it over later: the delivery that made it is answered as stored."""
    from designer.tasks import execute_run

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


def delivery_accept(*, flow: Flow, version: FlowVersion, response_id: str, survey_id: str, source: str,
                    topic: str = "", payload: dict | None = None) -> Run | None:
    """Stores an event once per (flow, response) and starts its run; None for a duplicate."""
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                flow=flow, response_id=response_id, survey_id=survey_id, source=source, topic=topic, payload=payload or {}
            )
            return run_create(flow=flow, version=version, delivery=delivery)
    except IntegrityError:
        return None


def deliveries_accept(items: list[dict]) -> list[Run | None]:
    """`delivery_accept` for many events at once (each a dict of its arguments), inside the
    caller's transaction: the ones already stored (or repeated in `items`) give None, the others
    are stored with two multi-row inserts and their runs enqueued. Should another process store
    one of them meanwhile, they are stored one at a time instead."""
    once = (DeliverySource.WEBHOOK, DeliverySource.POLL)
    keys = {(item["flow"].pk, item["response_id"]) for item in items if item["source"] in once}
    stored = set()
    if keys:
        stored = set(
            Delivery.objects.filter(
                flow_id__in={flow_id for flow_id, _ in keys}, response_id__in={rid for _, rid in keys}, source__in=once
            ).values_list("flow_id", "response_id")
        )
    fresh: list[int] = []
    for index, item in enumerate(items):
        key = (item["flow"].pk, item["response_id"])
        if item["source"] in once:
            if key in stored:
                continue
            stored.add(key)
        fresh.append(index)
    results: list[Run | None] = [None] * len(items)
    if not fresh:
        return results
    try:
        with transaction.atomic():
            deliveries = Delivery.objects.bulk_create([
                Delivery(flow=items[i]["flow"], response_id=items[i]["response_id"], survey_id=items[i]["survey_id"],
                         source=items[i]["source"], topic=items[i].get("topic", ""), payload=items[i].get("payload") or {})
                for i in fresh
            ])
            runs = Run.objects.bulk_create([
                Run(flow=items[i]["flow"], team_id=items[i]["flow"].team_id, version=items[i]["version"], delivery=delivery)
                for i, delivery in zip(fresh, deliveries, strict=True)
            ])
    except IntegrityError:
        return [delivery_accept(**item) for item in items]
    for i, run in zip(fresh, runs, strict=True):
        _enqueue(run.pk)
        results[i] = run
    return results


def run_rerun(*, run: Run, use_current: bool = False) -> Run:
    version = run.version
    if use_current:
        version = run.flow.versions.first() or version
    with transaction.atomic():
        delivery = None
        if run.delivery_id:
            old = run.delivery
            delivery = Delivery.objects.create(flow=run.flow, response_id=old.response_id, survey_id=old.survey_id,
                                               source=DeliverySource.RERUN, topic=old.topic, payload=old.payload)
        return run_create(flow=run.flow, version=version, delivery=delivery, rerun_of=run)


def flow_test(*, flow: Flow, response_id: str) -> Run:
    version = flow.versions.first()
    if version is None:
        raise RunRequestError("Save the flow before testing it.")
    response_id = response_id.strip()
    if not response_id.startswith("R_"):
        raise RunRequestError("Choose a response to test with (its ID starts with R_).")
    survey_id = ((version.definition.get("event") or {}).get("options") or {}).get("survey_id", "")
    with transaction.atomic():
        delivery = Delivery.objects.create(flow=flow, response_id=response_id, survey_id=survey_id, source=DeliverySource.TEST)
        return run_create(flow=flow, version=version, delivery=delivery)


def recent_responses(*, flow: Flow, limit: int = 20) -> list[dict]:
    """The latest responses of the flow's survey, for the editor's Test button."""
    import tempfile

    from accounts.models import Configuration
    from connectors.http import ConnectorError
    from connectors.qualtrics.client import QualtricsClient
    from designer.polling import iter_export_records

    event = flow.definition.get("event") or {}
    survey_id = (event.get("options") or {}).get("survey_id")
    configuration = Configuration.objects.filter(pk=event.get("configuration"), team=flow.team).first()
    if not survey_id or configuration is None:
        raise RunRequestError("Choose a survey and a configuration on the event card first.")
    client = QualtricsClient.for_configuration(configuration)
    since = (timezone.now() - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = client.export_responses(survey_id, dest_dir=tmp, format="json", start_date=since, poll_interval=0.5, max_wait=60)
            items = [
                {
                    "response_id": r.get("responseId"),
                    "recorded_date": (r.get("values") or {}).get("recordedDate"),
                    "email": (r.get("values") or {}).get("recipientEmail"),
                }
                for r in iter_export_records(result.path)
            ]
    except ConnectorError as exc:
        raise RunRequestError(f"Could not list recent responses: {exc.message}") from exc
    items.sort(key=lambda r: r.get("recorded_date") or "", reverse=True)
    return items[:limit]


def runs_requeue_stalled(*, older_than: timedelta = timedelta(seconds=60)) -> int:
    """Re-enqueues runs that no worker holds: queued too long, or running past their lease."""
    now = timezone.now()
    stalled = list(
        Run.objects.filter(status=RunStatus.QUEUED, updated_at__lt=now - older_than).values_list("pk", flat=True)[:500]
    ) + list(Run.objects.filter(status=RunStatus.RUNNING, lease_until__lt=now).values_list("pk", flat=True)[:500])
    from designer.tasks import execute_run

    for run_id in stalled:
        Run.objects.filter(pk=run_id).update(updated_at=now)
        execute_run.enqueue(run_id)
    return len(stalled)
