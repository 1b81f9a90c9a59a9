"""REST endpoints of the card catalog: the catalog itself, outputs for chosen options, and
choices for the pickers that load from an account."""

from __future__ import annotations

from django.utils.cache import patch_cache_control, patch_vary_headers
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.openapi import errors
from accounts.permissions import TeamRole
from accounts.selectors import configurations_usable
from catalog import openapi
from connectors import options as services
from connectors.registry import UnknownCardError, registry

CONFIGURATION_NOT_FOUND = "That configuration does not exist in your team or is not shared with you."


def _error(message: str, code: int) -> Response:
    return Response({"detail": message}, status=code)


def _usable_configuration(request, raw_id):
    try:
        pk = int(raw_id)
    except (TypeError, ValueError):
        return None
    return configurations_usable(membership=request.membership).filter(pk=pk).first()


def _refresh(request) -> bool:
    return request.query_params.get("refresh") in ("1", "true")


class CatalogApi(APIView):
    """GET /api/catalog/: every card, as docs/architecture.md describes. Same for everyone, so
    browsers revalidate with the ETag instead of downloading it again."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="catalog_retrieve",
        responses={
            200: openapi.Catalog,
            304: OpenApiResponse(description="Unchanged since the ETag sent in If-None-Match."),
            **errors(),
        },
    )
    def get(self, request):
        etag = f'"{registry.catalog_etag()}"'
        if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response(registry.catalog_json())
        response["ETag"] = etag
        patch_cache_control(response, private=True, max_age=300)
        patch_vary_headers(response, ["Cookie"])
        return response


class CardOutputsApi(APIView):
    """GET /api/catalog/<key>/outputs/?configuration=<id>&<option>=<value>."""

    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="catalog_outputs_retrieve",
        parameters=[openapi.CARD_KEY, openapi.CONFIGURATION, openapi.SURVEY_ID, openapi.REFRESH],
        responses={200: openapi.CardOutputs, **errors(400, 404, 502)},
    )
    def get(self, request, key: str):
        try:
            card = registry.get(key)
        except UnknownCardError as exc:
            return _error(str(exc), status.HTTP_404_NOT_FOUND)
        configuration = None
        raw_id = request.query_params.get("configuration")
        if raw_id not in (None, ""):
            configuration = _usable_configuration(request, raw_id)
            if configuration is None:
                return _error(CONFIGURATION_NOT_FOUND, status.HTTP_404_NOT_FOUND)
        chosen = {f.key: request.query_params[f.key] for f in card.options if f.key in request.query_params}
        try:
            outputs = services.card_outputs(
                card=card, configuration=configuration, options=chosen, refresh=_refresh(request)
            )
        except services.OptionsError as exc:
            return _error(exc.message, exc.status)
        response = Response({"card": card.key, "options": chosen, "outputs": outputs})
        patch_cache_control(response, private=True, no_cache=True)
        return response


class OptionChoicesApi(APIView):
    """GET /api/configurations/<id>/options/<source>/?<depends_on option>=<value>."""

    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="configurations_options_retrieve",
        parameters=[openapi.SOURCE, openapi.DIRECTORY_ID, openapi.REFRESH],
        responses={200: openapi.Choices, **errors(400, 404, 502)},
    )
    def get(self, request, pk: int, source: str):
        configuration = _usable_configuration(request, pk)
        if configuration is None:
            return _error(CONFIGURATION_NOT_FOUND, status.HTTP_404_NOT_FOUND)
        try:
            choices = services.option_choices(
                configuration=configuration, source=source, params=request.query_params, refresh=_refresh(request)
            )
        except services.OptionsError as exc:
            return _error(exc.message, exc.status)
        response = Response({"choices": choices})
        patch_cache_control(response, private=True, no_cache=True)
        return response
