from django.contrib import admin, messages

from accounts import services
from accounts.models import Invitation, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    @admin.display(description="Members")
    def member_count(self, obj):
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "team", "role", "invited_by", "created_at", "accepted_at", "link"]
    list_filter = ["role", "accepted_at"]
    search_fields = ["email", "team__name"]
    readonly_fields = ["accepted_at", "accepted_by", "link"]
    autocomplete_fields = ["team"]
    fields = ["team", "email", "role", "invited_by", "accepted_at", "accepted_by", "link"]

    @admin.display(description="Invitation link")
    def link(self, obj):
        if obj.pk is None or obj.accepted_at:
            return "—"
        return services.invitation_path(obj)

    def save_model(self, request, obj, form, change):
        if not change and obj.invited_by_id is None:
            obj.invited_by = request.user
        super().save_model(request, obj, form, change)
        if not change:
            messages.info(request, f"Send this link to {obj.email}: {request.build_absolute_uri(services.invitation_path(obj))}")


import json  # noqa: E402

from django import forms as _forms  # noqa: E402

from accounts.models import Configuration  # noqa: E402


class ConfigurationAdminForm(_forms.ModelForm):
    new_secrets = _forms.CharField(
        required=False, label="New secret credentials", widget=_forms.PasswordInput(render_value=False),
        help_text='Write-only: a JSON object of the connector\'s secret fields, like {"api_token": "…"}. '
        "Leave empty to keep the current ones.",
    )

    class Meta:
        model = Configuration
        fields = ["team", "owner", "connector", "name", "public_credentials", "shared"]

    def clean_connector(self):
        from connectors.registry import UnknownConnectorError, registry

        key = self.cleaned_data.get("connector", "")
        try:
            connector = registry.connector(key)
        except UnknownConnectorError as exc:
            raise _forms.ValidationError(str(exc)) from None
        if not connector.needs_connection:
            raise _forms.ValidationError(f"{connector.name} needs no connection.")
        return key

    def clean_new_secrets(self):
        raw = (self.cleaned_data.get("new_secrets") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise _forms.ValidationError("Write a JSON object, like {\"api_token\": \"…\"}.") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _forms.ValidationError("Write a JSON object of text values.")
        return value


@admin.register(Configuration)
class ConfigurationAdmin(admin.ModelAdmin):
    form = ConfigurationAdminForm
    list_display = ["name", "team", "owner", "connector", "status", "shared", "account_name", "authorized_at"]
    list_filter = ["connector", "status", "shared"]
    search_fields = ["name", "team__name", "owner__username", "account_name"]
    readonly_fields = ["secret_display", "status", "status_message", "account_id", "account_name", "account_details", "authorized_at"]
    autocomplete_fields = ["team", "owner"]
    actions = ["authorize"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return ["connector", *fields] if obj is not None else fields

    @admin.display(description="Secret credentials")
    def secret_display(self, obj):
        if not obj.secret_set:
            return "not set"
        return f"set (…{obj.secret_hint})" if obj.secret_hint else "set"

    def save_model(self, request, obj, form, change):
        secrets = form.cleaned_data.get("new_secrets") or {}
        if secrets or "public_credentials" in form.changed_data or not change:
            current = obj.credentials if obj.secret_set else dict(obj.public_credentials or {})
            obj.credentials = {**current, **{k: v for k, v in secrets.items() if v}}
        super().save_model(request, obj, form, change)
        if secrets:
            from accounts.configurations import configuration_authorize

            configuration_authorize(configuration=obj)

    @admin.action(description="Authorize selected configurations")
    def authorize(self, request, queryset):
        from accounts.configurations import configuration_authorize

        for obj in queryset:
            configuration_authorize(configuration=obj)
        self.message_user(request, f"Authorized {queryset.count()} configuration(s); see their status.")
