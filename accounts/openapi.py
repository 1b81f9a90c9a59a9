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
    502: "The connected service failed or is rate limiting; try again shortly.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """`{code: {"detail"}}` responses; 403 is always there (signed out, CSRF, role)."""
    return {code: OpenApiResponse(Detail, description=ERROR_DESCRIPTIONS[code]) for code in sorted({403, *codes})}


class ConfigurationOut(serializers.Serializer):
    """Viewers get `id`, `connector`, `name`, `status` and `shared` only; editors and up get every
    field. Secret credentials never come back: only `secret_set` and `secret_hint`."""

    id = serializers.IntegerField()
    connector = serializers.CharField(help_text="Key of the connector, like the `key` of a catalog connector.")
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=ConfigurationStatus.choices)
    shared = serializers.BooleanField()
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False,
        help_text="The public credential fields of the connector, by key.",
    )
    owner = serializers.CharField(required=False, help_text="Username of the member who added it.")
    status_message = serializers.CharField(required=False, allow_blank=True)
    account_name = serializers.CharField(required=False, allow_blank=True, help_text="Whom the credentials belong to.")
    authorized_at = serializers.DateTimeField(required=False, allow_null=True)
    secret_set = serializers.BooleanField(required=False)
    secret_hint = serializers.CharField(
        required=False, allow_blank=True, help_text="Last four characters of the first secret, when it is long."
    )
    can_manage = serializers.BooleanField(required=False)


class ConfigurationCreate(serializers.Serializer):
    connector = serializers.CharField(
        max_length=30, required=False,
        help_text="Key of a connector that takes connections; optional when the server has only one.",
    )
    name = serializers.CharField(max_length=100)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000),
        help_text="The connector's credential fields by key (catalog `connectors[].credentials`). Secrets are write-only.",
    )
    shared = serializers.BooleanField(required=False, default=False)


class ConfigurationUpdate(serializers.Serializer):
    connector = serializers.CharField(max_length=30, required=False, help_text="Cannot be changed; if given, the current one.")
    name = serializers.CharField(max_length=100, required=False)
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000), required=False,
        help_text="A blank or absent secret keeps the stored one.",
    )
    shared = serializers.BooleanField(required=False)


class ConfigurationFieldErrors(serializers.Serializer):
    """`{"<field>": ["message"]}` where the field is `connector`, `name`, `shared`, a credential
    key of the connector or `credentials`; or `{"detail"}` when the body is not JSON."""

    connector = serializers.ListField(child=serializers.CharField(), required=False)
    name = serializers.ListField(child=serializers.CharField(), required=False)
    credentials = serializers.ListField(child=serializers.CharField(), required=False)
    shared = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False)


class ConfigurationDeleted(serializers.Serializer):
    deactivated_flows = serializers.ListField(
        child=serializers.CharField(), help_text="Names of the flows that used it and are now inactive."
    )
