"""REST endpoints for flows, versions, activation and runs. Thin: parse, call a service, answer."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.permissions import TeamRole
from designer import activation as activation_services
from designer import runs as run_services
from designer import services
from designer.models import Flow
from designer.selectors import flows_for_team, runs_for_team
from designer.serializers import activation_json, flow_json, flow_summary_json, run_json, version_json


class FlowApiBase(APIView):
    permission_classes = [TeamRole]

    def get_flow(self, request, pk: int) -> Flow:
        return get_object_or_404(flows_for_team(team=request.team), pk=pk)

    def flow_response(self, request, pk: int, code=status.HTTP_200_OK, **extra) -> Response:
        return Response({**flow_json(self.get_flow(request, pk)), **extra}, status=code)


class FlowListApi(FlowApiBase):
    def get(self, request):
        return Response([flow_summary_json(f) for f in flows_for_team(team=request.team)])

    def post(self, request):
        flow = services.flow_create(membership=request.membership, name=str(request.data.get("name", "")))
        return self.flow_response(request, flow.pk, status.HTTP_201_CREATED)


class FlowDetailApi(FlowApiBase):
    def get(self, request, pk: int):
        return self.flow_response(request, pk)

    def put(self, request, pk: int):
        flow = self.get_flow(request, pk)
        definition = request.data.get("definition")
        try:
            services.flow_save(
                membership=request.membership, flow=flow, definition=definition,
                base_version=request.data.get("base_version"), name=request.data.get("name"),
            )
        except services.FlowInvalid as exc:
            return Response(
                {"detail": f"Not saved: {len(exc.problems)} problem(s) to fix.", "errors": [p.to_json() for p in exc.problems]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except services.StaleVersion as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self.flow_response(request, pk)

    def patch(self, request, pk: int):
        try:
            services.flow_rename(flow=self.get_flow(request, pk), name=str(request.data.get("name", "")), user=request.user)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return self.flow_response(request, pk)

    def delete(self, request, pk: int):
        services.flow_delete(flow=self.get_flow(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FlowDuplicateApi(FlowApiBase):
    def post(self, request, pk: int):
        copy = services.flow_duplicate(membership=request.membership, flow=self.get_flow(request, pk))
        return self.flow_response(request, copy.pk, status.HTTP_201_CREATED)


class FlowVersionListApi(FlowApiBase):
    def get(self, request, pk: int):
        versions = self.get_flow(request, pk).versions.select_related("created_by")
        return Response([version_json(v) for v in versions])


class FlowVersionDetailApi(FlowApiBase):
    def get(self, request, pk: int, number: int):
        version = get_object_or_404(self.get_flow(request, pk).versions, number=number)
        return Response(version_json(version, with_definition=True))


class FlowVersionRestoreApi(FlowApiBase):
    def post(self, request, pk: int, number: int):
        flow = self.get_flow(request, pk)
        get_object_or_404(flow.versions, number=number)
        services.flow_restore(membership=request.membership, flow=flow, number=number)
        return self.flow_response(request, pk)


class FlowExportApi(FlowApiBase):
    def get(self, request, pk: int):
        flow = self.get_flow(request, pk)
        response = Response(services.flow_export(flow=flow))
        response["Content-Disposition"] = f'attachment; filename="flow-{flow.pk}.json"'
        return response


class FlowImportApi(FlowApiBase):
    def post(self, request):
        try:
            flow, warnings = services.flow_import(membership=request.membership, document=request.data)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return self.flow_response(request, flow.pk, status.HTTP_201_CREATED, warnings=warnings)


class FlowActivateApi(FlowApiBase):
    def post(self, request, pk: int):
        try:
            activation = activation_services.flow_activate(flow=self.get_flow(request, pk), user=request.user)
        except activation_services.ActivationError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(activation_json(activation))


class FlowDeactivateApi(FlowApiBase):
    def post(self, request, pk: int):
        activation = activation_services.flow_deactivate(flow=self.get_flow(request, pk))
        return Response(activation_json(activation))


class FlowActivationApi(FlowApiBase):
    def get(self, request, pk: int):
        return Response(activation_json(getattr(self.get_flow(request, pk), "activation", None)))


class FlowTestApi(FlowApiBase):
    def post(self, request, pk: int):
        try:
            run = run_services.flow_test(flow=self.get_flow(request, pk), response_id=str(request.data.get("response_id", "")))
        except run_services.RunRequestError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"run": run.pk}, status=status.HTTP_202_ACCEPTED)


class FlowRecentResponsesApi(FlowApiBase):
    # It reads responses through the flow's configuration, which only editors and up may use.
    read_role = Role.EDITOR

    def get(self, request, pk: int):
        try:
            items = run_services.recent_responses(flow=self.get_flow(request, pk))
        except run_services.RunRequestError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"responses": items})


class FileUploadApi(APIView):
    permission_classes = [TeamRole]

    def post(self, request):
        from designer.files import UploadError, file_upload

        try:
            value = file_upload(team=request.team, upload=request.FILES.get("file"))
        except UploadError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(value, status=status.HTTP_201_CREATED)


class RunListApi(APIView):
    permission_classes = [TeamRole]

    def get(self, request):
        flow_id = request.query_params.get("flow")
        runs = runs_for_team(
            team=request.team, flow_id=int(flow_id) if str(flow_id).isdigit() else None,
            outcome=request.query_params.get("outcome") or None,
        )[:200]
        return Response([run_json(r) for r in runs])


class RunDetailApi(APIView):
    permission_classes = [TeamRole]

    def get(self, request, pk: int):
        run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
        return Response(run_json(run, with_steps=True))


class RunRerunApi(APIView):
    permission_classes = [TeamRole]

    def post(self, request, pk: int):
        run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
        new = run_services.run_rerun(run=run, use_current=request.data.get("version") == "current")
        return Response({"run": new.pk}, status=status.HTTP_202_ACCEPTED)


class RunBulkRerunApi(APIView):
    permission_classes = [TeamRole]
    write_role = Role.EDITOR

    def post(self, request):
        ids = [i for i in request.data.get("ids", []) if isinstance(i, int)][:500]
        runs = runs_for_team(team=request.team).filter(pk__in=ids)
        use_current = request.data.get("version") == "current"
        new = [run_services.run_rerun(run=r, use_current=use_current).pk for r in runs]
        return Response({"runs": new}, status=status.HTTP_202_ACCEPTED)
