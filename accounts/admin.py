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
