from __future__ import annotations

import json
from collections.abc import Mapping

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


# Higher rank can do everything a lower rank can.
ROLE_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Team(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]

    @property
    def can_manage(self) -> bool:
        return self.has_role(Role.ADMIN)

    @property
    def can_edit(self) -> bool:
        return self.has_role(Role.EDITOR)


class Invitation(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.team}"


class ConfigurationStatus(models.TextChoices):
    UNAUTHORIZED = "unauthorized", "Not authorized"
    AUTHORIZED = "authorized", "Authorized"
    FAILED = "failed", "Authorization failed"


class Configuration(models.Model):
    """A saved connection of one connector (its `connection_label` names it for people), shared
    with the team or private to its owner. Secret credential fields are encrypted at rest and
    write-only; the others are kept as plain JSON."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="configurations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="configurations")
    connector = models.CharField(max_length=30, help_text="Key of the connector this connects to; fixed once created.")
    name = models.CharField(max_length=100)
    public_credentials = models.JSONField(default=dict, blank=True)
    # Encrypted JSON object of the connector's secret credential fields.
    secret_credentials_encrypted = models.BinaryField(editable=False, default=b"")
    secret_hint = models.CharField(max_length=4, blank=True, editable=False)
    shared = models.BooleanField(default=False, help_text="Shared with the whole team.")
    status = models.CharField(max_length=20, choices=ConfigurationStatus.choices, default=ConfigurationStatus.UNAUTHORIZED)
    status_message = models.CharField(max_length=500, blank=True)
    account_id = models.CharField(max_length=100, blank=True)
    account_name = models.CharField(max_length=150, blank=True)
    account_details = models.JSONField(default=dict, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="configuration_name_unique_in_team")]

    def __str__(self) -> str:
        return self.name

    def connector_spec(self):
        """The registered connector (raises connectors.registry.UnknownConnectorError)."""
        from connectors.registry import registry

        return registry.connector(self.connector)

    @property
    def connector_name(self) -> str:
        from connectors.registry import UnknownConnectorError

        try:
            return self.connector_spec().name
        except UnknownConnectorError:
            return self.connector

    @property
    def secrets(self) -> dict[str, str]:
        from accounts.crypto import decrypt_text

        if not self.secret_credentials_encrypted:
            return {}
        value = json.loads(decrypt_text(self.secret_credentials_encrypted))
        return value if isinstance(value, dict) else {}

    @property
    def credentials(self) -> dict[str, str]:
        """Every credential field: the public ones merged with the decrypted secrets."""
        return {**(self.public_credentials or {}), **self.secrets}

    @credentials.setter
    def credentials(self, values: Mapping[str, str]) -> None:
        """Splits `values` by the connector's declared fields; undeclared keys are dropped."""
        from accounts.crypto import encrypt_text

        fields = self.connector_spec().credentials
        public = {f.key: values[f.key] for f in fields if not f.secret and f.key in values}
        secret = {f.key: values[f.key] for f in fields if f.secret and f.key in values and values[f.key]}
        self.public_credentials = public
        self.secret_credentials_encrypted = encrypt_text(json.dumps(secret)) if secret else b""
        first = next((str(secret[f.key]) for f in fields if f.key in secret), "")
        self.secret_hint = first[-4:] if len(first) >= 12 else ""

    @property
    def secret_set(self) -> bool:
        return bool(self.secret_credentials_encrypted)
