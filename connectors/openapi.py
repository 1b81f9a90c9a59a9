"""OpenAPI shapes of the catalog, outputs and choices endpoints (docs/architecture.md)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from connectors.specs import CARD_KINDS, FIELD_TYPES, SOURCES


class ChoiceOut(serializers.Serializer):
    value = serializers.CharField(allow_blank=True)
    label = serializers.CharField(allow_blank=True)


class FieldOut(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=FIELD_TYPES)
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True, help_text="Any JSON value, or null.")
    help = serializers.CharField(allow_blank=True)
    group = serializers.CharField(allow_blank=True)
    choices = ChoiceOut(many=True, allow_null=True)
    source = serializers.ChoiceField(choices=SOURCES, allow_null=True, help_text="Where a picker loads its choices.")
    depends_on = serializers.ListField(child=serializers.CharField())


class CardOut(serializers.Serializer):
    key = serializers.CharField(help_text="Like qualtrics.new_response.")
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=CARD_KINDS)
    connector = serializers.CharField()
    group = serializers.CharField(allow_blank=True)
    needs_configuration = serializers.BooleanField()
    options = FieldOut(many=True)
    inputs = FieldOut(many=True)
    outputs = FieldOut(many=True)
    dynamic_outputs = serializers.BooleanField()


class Catalog(serializers.Serializer):
    cards = CardOut(many=True)


class CardOutputs(serializers.Serializer):
    card = serializers.CharField()
    options = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text="The options used.")
    outputs = FieldOut(many=True)


class Choices(serializers.Serializer):
    choices = ChoiceOut(many=True)


REFRESH = OpenApiParameter(
    "refresh", OpenApiTypes.STR, enum=["1", "true"], description="Skip the 60 s cache and ask Qualtrics again."
)
CONFIGURATION = OpenApiParameter(
    "configuration", OpenApiTypes.INT, description="A configuration usable in the current team; needed with options."
)
SURVEY_ID = OpenApiParameter("survey_id", OpenApiTypes.STR, description="An option of the card (here: New Response's).")
DIRECTORY_ID = OpenApiParameter("directory_id", OpenApiTypes.STR, description="Needed by the mailing_lists source.")
CARD_KEY = OpenApiParameter("key", OpenApiTypes.STR, OpenApiParameter.PATH, description="A card key.")
SOURCE = OpenApiParameter("source", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(SOURCES))
