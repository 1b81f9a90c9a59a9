"""Activating a flow: its event card's trigger is enabled (a service's event subscription, a
schedule, a URL of its own) and the flow's pinned version starts running on its events."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from connectors import registry
from connectors.http import ConnectorError
from designer import live
from designer.models import MODE_STATUS, Activation, ActivationStatus, Flow
from designer.triggers import TriggerError, connection_client, event_ready, polls, trigger_context

logger = logging.getLogger(__name__)


class ActivationError(Exception):
    """The flow cannot be activated; the message says what to fix (and `problems` lists the
    draft's problems when it could not be published)."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []


def _first_poll_at(trigger, mode: str):
    if not polls(trigger):
        return None
    if mode == "webhook":  # deliveries come by themselves; a slower poll catches a lost one
        return timezone.now() + timedelta(seconds=settings.RECONCILE_INTERVAL_SECONDS)
    return timezone.now()


def _publish_first(flow: Flow, user, membership) -> None:
    """Activate publishes the draft when it has unpublished changes (validated for the person
    activating); a draft with problems is refused."""
    from accounts.models import Membership
    from designer import services

    if not flow.has_unpublished_changes:
        return
    if membership is None and user is not None:
        membership = Membership.objects.filter(team_id=flow.team_id, user=user).first()
    if membership is None:
        raise ActivationError("Publish the flow before activating it.")
    try:
        services.flow_publish(membership=membership, flow=flow, switch_trigger=False)
    except services.FlowInvalid as exc:
        count = len(exc.problems)
        raise ActivationError(
            f"Not published: the draft has {count} problem{'' if count == 1 else 's'} to fix, marked on the cards.",
            problems=exc.problems,
        ) from None


def flow_activate(*, flow: Flow, user=None, membership=None) -> Activation:
    """Publishes the draft if it changed, pins the live version and enables its trigger; never
    enables it twice."""
    flow.refresh_from_db()
    _publish_first(flow, user, membership)
    flow.refresh_from_db()
    version = flow.live_version
    if version is None:
        raise ActivationError("Publish the flow before activating it.")
    try:
        event, configuration = event_ready(flow, version.definition)
    except TriggerError as exc:
        raise ActivationError(str(exc)) from None

    with transaction.atomic():
        activation, _ = Activation.objects.select_for_update().get_or_create(flow=flow)
        unchanged = (
            activation.is_active
            and activation.trigger == event.card.key
            and activation.options == event.options
            and activation.configuration_id == (configuration.pk if configuration else None)
        )
        if unchanged:
            # Already enabled for the same event: only the pinned version changes.
            activation.version = version
            activation.save(update_fields=["version", "updated_at"])
            live.publish_activation(activation)
            return activation
        stale = timezone.now() - timedelta(minutes=2)
        if activation.status == ActivationStatus.ACTIVATING and activation.updated_at > stale:
            raise ActivationError("This flow is being activated already.")
        was_active = activation.is_active
        if not was_active:
            # Claimed: a second activation at the same time finds it activating.
            activation.status = ActivationStatus.ACTIVATING
            activation.save(update_fields=["status", "updated_at"])
    if was_active:
        flow_deactivate(flow=flow, reason="")
        activation.refresh_from_db()

    activation.status = ActivationStatus.ACTIVATING
    activation.version = version
    activation.configuration = configuration
    activation.trigger = event.card.key
    activation.options = event.options
    activation.mode = ""
    activation.state = {}
    activation.cursor = ""
    activation.secret = secrets.token_urlsafe(32)
    activation.shared_key = secrets.token_urlsafe(32)
    activation.reason = ""
    activation.failing_since = None
    activation.activated_at = timezone.now()
    activation.activated_by = user
    activation.last_polled_at = None
    activation.next_poll_at = None
    activation.save()

    try:
        client = connection_client(configuration) if configuration else None
        enabled = event.trigger.enable(trigger_context(activation, client=client))
    except (ConnectorError, ValueError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        activation.status = ActivationStatus.INACTIVE
        activation.reason = f"Could not activate: {message}"
        activation.secret = ""
        activation.save()
        live.publish_activation(activation)
        raise ActivationError(activation.reason) from exc
    activation.mode = enabled.mode
    activation.state = dict(enabled.state)
    activation.status = MODE_STATUS[enabled.mode]
    activation.reason = enabled.message
    activation.next_poll_at = _first_poll_at(event.trigger, enabled.mode)
    activation.save()
    live.publish_activation(activation)
    return activation


def flow_deactivate(*, flow: Flow, reason: str = "") -> Activation:
    """Disables exactly this activation's trigger (removes its subscription), and stops polling."""
    activation, _ = Activation.objects.get_or_create(flow=flow)
    note = reason
    trigger = registry.trigger(activation.trigger) if activation.trigger else None
    if trigger is not None and activation.state:
        connector = registry.connector(registry.get(activation.trigger).connector)
        if not connector.needs_connection or activation.configuration_id:
            try:
                client = connection_client(activation.configuration) if activation.configuration_id else None
                trigger.disable(trigger_context(activation, client=client))
            except ConnectorError as exc:
                note = (f"{reason} " if reason else "") + exc.message
    activation.status = ActivationStatus.INACTIVE
    activation.mode = ""
    activation.state = {}
    activation.secret = ""
    activation.shared_key = ""
    activation.reason = note
    activation.failing_since = None
    activation.next_poll_at = None
    activation.save()
    live.publish_activation(activation)
    return activation


def activation_failing(*, activation: Activation, reason: str) -> None:
    if activation.status != ActivationStatus.FAILING:
        activation.failing_since = timezone.now()
    activation.status = ActivationStatus.FAILING
    activation.reason = reason
    activation.save(update_fields=["status", "reason", "failing_since", "updated_at"])
    live.publish_activation(activation)


def activation_recovered(*, activation: Activation) -> None:
    if activation.status == ActivationStatus.FAILING:
        activation.status = MODE_STATUS.get(activation.mode, ActivationStatus.ACTIVE_POLLING)
        activation.failing_since = None
        activation.reason = "Recovered."
        activation.save(update_fields=["status", "reason", "failing_since", "updated_at"])
        live.publish_activation(activation)
