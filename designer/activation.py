"""Activating a flow: a Qualtrics event subscription, or polling when none can be made."""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Configuration
from designer import live
from designer.models import Activation, ActivationStatus, Flow

logger = logging.getLogger(__name__)
NEW_RESPONSE = "qualtrics.new_response"


class ActivationError(Exception):
    """The flow cannot be activated; the message says what to fix."""


def topic_for(survey_id: str) -> str:
    return f"surveyengine.completedResponse.{survey_id}"


def webhook_url(activation: Activation) -> str:
    path = reverse("qualtrics_webhook", args=[activation.pk, activation.secret])
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _client(configuration: Configuration):
    from connectors.qualtrics.client import QualtricsClient

    return QualtricsClient.for_configuration(configuration)


def flow_activate(*, flow: Flow, user=None) -> Activation:
    """Pins the latest version and subscribes; never makes a second subscription."""
    from connectors.http import ConnectorError

    version = flow.versions.first()
    if version is None:
        raise ActivationError("Save the flow before activating it.")
    event = version.definition.get("event") or {}
    if event.get("card") != NEW_RESPONSE:
        raise ActivationError("A flow starts with the New Response event card before it can be activated.")
    survey_id = (event.get("options") or {}).get("survey_id")
    if not survey_id:
        raise ActivationError("Choose a survey on the New Response card.")
    configuration = Configuration.objects.filter(pk=event.get("configuration"), team=flow.team).first()
    if configuration is None:
        raise ActivationError("Choose a Qualtrics configuration on the New Response card.")

    with transaction.atomic():
        activation, _ = Activation.objects.select_for_update().get_or_create(flow=flow)
        same_subscription = (
            activation.is_active and activation.survey_id == survey_id and activation.configuration_id == configuration.pk
        )
        if same_subscription:
            # Already subscribed: only the pinned version changes.
            activation.version = version
            activation.save(update_fields=["version", "updated_at"])
            live.publish_activation(activation)
            return activation
    if activation.is_active:
        flow_deactivate(flow=flow, reason="")
        activation.refresh_from_db()

    activation.status = ActivationStatus.ACTIVATING
    activation.version = version
    activation.configuration = configuration
    activation.survey_id = survey_id
    activation.secret = secrets.token_urlsafe(32)
    activation.shared_key = secrets.token_urlsafe(32)
    activation.subscription_id = ""
    activation.continuation_token = ""
    activation.reason = ""
    activation.failing_since = None
    activation.activated_at = timezone.now()
    activation.activated_by = user
    activation.last_polled_at = None
    activation.save()

    reason = ""
    if not settings.PUBLIC_BASE_URL:
        reason = "No public URL is set (PUBLIC_BASE_URL), so Qualtrics cannot call this server."
    else:
        try:
            activation.subscription_id = _client(configuration).create_event_subscription(
                topics=topic_for(survey_id), publication_url=webhook_url(activation), shared_key=activation.shared_key
            )
        except ConnectorError as exc:
            reason = f"Qualtrics did not accept the webhook subscription ({exc.message})."
    if activation.subscription_id:
        activation.status = ActivationStatus.ACTIVE_WEBHOOK
        activation.reason = "Qualtrics calls this flow for each completed response; a slower poll catches any missed one."
    else:
        activation.status = ActivationStatus.ACTIVE_POLLING
        activation.reason = f"{reason} Checking for new responses every {settings.POLL_INTERVAL_SECONDS} s instead."
    activation.save()
    live.publish_activation(activation)
    return activation


def flow_deactivate(*, flow: Flow, reason: str = "") -> Activation:
    """Deletes exactly this activation's subscription, and stops polling."""
    from connectors.http import ConnectorError
    from connectors.qualtrics.errors import NotFoundError

    activation, _ = Activation.objects.get_or_create(flow=flow)
    note = reason
    if activation.subscription_id and activation.configuration_id:
        try:
            _client(activation.configuration).delete_event_subscription(activation.subscription_id)
        except NotFoundError:
            pass  # already gone on the Qualtrics side
        except ConnectorError as exc:
            note = (f"{reason} " if reason else "") + (
                f"The Qualtrics subscription {activation.subscription_id} could not be removed ({exc.message}); "
                "its deliveries will be ignored."
            )
    activation.status = ActivationStatus.INACTIVE
    activation.subscription_id = ""
    activation.secret = ""
    activation.shared_key = ""
    activation.reason = note
    activation.failing_since = None
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
        activation.status = ActivationStatus.ACTIVE_WEBHOOK if activation.subscription_id else ActivationStatus.ACTIVE_POLLING
        activation.failing_since = None
        activation.reason = "Recovered."
        activation.save(update_fields=["status", "reason", "failing_since", "updated_at"])
        live.publish_activation(activation)
