from django.db import migrations, models
from django.utils import timezone

NEW_RESPONSE = "qualtrics.new_response"


def forwards(apps, schema_editor):
    Activation = apps.get_model("designer", "Activation")
    Delivery = apps.get_model("designer", "Delivery")
    now = timezone.now()
    for activation in Activation.objects.exclude(survey_id=""):
        activation.trigger = NEW_RESPONSE
        activation.options = {"survey_id": activation.survey_id}
        activation.state = {"subscription_id": activation.subscription_id} if activation.subscription_id else {}
        activation.cursor = activation.continuation_token
        active = activation.status in ("active_webhook", "active_polling", "failing")
        activation.mode = ("webhook" if activation.subscription_id else "polling") if active else ""
        activation.next_poll_at = now if active else None
        activation.save()
    for delivery in Delivery.objects.exclude(response_id="").iterator():
        if not isinstance(delivery.payload, dict) or "response_id" not in delivery.payload:
            Delivery.objects.filter(pk=delivery.pk).update(payload={"response_id": delivery.response_id})


def backwards(apps, schema_editor):
    Activation = apps.get_model("designer", "Activation")
    for activation in Activation.objects.filter(trigger=NEW_RESPONSE):
        activation.survey_id = (activation.options or {}).get("survey_id", "")
        activation.subscription_id = (activation.state or {}).get("subscription_id", "")
        activation.continuation_token = activation.cursor
        activation.save()


class Migration(migrations.Migration):
    dependencies = [("designer", "0002_run_progress")]

    operations = [
        migrations.AddField("activation", "trigger", models.CharField(blank=True, max_length=100, help_text="Key of the event card whose trigger starts runs.")),
        migrations.AddField("activation", "options", models.JSONField(blank=True, default=dict, help_text="The event card's options when it was activated.")),
        migrations.AddField("activation", "mode", models.CharField(blank=True, max_length=10, help_text="webhook, polling or schedule.")),
        migrations.AddField("activation", "state", models.JSONField(blank=True, default=dict, help_text="What the trigger keeps while enabled (a subscription id).")),
        migrations.AddField("activation", "cursor", models.TextField(blank=True, help_text="Where the next poll starts (a continuation token, the last tick).")),
        migrations.AddField("activation", "next_poll_at", models.DateTimeField(blank=True, db_index=True, null=True)),
        migrations.RemoveConstraint("delivery", "one_event_delivery_per_response"),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField("activation", "survey_id"),
        migrations.RemoveField("activation", "subscription_id"),
        migrations.RemoveField("activation", "continuation_token"),
        migrations.RenameField("delivery", "response_id", "event_id"),
        migrations.AlterField("delivery", "event_id", models.CharField(blank=True, max_length=200)),
        migrations.RemoveField("delivery", "survey_id"),
        migrations.AlterField(
            "activation", "status",
            models.CharField(choices=[("inactive", "Inactive"), ("activating", "Activating"), ("active_webhook", "Active (webhook)"), ("active_polling", "Active (polling)"), ("active_schedule", "Active (schedule)"), ("failing", "Failing")], default="inactive", max_length=20),
        ),
        migrations.AlterField(
            "delivery", "source",
            models.CharField(choices=[("webhook", "Webhook"), ("poll", "Polling"), ("schedule", "Schedule"), ("test", "Test"), ("rerun", "Re-run")], max_length=10),
        ),
        migrations.AddConstraint(
            "delivery",
            models.UniqueConstraint(condition=models.Q(("source__in", ["webhook", "poll", "schedule"])), fields=("flow", "event_id"), name="one_delivery_per_event"),
        ),
    ]
