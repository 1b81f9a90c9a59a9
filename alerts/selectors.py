"""Reading a flow's alert settings, for its status page and the API."""

from __future__ import annotations

from typing import Any

from accounts.models import Membership
from alerts.models import FlowAlert
from designer.models import Flow


def flow_alert_json(*, flow: Flow, alert: FlowAlert | None = None) -> dict[str, Any]:
    """The settings as the API answers them; a flow never set up has alerts off and nobody named."""
    alert = alert if alert is not None else FlowAlert.objects.filter(flow=flow).select_related("connection").first()
    if alert is None:
        return {"enabled": False, "members": [], "emails": [], "connection": None, "connection_name": None,
                "last_sent_at": None, "last_count": 0, "last_error": ""}
    return {
        "enabled": alert.enabled,
        "members": sorted(alert.members.filter(memberships__team_id=flow.team_id).values_list("pk", flat=True)),
        "emails": list(alert.emails or []),
        "connection": alert.connection_id,
        "connection_name": alert.connection.name if alert.connection else None,
        "last_sent_at": alert.last_sent_at,
        "last_count": alert.last_count,
        "last_error": alert.last_error,
    }


def team_members(*, flow: Flow) -> list[Membership]:
    return list(Membership.objects.filter(team_id=flow.team_id).select_related("user").order_by("user__username"))
