"""Fewer indexes written with every run: a lone team index and a lone status index repeat the
(team, …) and (status, team, id) indexes, and the columns most runs leave empty (rerun_of,
resume_at, a step's resolved_by) are indexed only where they are filled.

The single-column indexes are dropped by name, as the database lists them (PostgreSQL also made
a pattern index for status), instead of by altering the fields: on SQLite that rebuilds the
whole run table for each field.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


DROPPED = (("designer_run", "team_id"), ("designer_run", "status"), ("designer_run", "rerun_of_id"),
           ("designer_run", "resume_at"), ("designer_runstep", "resolved_by_id"))


def drop_single_column_indexes(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table, column in DROPPED:
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, info in constraints.items():
                # (The partial indexes that replace them do not exist yet: they are added after this.)
                if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]:
                    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_single_column_indexes(apps, schema_editor):
    for table, column in DROPPED:
        model = apps.get_model("designer", "Run" if table == "designer_run" else "RunStep")
        field = next(f for f in model._meta.local_fields if f.column == column)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_configuration_any_connector'),
        ('designer', '0011_claimedtask'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='run',
                    name='rerun_of',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='reruns', to='designer.run'),
                ),
                migrations.AlterField(
                    model_name='run',
                    name='resume_at',
                    field=models.DateTimeField(blank=True, help_text='A waiting run is taken up again then.', null=True),
                ),
                migrations.AlterField(
                    model_name='run',
                    name='status',
                    field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('stopped', 'Stopped by Continue If'), ('waiting', 'Waiting'), ('attention', 'Needs attention'), ('cancelled', 'Cancelled')], default='queued', max_length=10),
                ),
                migrations.AlterField(
                    model_name='run',
                    name='team',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='accounts.team'),
                ),
                migrations.AlterField(
                    model_name='runstep',
                    name='resolved_by',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
            ],
            database_operations=[migrations.RunPython(drop_single_column_indexes, create_single_column_indexes)],
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('rerun_of__isnull', False)), fields=['rerun_of'], name='run_rerun_of'),
        ),
        migrations.AddIndex(
            model_name='run',
            index=models.Index(condition=models.Q(('resume_at__isnull', False)), fields=['resume_at'], name='run_resume_at'),
        ),
        migrations.AddIndex(
            model_name='runstep',
            index=models.Index(condition=models.Q(('resolved_by__isnull', False)), fields=['resolved_by'], name='runstep_resolved_by'),
        ),
    ]
