from __future__ import annotations

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
    """A saved Qualtrics connection. The API token is encrypted at rest and write-only."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="configurations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="configurations")
    connector = models.CharField(max_length=30, default="qualtrics", editable=False)
    name = models.CharField(max_length=100)
    datacenter = models.CharField("data center ID", max_length=30)
    username = models.CharField(max_length=150, blank=True)
    api_token_encrypted = models.BinaryField(editable=False)
    token_last4 = models.CharField(max_length=4, blank=True, editable=False)
    shared = models.BooleanField(default=False, help_text="Shared with the whole team.")
    status = models.CharField(max_length=20, choices=ConfigurationStatus.choices, default=ConfigurationStatus.UNAUTHORIZED)
    status_message = models.CharField(max_length=500, blank=True)
    qualtrics_user_id = models.CharField(max_length=64, blank=True)
    qualtrics_user_name = models.CharField(max_length=150, blank=True)
    brand_id = models.CharField(max_length=100, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="configuration_name_unique_in_team")]

    def __str__(self) -> str:
        return self.name

    @property
    def api_token(self) -> str:
        from accounts.crypto import decrypt_text

        if not self.api_token_encrypted:
            return ""
        return decrypt_text(self.api_token_encrypted)

    @api_token.setter
    def api_token(self, value: str) -> None:
        from accounts.crypto import encrypt_text

        self.api_token_encrypted = encrypt_text(value)
        self.token_last4 = value[-4:] if len(value) >= 12 else ""

    @property
    def token_set(self) -> bool:
        return bool(self.api_token_encrypted)
