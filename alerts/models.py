"""Who hears about a flow's failed runs, and how far the alerts have got."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Configuration
from designer.models import Flow


class FlowAlert(models.Model):
    """A flow's failure alerts: email to team members and addresses, and/or a message through a
    connection whose connector can notify (Slack, Teams). The scheduler sends at most one alert per
    ALERT_MIN_INTERVAL_SECONDS, covering the failed runs after `cursor`."""

    flow = models.OneToOneField(Flow, on_delete=models.CASCADE, related_name="alert")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                     help_text="Team members emailed (at their account's address).")
    emails = models.JSONField(default=list, blank=True, help_text="Other addresses emailed.")
    connection = models.ForeignKey(Configuration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   help_text="A connection whose connector can notify (Slack, Teams).")
    enabled = models.BooleanField(default=True)
    last_sent_at = models.DateTimeField(null=True, blank=True,
                                        help_text="When the last alert was sent (or tried, when it failed).")
    cursor = models.BigIntegerField(default=0, help_text="Id of the last failed run an alert covered.")
    last_error = models.CharField(max_length=500, blank=True, help_text="Why the last alert could not be sent.")
    last_count = models.PositiveIntegerField(default=0, help_text="Failed runs the last alert sent listed.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["enabled", "last_sent_at"])]

    def __str__(self) -> str:
        return f"Alerts of {self.flow}"
