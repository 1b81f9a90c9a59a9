"""OpenAPI shapes of the configurations API, and the error answers every API shares.

These serializers only describe JSON for drf-spectacular; the views build their answers with
`accounts.serializers` and plain dicts.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from accounts.models import ConfigurationStatus


class Detail(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words for the person using the API.")


ERROR_DESCRIPTIONS = {
    400: "The request cannot be used; `detail` says why.",
    403: "Not signed in, no current team, a missing CSRF token, or a role too low for this.",
    404: "Not found in the current team.",
    409: "Conflicts with a newer change.",
    415: "The body is not in the media type the operation takes.",
    502: "Qualtrics failed or is rate limiting; try again shortly.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """`{code: {"detail"}}` responses; 403 is always there (signed out, CSRF, role)."""
    return {code: OpenApiResponse(Detail, description=ERROR_DESCRIPTIONS[code]) for code in sorted({403, *codes})}


class ConfigurationOut(serializers.Serializer):
    """Viewers get `id`, `name`, `status` and `shared` only; editors and up get every field."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=ConfigurationStatus.choices)
    shared = serializers.BooleanField()
    datacenter = serializers.CharField(required=False)
    username = serializers.CharField(required=False, allow_blank=True)
    owner = serializers.CharField(required=False, help_text="Username of the member who added it.")
    status_message = serializers.CharField(required=False, allow_blank=True)
    qualtrics_user_name = serializers.CharField(required=False, allow_blank=True)
    authorized_at = serializers.DateTimeField(required=False, allow_null=True)
    token_set = serializers.BooleanField(required=False)
    token_last4 = serializers.CharField(required=False, allow_blank=True)
    can_manage = serializers.BooleanField(required=False)


class ConfigurationCreate(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    datacenter = serializers.CharField(max_length=30, help_text="The data center ID, like us1 in us1.qualtrics.com.")
    api_token = serializers.CharField(help_text="Write-only: never returned.")
    username = serializers.CharField(max_length=150, required=False, allow_blank=True)
    shared = serializers.BooleanField(required=False, default=False)


class ConfigurationUpdate(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    datacenter = serializers.CharField(max_length=30, required=False)
    api_token = serializers.CharField(
        required=False, allow_blank=True, help_text="Blank or absent keeps the current token."
    )
    username = serializers.CharField(max_length=150, required=False, allow_blank=True)
    shared = serializers.BooleanField(required=False)


class ConfigurationFieldErrors(serializers.Serializer):
    """`{"<field>": ["message"]}`, or `{"detail"}` when the body is not JSON."""

    name = serializers.ListField(child=serializers.CharField(), required=False)
    datacenter = serializers.ListField(child=serializers.CharField(), required=False)
    api_token = serializers.ListField(child=serializers.CharField(), required=False)
    username = serializers.ListField(child=serializers.CharField(), required=False)
    shared = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False)


class ConfigurationDeleted(serializers.Serializer):
    deactivated_flows = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the flows that used it and are now inactive."
    )
