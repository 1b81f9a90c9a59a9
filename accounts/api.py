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
from accounts.serializers import ConfigurationSerializer


def _input_error(exc: services.ConfigurationInputError) -> Response:
    return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)


class ConfigurationListApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(operation_id="configurations_list", responses={200: ConfigurationOut(many=True), **errors()})
    def get(self, request):
        items = configurations_visible(membership=request.membership)
        return Response(ConfigurationSerializer(items, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="configurations_create",
        description="Creates a configuration and authorizes it with Qualtrics (`GET whoami`).",
        request=ConfigurationCreate,
        responses={201: ConfigurationOut, 400: ConfigurationFieldErrors, **errors(415)},
    )
    def post(self, request):
        serializer = ConfigurationSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            # A missing token is the service's to refuse, with its message on the api_token field.
            values = {"api_token": "", **serializer.validated_data}
            configuration = services.configuration_create(membership=request.membership, **values)
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

    @extend_schema(
        operation_id="configurations_partial_update",
        description="Changes it; a new token or data center is authorized again.",
        request=ConfigurationUpdate,
        responses={200: ConfigurationOut, 400: ConfigurationFieldErrors, **errors(404, 415)},
    )
    def patch(self, request, pk: int):
        configuration = self._get(request, pk, manage=True)
        serializer = ConfigurationSerializer(configuration, data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        values = {f: getattr(configuration, f) for f in ("name", "datacenter", "username", "shared")}
        values.update(serializer.validated_data)
        values.setdefault("api_token", "")
        try:
            configuration = services.configuration_update(configuration=configuration, **values)
        except services.ConfigurationInputError as exc:
            return _input_error(exc)
        return Response(ConfigurationSerializer(configuration, context={"request": request}).data)

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
        description="Proves the token again with `GET whoami`; `status` and `status_message` say how it went.",
        request=None,
        responses={200: ConfigurationOut, **errors(404)},
    )
    def post(self, request, pk: int):
        configuration = services.configuration_authorize(configuration=self._get(request, pk, manage=True))
        return Response(ConfigurationSerializer(configuration, context={"request": request}).data)
