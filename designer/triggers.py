"""What the generic machinery (activation, polling, webhooks, the Test button) needs to reach a
flow's trigger through the registry: the event card, its connector, a client for the chosen
connection, and the TriggerContext a trigger is called with. No connector is named here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Configuration
from connectors import registry
from connectors.specs import Card, Connector, Trigger, TriggerContext
from designer.models import Activation


class TriggerError(Exception):
    """The flow's event card cannot start runs as it is; the message says what to fix."""


@dataclass(frozen=True)
class FlowEvent:
    """A flow definition's event card, with its connector and trigger."""

    card: Card
    connector: Connector
    trigger: Trigger
    options: dict
    configuration_id: int | None

    def needs_connection(self) -> bool:
        return self.connector.needs_connection


def flow_event(definition: dict) -> FlowEvent:
    event = definition.get("event") or {}
    key = event.get("card") or ""
    trigger = registry.trigger(key)
    if trigger is None:
        raise TriggerError("Start the flow with an event card (New Response, Schedule, Catch Webhook…) to activate it.")
    card = registry.get(key)
    options = event.get("options") if isinstance(event.get("options"), dict) else {}
    raw = event.get("configuration")
    return FlowEvent(card=card, connector=registry.connector(card.connector), trigger=trigger, options=dict(options),
                     configuration_id=raw if isinstance(raw, int) and not isinstance(raw, bool) else None)


def event_ready(flow, definition: dict) -> tuple[FlowEvent, Any]:
    """The flow's event and the connection its trigger uses (None for a connector without one),
    once its options pass the trigger's check; TriggerError says what to fix otherwise."""
    event = flow_event(definition)
    problems = event.trigger.check(event.options)
    if problems:
        raise TriggerError(problems[0])
    if not event.needs_connection():
        return event, None
    configuration = Configuration.objects.filter(
        pk=event.configuration_id, team=flow.team, connector=event.connector.key
    ).first()
    if configuration is None:
        raise TriggerError(
            f"Choose a {event.connector.name} {event.connector.connection_label} on the {event.card.name} card."
        )
    return event, configuration


def connection_client(configuration, **options: Any):
    """The connector's client for a stored connection."""
    return registry.connector(configuration.connector).client(configuration.credentials, **options)


def webhook_path(activation: Activation) -> str:
    """The path deliveries for this activation are posted to, or "" when its trigger takes none."""
    trigger = registry.trigger(activation.trigger)
    if trigger is None or not trigger.accepts_deliveries or not activation.secret:
        return ""
    try:
        return reverse(f"{registry.get(activation.trigger).connector}_webhook", args=[activation.pk, activation.secret])
    except NoReverseMatch:
        return ""


def webhook_url(activation: Activation) -> str:
    """The public URL deliveries for this activation are posted to, or "" without PUBLIC_BASE_URL."""
    path = webhook_path(activation)
    return f"{settings.PUBLIC_BASE_URL}{path}" if path and settings.PUBLIC_BASE_URL else ""


def trigger_context(activation: Activation, *, client: Any = None, now=None) -> TriggerContext:
    return TriggerContext(
        options=dict(activation.options or {}),
        client=client,
        state=dict(activation.state or {}),
        webhook_url=webhook_url(activation),
        shared_key=activation.shared_key,
        activated_at=activation.activated_at,
        now=now or timezone.now(),
    )


def polls(trigger: Trigger) -> bool:
    """Whether the trigger has a poll (the scheduler never asks the others)."""
    return type(trigger).poll is not Trigger.poll
