from django.db import migrations, models


class Migration(migrations.Migration):
    """Indexes for the runs list: newest first by id (the cursor) per team, flow or status, a
    team's runs by date, and deliveries by response id."""

    dependencies = [
        ("designer", "0009_run_version_of_step_tests"),
    ]

    operations = [
        migrations.AddIndex(model_name="run", index=models.Index(fields=["team", "id"], name="run_team_id")),
        migrations.AddIndex(model_name="run", index=models.Index(fields=["team", "flow", "id"], name="run_team_flow_id")),
        migrations.AddIndex(model_name="run", index=models.Index(fields=["team", "status", "id"], name="run_team_status_id")),
        migrations.AddIndex(model_name="run", index=models.Index(fields=["team", "created_at", "flow", "status"], name="run_team_created")),
        migrations.AddIndex(model_name="delivery", index=models.Index(fields=["event_id"], name="delivery_event_id")),
    ]
