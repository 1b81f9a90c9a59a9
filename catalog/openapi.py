"""OpenAPI shapes of the catalog, outputs and choices endpoints (docs/architecture.md)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from connectors.specs import CARD_KINDS, FIELD_TYPES


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
    source = serializers.CharField(allow_null=True, help_text="Where a picker loads its choices: a source of the card's connector.")
    depends_on = serializers.ListField(child=serializers.CharField())


class CardOut(serializers.Serializer):
    key = serializers.CharField(help_text="Like qualtrics.new_response.")
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=CARD_KINDS)
    connector = serializers.CharField()
    group = serializers.CharField(allow_blank=True)
    needs_configuration = serializers.BooleanField(help_text="The card runs only with a connection of its connector.")
    optional_configuration = serializers.BooleanField(
        help_text="A connection of its connector may be chosen, or none (HTTP Request's shared auth header).")
    changes = serializers.CharField(
        allow_blank=True, help_text="What a run of the card changes (with its default options), in words; empty when "
        "it only reads. A step test of such a card asks for confirmation.")
    options = FieldOut(many=True)
    inputs = FieldOut(many=True)
    outputs = FieldOut(many=True)
    dynamic_outputs = serializers.BooleanField()


class SourceOut(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    params = serializers.ListField(child=serializers.CharField())


class ConnectorOut(serializers.Serializer):
    key = serializers.CharField(help_text="Like qualtrics.")
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    connection_label = serializers.CharField(help_text="What one of its connections is called.")
    help = serializers.CharField(allow_blank=True)
    credentials = FieldOut(many=True, help_text="The fields of its connection form; secret ones are write-only.")
    sources = SourceOut(many=True)
    triggers = serializers.ListField(child=serializers.CharField(), help_text="Keys of the event cards it can start.")


class Catalog(serializers.Serializer):
    connectors = ConnectorOut(many=True)
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
SOURCE = OpenApiParameter("source", OpenApiTypes.STR, OpenApiParameter.PATH, description="A source of the connection's connector.")
