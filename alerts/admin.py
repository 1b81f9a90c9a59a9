from django.contrib import admin

from alerts.models import FlowAlert


@admin.register(FlowAlert)
class FlowAlertAdmin(admin.ModelAdmin):
    list_display = ("flow", "enabled", "last_sent_at", "last_count", "last_error")
    raw_id_fields = ("flow", "connection", "members", "updated_by")
    readonly_fields = ("last_sent_at", "cursor", "last_count", "last_error")
