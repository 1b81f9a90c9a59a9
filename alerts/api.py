"""`GET/PUT /api/flows/<id>/alerts/`: who hears about a flow's failed runs. Editors write, viewers read."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.openapi import errors
from accounts.permissions import TeamRole
from alerts import openapi
from alerts.selectors import flow_alert_json
from alerts.services import AlertSettingsInvalid, flow_alert_save
from designer.selectors import flows_for_team


class FlowAlertApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(operation_id="flows_alerts_retrieve", responses={200: openapi.FlowAlert, **errors(404)})
    def get(self, request, pk: int):
        flow = get_object_or_404(flows_for_team(team=request.team), pk=pk)
        return Response(flow_alert_json(flow=flow))

    @extend_schema(
        operation_id="flows_alerts_update",
        description="Replaces the flow's alert settings: at most one alert per flow every ALERT_MIN_INTERVAL_SECONDS "
                    "(10 minutes), listing the runs that failed since the last one.",
        request=openapi.FlowAlertSave,
        responses={200: openapi.FlowAlert, **errors(400, 404, 415)},
    )
    def put(self, request, pk: int):
        flow = get_object_or_404(flows_for_team(team=request.team), pk=pk)
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            return Response({"detail": "Send a JSON object."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            alert = flow_alert_save(
                membership=request.membership, flow=flow, members=data.get("members"), emails=data.get("emails"),
                connection=data.get("connection"), enabled=data.get("enabled", True),
            )
        except AlertSettingsInvalid as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(flow_alert_json(flow=flow, alert=alert))
