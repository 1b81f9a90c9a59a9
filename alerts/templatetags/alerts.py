"""`{% flow_alerts flow %}`: the Alerts section of a flow's status page (a form for editors)."""

from __future__ import annotations

from django import template

from alerts.selectors import flow_alert_json, team_members
from alerts.services import notify_connections

register = template.Library()


@register.inclusion_tag("alerts/_flow_alerts.html", takes_context=True)
def flow_alerts(context, flow):
    membership = context.get("current_membership")
    settings = flow_alert_json(flow=flow)
    can_edit = bool(membership and membership.can_edit)
    connections = notify_connections(membership=membership) if can_edit else []
    return {
        "flow": flow,
        "alert": settings,
        "members": team_members(flow=flow),
        "connections": connections,
        "current_listed": any(c.pk == settings["connection"] for c in connections),
        "can_edit": can_edit,
        "csrf_token": context.get("csrf_token"),
    }
