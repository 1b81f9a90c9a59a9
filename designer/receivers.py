"""designer's answers to signals from accounts (which never imports designer)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.signals import team_deleting


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
