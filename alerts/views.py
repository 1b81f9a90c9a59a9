"""The Alerts form of a flow's status page posts here."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.permissions import team_required
from alerts.services import AlertSettingsInvalid, flow_alert_save
from designer.selectors import flows_for_team


@team_required(Role.EDITOR)
@require_POST
def flow_alerts_save(request, pk: int):
    flow = get_object_or_404(flows_for_team(team=request.team), pk=pk)
    try:
        flow_alert_save(
            membership=request.membership, flow=flow, members=request.POST.getlist("members"),
            emails=request.POST.get("emails", ""), connection=request.POST.get("connection") or None,
            enabled=request.POST.get("enabled") == "on",
        )
        messages.success(request, "Alert settings saved.")
    except AlertSettingsInvalid as exc:
        messages.error(request, f"Alert settings not saved: {exc}")
    return redirect(reverse("flow_status", args=[flow.pk]) + "#alerts")
