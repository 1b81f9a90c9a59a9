from django.contrib import admin

from designer.models import Activation, Delivery, Flow, FlowVersion, Run, RunStep


class FlowVersionInline(admin.TabularInline):
    model = FlowVersion
    extra = 0
    fields = ["number", "created_by", "created_at", "note"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "version", "updated_by", "updated_at"]
    search_fields = ["name", "team__name"]
    list_filter = ["team"]
    readonly_fields = ["version", "definition", "created_by", "updated_by", "created_at", "updated_at"]
    inlines = [FlowVersionInline]


@admin.register(FlowVersion)
class FlowVersionAdmin(admin.ModelAdmin):
    list_display = ["flow", "number", "created_by", "created_at"]
    search_fields = ["flow__name"]
    readonly_fields = ["flow", "number", "definition", "note", "created_by", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Activation)
class ActivationAdmin(admin.ModelAdmin):
    list_display = ["flow", "status", "trigger", "mode", "last_event_at", "failing_since"]
    list_filter = ["status"]
    search_fields = ["flow__name", "trigger"]
    exclude = ["shared_key_encrypted", "secret"]
    readonly_fields = ["flow", "version", "configuration", "trigger", "options", "mode", "state", "cursor",
                       "next_poll_at", "last_polled_at",
                       "last_reconciled_at", "last_event_at", "activated_at", "activated_by"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["flow", "event_id", "source", "topic", "received_at"]
    list_filter = ["source"]
    search_fields = ["flow__name", "event_id"]
    readonly_fields = ["flow", "event_id", "topic", "source", "payload", "received_at"]


class RunStepInline(admin.TabularInline):
    model = RunStep
    extra = 0
    fields = ["position", "step_id", "name", "iteration", "status", "duration_ms", "error"]
    readonly_fields = fields
    can_delete = False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "flow", "team", "status", "version", "created_at", "finished_at"]
    list_filter = ["status", "team"]
    search_fields = ["flow__name", "delivery__event_id", "error"]
    readonly_fields = ["flow", "team", "version", "delivery", "rerun_of", "status", "error", "trigger", "attempts",
                       "created_at", "started_at", "finished_at"]
    inlines = [RunStepInline]
