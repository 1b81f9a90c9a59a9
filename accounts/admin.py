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


from django import forms as _forms  # noqa: E402

from accounts.models import Configuration  # noqa: E402


class ConfigurationAdminForm(_forms.ModelForm):
    new_api_token = _forms.CharField(
        required=False, label="New API token", widget=_forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave empty to keep the current token.",
    )

    class Meta:
        model = Configuration
        fields = ["team", "owner", "name", "datacenter", "username", "shared"]


@admin.register(Configuration)
class ConfigurationAdmin(admin.ModelAdmin):
    form = ConfigurationAdminForm
    list_display = ["name", "team", "owner", "datacenter", "status", "shared", "qualtrics_user_name", "authorized_at"]
    list_filter = ["status", "shared", "datacenter"]
    search_fields = ["name", "team__name", "owner__username", "username", "qualtrics_user_name"]
    readonly_fields = ["token_display", "status", "status_message", "qualtrics_user_id", "qualtrics_user_name", "brand_id", "authorized_at"]
    autocomplete_fields = ["team", "owner"]
    actions = ["authorize"]

    @admin.display(description="API token")
    def token_display(self, obj):
        if not obj.token_set:
            return "not set"
        return f"set (…{obj.token_last4})" if obj.token_last4 else "set"

    def save_model(self, request, obj, form, change):
        token = form.cleaned_data.get("new_api_token")
        if token:
            obj.api_token = token
        super().save_model(request, obj, form, change)
        if token:
            from accounts.configurations import configuration_authorize

            configuration_authorize(configuration=obj)

    @admin.action(description="Authorize selected configurations")
    def authorize(self, request, queryset):
        from accounts.configurations import configuration_authorize

        for obj in queryset:
            configuration_authorize(configuration=obj)
        self.message_user(request, f"Authorized {queryset.count()} configuration(s); see their status.")
