from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import configurations as services
from accounts.openapi import (
    ConfigurationCreate,
    ConfigurationDeleted,
    ConfigurationFieldErrors,
    ConfigurationOut,
    ConfigurationUpdate,
    errors,
)
from accounts.permissions import TeamRole
from accounts.selectors import configuration_can_manage, configurations_visible
from accounts.serializers import ConfigurationInputSerializer, ConfigurationSerializer


def _input_error(exc: services.ConfigurationInputError) -> Response:
    return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)


def _refused(field: str, message: str) -> Response:
    return Response({field: [message]}, status=status.HTTP_400_BAD_REQUEST)


class ConfigurationListApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(operation_id="configurations_list", responses={200: ConfigurationOut(many=True), **errors()})
    def get(self, request):
        items = configurations_visible(membership=request.membership)
        return Response(ConfigurationSerializer(items, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="configurations_create",
        description=(
            "Creates a connection of `connector` and authorizes it with that service. `connector` may be left "
            "out when only one connector on the server takes connections."
        ),
        request=ConfigurationCreate,
        responses={201: ConfigurationOut, 400: ConfigurationFieldErrors, **errors(415)},
    )
    def post(self, request):
        serializer = ConfigurationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        connector = values.get("connector")
        if not connector:
            choices = services.connectors_with_credentials()
            if len(choices) != 1:
                keys = ", ".join(c.key for c in choices)
                return _refused("connector", f"Name the connector to connect ({keys}).")
            connector = choices[0].key
        try:
            configuration = services.configuration_create(
                membership=request.membership, connector=connector, name=values.get("name", ""),
                credentials=values.get("credentials") or {}, shared=values.get("shared", False),
            )
        except services.ConfigurationInputError as exc:
            return _input_error(exc)
        data = ConfigurationSerializer(configuration, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class ConfigurationDetailApi(APIView):
    permission_classes = [TeamRole]

    def _get(self, request, pk, manage=False):
        configuration = get_object_or_404(configurations_visible(membership=request.membership), pk=pk)
        if manage and not configuration_can_manage(membership=request.membership, configuration=configuration):
            self.permission_denied(request, "Only the creator, or a team owner or admin for shared ones, can change this configuration.")
        return configuration

    @extend_schema(operation_id="configurations_retrieve", responses={200: ConfigurationOut, **errors(404)})
    def get(self, request, pk: int):
        return Response(ConfigurationSerializer(self._get(request, pk), context={"request": request}).data)

    def _update(self, request, pk: int, *, partial: bool):
        configuration = self._get(request, pk, manage=True)
        serializer = ConfigurationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        if values.get("connector") not in (None, configuration.connector):
            return _refused("connector", "The connector of a configuration cannot be changed; add a new one instead.")
        given = values.get("credentials") or {}
        credentials = {**(configuration.public_credentials or {}), **given} if partial else given
        try:
            configuration = services.configuration_update(
                configuration=configuration,
                name=values.get("name", configuration.name if partial else ""),
                credentials=credentials,
                shared=values.get("shared", configuration.shared if partial else False),
            )
        except services.ConfigurationInputError as exc:
            return _input_error(exc)
        return Response(ConfigurationSerializer(configuration, context={"request": request}).data)

    @extend_schema(
        operation_id="configurations_update",
        description=(
            "Replaces its name, sharing and credentials; a blank or absent secret keeps the stored one. "
            "Changed credentials are authorized again."
        ),
        request=ConfigurationUpdate,
        responses={200: ConfigurationOut, 400: ConfigurationFieldErrors, **errors(404, 415)},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="configurations_partial_update",
        description=(
            "Changes what is given; credential fields left out keep their values, and a blank secret keeps the "
            "stored one. Changed credentials are authorized again."
        ),
        request=ConfigurationUpdate,
        responses={200: ConfigurationOut, 400: ConfigurationFieldErrors, **errors(404, 415)},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    @extend_schema(
        operation_id="configurations_destroy",
        description="Deletes it; flows that used it are deactivated with a reason.",
        responses={200: ConfigurationDeleted, **errors(404)},
    )
    def delete(self, request, pk: int):
        configuration = self._get(request, pk, manage=True)
        names = services.configuration_delete(configuration=configuration)
        return Response({"deactivated_flows": names})


class ConfigurationAuthorizeApi(ConfigurationDetailApi):
    # Only POST: the read, change and delete methods it inherits belong to the configuration's own URL.
    http_method_names = ["post", "options"]

    @extend_schema(
        operation_id="configurations_authorize",
        description="Proves the credentials again with the service; `status` and `status_message` say how it went.",
        request=None,
        responses={200: ConfigurationOut, **errors(404)},
    )
    def post(self, request, pk: int):
        configuration = services.configuration_authorize(configuration=self._get(request, pk, manage=True))
        return Response(ConfigurationSerializer(configuration, context={"request": request}).data)
