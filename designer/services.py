"""Flows: create, save (versioned), restore, duplicate, delete, import and export."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Configuration
from designer.models import Activation, ActivationStatus, Flow


def _uses_configuration(definition: dict, configuration_id: int) -> bool:
    def walk(steps):
        for step in steps or []:
            if step.get("configuration") == configuration_id:
                return True
            if any(walk(step.get(k)) for k in ("then", "else", "steps")):
                return True
        return False

    event = definition.get("event") or {}
    return event.get("configuration") == configuration_id or walk(definition.get("steps"))


def flows_using_configuration(*, configuration: Configuration) -> list[Flow]:
    flows = Flow.objects.filter(team=configuration.team).select_related("activation")
    return [f for f in flows if _uses_configuration(f.definition, configuration.pk)]


def flows_detach_configuration(*, configuration: Configuration) -> list[str]:
    """Before a configuration is deleted: its flows are made inactive with a clear reason."""
    names = []
    for flow in flows_using_configuration(configuration=configuration):
        names.append(flow.name)
        activation, _ = Activation.objects.get_or_create(flow=flow)
        activation.status = ActivationStatus.INACTIVE
        activation.subscription_id = ""
        activation.reason = f"Deactivated: the configuration “{configuration.name}” it used was deleted. Pick another one and activate again."
        activation.save()
    return names
