from __future__ import annotations

from rest_framework import serializers

from accounts.models import Configuration


class ConfigurationSerializer(serializers.ModelSerializer):
    """The token is write-only: only whether one is set and its last four characters come back."""

    api_token = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    can_manage = serializers.SerializerMethodField()
    token_set = serializers.BooleanField(read_only=True)

    class Meta:
        model = Configuration
        fields = [
            "id", "name", "datacenter", "username", "shared", "owner", "status", "status_message",
            "qualtrics_user_name", "authorized_at", "token_set", "token_last4", "api_token", "can_manage",
        ]
        read_only_fields = ["status", "status_message", "qualtrics_user_name", "authorized_at", "token_last4"]

    def get_can_manage(self, obj) -> bool:
        from accounts.selectors import configuration_can_manage

        membership = self.context["request"].membership
        return configuration_can_manage(membership=membership, configuration=obj)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        membership = self.context["request"].membership
        if not membership.can_edit:
            # Viewers see names and status only.
            data = {k: data[k] for k in ("id", "name", "status", "shared")}
        return data
