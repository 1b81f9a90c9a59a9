"""OpenAPI shapes of the flow alerts API (`alerts.selectors.flow_alert_json` builds the answers)."""

from __future__ import annotations

from rest_framework import serializers


class FlowAlert(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Whether failed runs send alerts.")
    members = serializers.ListField(child=serializers.IntegerField(), help_text="User ids of team members emailed.")
    emails = serializers.ListField(child=serializers.EmailField(), help_text="Other addresses emailed.")
    connection = serializers.IntegerField(allow_null=True, help_text="A Slack or Teams connection posted to.")
    connection_name = serializers.CharField(allow_null=True)
    last_sent_at = serializers.DateTimeField(allow_null=True, help_text="When the last alert was sent or tried.")
    last_count = serializers.IntegerField(help_text="Failed runs the last alert sent listed.")
    last_error = serializers.CharField(allow_blank=True, help_text="Why the last alert could not be sent.")


class FlowAlertSave(serializers.Serializer):
    enabled = serializers.BooleanField(required=False, default=True)
    members = serializers.ListField(child=serializers.IntegerField(), required=False,
                                    help_text="User ids of members of the flow's team.")
    emails = serializers.ListField(child=serializers.EmailField(), required=False, help_text="At most 20.")
    connection = serializers.IntegerField(
        required=False, allow_null=True,
        help_text="Id of a connection you may use whose connector can notify (Slack, Teams), or null.",
    )
