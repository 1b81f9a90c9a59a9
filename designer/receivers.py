"""designer's answers to signals from accounts (which never imports designer)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.signals import configuration_deleting, configuration_users, team_deleting


@receiver(team_deleting, dispatch_uid="designer.deactivate_flows_of_deleted_team")
def flows_deactivate_for_deleted_team(sender, *, team, **kwargs) -> None:
    """Deactivates every flow of the team that is not inactive, which disables its trigger (a
    service's event subscription): otherwise the service would keep posting to a team that no
    longer exists."""
    from designer.activation import flow_deactivate
    from designer.models import ActivationStatus, Flow

    flows = Flow.objects.filter(team=team, activation__isnull=False).exclude(activation__status=ActivationStatus.INACTIVE)
    for flow in flows:
        flow_deactivate(flow=flow, reason="The team was deleted.")


@receiver(configuration_deleting, dispatch_uid="designer.detach_flows_of_deleted_configuration")
def flows_detach_for_deleted_configuration(sender, *, configuration, **kwargs) -> list[str]:
    """Flows that use a configuration being deleted are deactivated with a reason; their names."""
    from designer.services import flows_detach_configuration

    return flows_detach_configuration(configuration=configuration)


@receiver(configuration_users, dispatch_uid="designer.flows_using_configuration")
def flows_using_configuration_names(sender, *, configuration, **kwargs) -> list[str]:
    """Names of the flows that use a configuration (its delete page lists them)."""
    from designer.services import flows_using_configuration

    return [flow.name for flow in flows_using_configuration(configuration=configuration)]
