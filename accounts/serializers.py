from __future__ import annotations

from rest_framework import serializers

from accounts.models import Configuration

VIEWER_FIELDS = ("id", "connector", "name", "status", "shared")


class ConfigurationSerializer(serializers.ModelSerializer):
    """A configuration as JSON. Only public credential fields come back; of the secrets, only
    whether they are set and a hint (the last four characters of a long one)."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    credentials = serializers.SerializerMethodField()
    secret_set = serializers.BooleanField(read_only=True)
    can_manage = serializers.SerializerMethodField()

    class Meta:
        model = Configuration
        fields = [
            "id", "connector", "name", "status", "shared", "credentials", "owner", "status_message",
            "account_name", "authorized_at", "secret_set", "secret_hint", "can_manage",
        ]
        read_only_fields = fields

    def get_credentials(self, obj) -> dict[str, str]:
        from connectors.registry import UnknownConnectorError

        try:
            fields = obj.connector_spec().credentials
        except UnknownConnectorError:
            return {}
        public = obj.public_credentials or {}
        return {f.key: public[f.key] for f in fields if not f.secret and f.key in public}

    def get_can_manage(self, obj) -> bool:
        from accounts.selectors import configuration_can_manage

        membership = self.context["request"].membership
        return configuration_can_manage(membership=membership, configuration=obj)

    def to_representation(self, instance):
        membership = self.context["request"].membership
        if not membership.can_edit:
            # Viewers see names and status only.
            return {
                "id": instance.pk, "connector": instance.connector, "name": instance.name,
                "status": instance.status, "shared": instance.shared,
            }
        return super().to_representation(instance)


class ConfigurationInputSerializer(serializers.Serializer):
    """What POST, PUT and PATCH take. Credentials are checked by the service against the
    connector's fields; only their shape is checked here."""

    connector = serializers.CharField(max_length=30, required=False)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, trim_whitespace=True)
    credentials = serializers.DictField(required=False)  # values checked by the service (text, length)
    shared = serializers.BooleanField(required=False)
