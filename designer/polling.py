"""Polling: asks a flow's trigger for the events since its saved cursor.

Flows whose trigger could not subscribe run on this; webhook flows are reconciled by it at a
slower pace so that a lost delivery still runs; schedule flows poll at their next tick.
Deduplication on (flow, event id) makes every path safe together.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from connectors import registry
from connectors.http import ConnectorError
from designer.activation import activation_failing, activation_recovered
from designer.models import ACTIVE_STATUSES, Activation, DeliverySource
from designer.runs import delivery_accept
from designer.triggers import connection_client, polls, trigger_context

logger = logging.getLogger(__name__)

def _next_poll(activation: Activation, now):
    seconds = settings.RECONCILE_INTERVAL_SECONDS if activation.mode == "webhook" else settings.POLL_INTERVAL_SECONDS
    return now + timedelta(seconds=seconds)


def activation_poll(activation_id: int) -> int:
    """Asks the trigger for events since the last poll and starts a run for each new one."""
    activation = Activation.objects.select_related("flow", "version", "configuration").filter(pk=activation_id).first()
    if activation is None or not activation.is_active:
        return 0
    trigger = registry.trigger(activation.trigger)
    if trigger is None or not polls(trigger):
        return 0
    connector = registry.connector(registry.get(activation.trigger).connector)
    now = timezone.now()
    if connector.needs_connection and activation.configuration is None:
        activation_failing(activation=activation, reason=f"Its {connector.connection_label} was deleted.")
        Activation.objects.filter(pk=activation.pk).update(last_polled_at=now, next_poll_at=_next_poll(activation, now))
        return 0
    source = DeliverySource.SCHEDULE if activation.mode == "schedule" else DeliverySource.POLL
    try:
        client = connection_client(activation.configuration) if connector.needs_connection else None
        polled = trigger.poll(trigger_context(activation, client=client, now=now), activation.cursor)
        started = 0
        for event in polled.events:
            run = delivery_accept(flow=activation.flow, version=activation.version, activation_id=activation.pk,
                                  event_id=event.id, source=source, topic=event.topic, payload=dict(event.data))
            started += run is not None
    except ConnectorError as exc:
        activation_failing(activation=activation, reason=f"Polling {connector.name} failed: {exc.message}")
        Activation.objects.filter(pk=activation.pk).update(last_polled_at=now, next_poll_at=_next_poll(activation, now))
        return 0
    updates = {"last_polled_at": now, "cursor": polled.cursor, "next_poll_at": polled.next_poll_at or _next_poll(activation, now)}
    if started:
        updates["last_event_at"] = timezone.now()
    Activation.objects.filter(pk=activation.pk).update(**updates)
    activation_recovered(activation=activation)
    if started:
        logger.info("Polling %s started %d run(s)", activation.flow_id, started)
    return started


def activations_due(now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        Activation.objects.filter(status__in=ACTIVE_STATUSES, next_poll_at__lte=now).values_list("pk", flat=True)
    )


def activations_claim_due(now=None) -> list[int]:
    """The due activations this caller claimed: each one's next poll moves an interval ahead with a
    conditional update, so that of several schedulers ticking at once only one enqueues it. The
    poll then sets the real next time (a schedule's next tick); should its worker die, the poll
    is due again after the interval. Polling twice is harmless: events are stored once."""
    now = now or timezone.now()
    due = Activation.objects.filter(status__in=ACTIVE_STATUSES, next_poll_at__lte=now)
    claimed = []
    for activation in due.only("id", "mode", "next_poll_at"):
        if Activation.objects.filter(pk=activation.pk, next_poll_at=activation.next_poll_at).update(
            next_poll_at=_next_poll(activation, now)
        ):
            claimed.append(activation.pk)
    return claimed
