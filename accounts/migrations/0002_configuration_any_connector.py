"""A configuration becomes a connection of any connector: its credentials are kept as a public
JSON object plus an encrypted JSON object of the secret fields, and whom they belong to as a
generic account. Existing Qualtrics configurations are moved over, and back on reverse."""

import json

from django.db import migrations, models


def forwards(apps, schema_editor):
    from accounts.crypto import decrypt_text, encrypt_text

    Configuration = apps.get_model("accounts", "Configuration")
    for item in Configuration.objects.all().iterator():
        item.public_credentials = {"datacenter": item.datacenter, "username": item.username}
        token = decrypt_text(item.api_token_encrypted) if item.api_token_encrypted else ""
        item.secret_credentials_encrypted = encrypt_text(json.dumps({"api_token": token})) if token else b""
        item.secret_hint = item.token_last4
        item.account_id = item.qualtrics_user_id
        item.account_name = item.qualtrics_user_name
        item.account_details = {"brand_id": item.brand_id} if item.brand_id else {}
        item.save(update_fields=[
            "public_credentials", "secret_credentials_encrypted", "secret_hint", "account_id", "account_name",
            "account_details",
        ])


def backwards(apps, schema_editor):
    from accounts.crypto import decrypt_text, encrypt_text

    Configuration = apps.get_model("accounts", "Configuration")
    for item in Configuration.objects.all().iterator():
        public = item.public_credentials or {}
        secrets = json.loads(decrypt_text(item.secret_credentials_encrypted)) if item.secret_credentials_encrypted else {}
        token = str(secrets.get("api_token") or "")
        item.datacenter = str(public.get("datacenter") or "")[:30]
        item.username = str(public.get("username") or "")[:150]
        item.api_token_encrypted = encrypt_text(token) if token else b""
        item.token_last4 = item.secret_hint
        item.qualtrics_user_id = item.account_id[:64]
        item.qualtrics_user_name = item.account_name
        item.brand_id = str((item.account_details or {}).get("brand_id") or "")[:100]
        item.save(update_fields=[
            "datacenter", "username", "api_token_encrypted", "token_last4", "qualtrics_user_id",
            "qualtrics_user_name", "brand_id",
        ])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="configuration",
            name="connector",
            field=models.CharField(help_text="Key of the connector this connects to; fixed once created.", max_length=30),
        ),
        # Defaults, so that reversing the removals below can add the columns back to existing rows.
        migrations.AlterField(
            model_name="configuration",
            name="api_token_encrypted",
            field=models.BinaryField(default=b"", editable=False),
        ),
        migrations.AlterField(
            model_name="configuration",
            name="datacenter",
            field=models.CharField(default="", max_length=30, verbose_name="data center ID"),
        ),
        migrations.AlterField(
            model_name="configuration", name="username", field=models.CharField(blank=True, default="", max_length=150)
        ),
        migrations.AlterField(
            model_name="configuration",
            name="token_last4",
            field=models.CharField(blank=True, default="", editable=False, max_length=4),
        ),
        migrations.AlterField(
            model_name="configuration", name="qualtrics_user_id", field=models.CharField(blank=True, default="", max_length=64)
        ),
        migrations.AlterField(
            model_name="configuration",
            name="qualtrics_user_name",
            field=models.CharField(blank=True, default="", max_length=150),
        ),
        migrations.AlterField(
            model_name="configuration", name="brand_id", field=models.CharField(blank=True, default="", max_length=100)
        ),
        migrations.AddField(
            model_name="configuration",
            name="public_credentials",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="configuration",
            name="secret_credentials_encrypted",
            field=models.BinaryField(default=b"", editable=False),
        ),
        migrations.AddField(
            model_name="configuration",
            name="secret_hint",
            field=models.CharField(blank=True, editable=False, max_length=4),
        ),
        migrations.AddField(
            model_name="configuration",
            name="account_id",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="configuration",
            name="account_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.AddField(
            model_name="configuration",
            name="account_details",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="configuration", name="datacenter"),
        migrations.RemoveField(model_name="configuration", name="username"),
        migrations.RemoveField(model_name="configuration", name="api_token_encrypted"),
        migrations.RemoveField(model_name="configuration", name="token_last4"),
        migrations.RemoveField(model_name="configuration", name="qualtrics_user_id"),
        migrations.RemoveField(model_name="configuration", name="qualtrics_user_name"),
        migrations.RemoveField(model_name="configuration", name="brand_id"),
    ]
