"""Drafts and publish: a flow's `definition` becomes its draft, versions are what was published.

Existing flows were saved as versions, so each one's draft is its latest version (the draft
revision starts at that number) and its live version is the version its activation runs, or
its latest version when it is not active."""

import django.db.models.deletion
from django.db import migrations, models


def forwards(apps, schema_editor):
    Flow = apps.get_model("designer", "Flow")
    FlowVersion = apps.get_model("designer", "FlowVersion")
    Activation = apps.get_model("designer", "Activation")
    active = {"active_webhook", "active_polling", "active_schedule", "failing"}
    pinned = dict(
        Activation.objects.filter(status__in=active, version__isnull=False).values_list("flow_id", "version_id")
    )
    for flow in Flow.objects.all().iterator():
        latest = FlowVersion.objects.filter(flow_id=flow.pk).order_by("-number").values_list("pk", flat=True).first()
        flow.live_version_id = pinned.get(flow.pk, latest)
        flow.revision = flow.version
        flow.draft_updated_at = flow.updated_at
        flow.save(update_fields=["live_version", "revision", "draft_updated_at"])


class Migration(migrations.Migration):

    dependencies = [
        ('designer', '0006_run_statuses'),
    ]

    operations = [
        migrations.AddField(
            model_name='flow',
            name='draft_problems',
            field=models.JSONField(blank=True, default=list, help_text='What validation found in the draft when it was saved: [{step, field, message}].'),
        ),
        migrations.AddField(
            model_name='flow',
            name='draft_updated_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='flow',
            name='live_version',
            field=models.ForeignKey(blank=True, help_text='The published version: the one the flow runs when it is active.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='designer.flowversion'),
        ),
        migrations.AddField(
            model_name='flow',
            name='revision',
            field=models.PositiveIntegerField(default=0, help_text="Counts the draft's saves; a save names the revision it started from (optimistic concurrency)."),
        ),
        migrations.AlterField(
            model_name='flow',
            name='definition',
            field=models.JSONField(default=dict, help_text='The draft: what the editor saves, in any state. It never runs; Publish makes a version of it.'),
        ),
        migrations.AlterField(
            model_name='flow',
            name='version',
            field=models.PositiveIntegerField(default=0, help_text='Number of the latest published version.'),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
