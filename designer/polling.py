"""Polling: incremental response exports with a continuation token.

Flows without a webhook run on this; webhook flows are reconciled by it at a slower pace so that
a lost delivery still runs. Deduplication on (flow, ResponseID) makes both paths safe together.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from designer.models import Activation, ActivationStatus, DeliverySource

logger = logging.getLogger(__name__)


def iter_export_records(path: Path) -> Iterator[dict]:
    """Responses of a json or ndjson export, one at a time."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(1)
        fh.seek(0)
        if head == b"{" and path.suffix == ".json":
            # {"responses": [...]}: small enough per poll window; parsed whole.
            yield from json.load(fh).get("responses", [])
            return
        for line in fh:
            line = line.strip()
            if line:
                yield json.loads(line)


def activation_poll(activation_id: int) -> int:
    """Fetches responses recorded since the last poll and starts a run for each new one."""
    from connectors.http import ConnectorError
    from connectors.qualtrics.client import QualtricsClient
    from designer.activation import activation_failing, activation_recovered
    from designer.runs import delivery_accept

    activation = Activation.objects.select_related("flow", "version", "configuration").filter(pk=activation_id).first()
    if activation is None or not activation.is_active or activation.configuration is None:
        return 0
    client = QualtricsClient.for_configuration(activation.configuration)
    kwargs = {"continuation_token": activation.continuation_token} if activation.continuation_token else {
        "allow_continuation": True,
        "start_date": (activation.activated_at or timezone.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    started = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = client.export_responses(activation.survey_id, dest_dir=tmp, format="ndjson", poll_interval=0.5, **kwargs)
            for record in iter_export_records(result.path):
                response_id = record.get("responseId") or (record.get("values") or {}).get("_recordId")
                if not response_id:
                    continue
                run = delivery_accept(
                    flow=activation.flow, version=activation.version, response_id=response_id,
                    survey_id=activation.survey_id, source=DeliverySource.POLL,
                )
                started += run is not None
    except ConnectorError as exc:
        activation_failing(activation=activation, reason=f"Polling Qualtrics failed: {exc.message}")
        Activation.objects.filter(pk=activation.pk).update(last_polled_at=timezone.now())
        return 0
    updates = {"last_polled_at": timezone.now()}
    if result.continuation_token:
        updates["continuation_token"] = result.continuation_token
    if started:
        updates["last_event_at"] = timezone.now()
    Activation.objects.filter(pk=activation.pk).update(**updates)
    activation_recovered(activation=activation)
    if started:
        logger.info("Polling %s started %d run(s)", activation.flow_id, started)
    return started


def activations_due(now=None) -> list[int]:
    now = now or timezone.now()
    poll_due = now - timedelta(seconds=settings.POLL_INTERVAL_SECONDS)
    reconcile_due = now - timedelta(seconds=settings.RECONCILE_INTERVAL_SECONDS)
    active = Activation.objects.exclude(status__in=[ActivationStatus.INACTIVE, ActivationStatus.ACTIVATING])
    due = active.filter(
        Q(last_polled_at__isnull=True)
        | Q(subscription_id="", last_polled_at__lt=poll_due)
        | (~Q(subscription_id="") & Q(last_polled_at__lt=reconcile_due))
    )
    return list(due.values_list("pk", flat=True))
