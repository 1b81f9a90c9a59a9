"""REST endpoints for flows, versions, activation and runs. Thin: parse, call a service, answer."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.openapi import errors
from accounts.permissions import TeamRole
from config.ids import row_id
from designer import activation as activation_services
from designer import openapi
from designer import runs as run_services
from designer import services, steptests
from designer.models import Flow, RunStatus
from designer.selectors import RunFilters, flows_for_team, runs_for_team, runs_page, runs_selected
from designer.serializers import activation_json, flow_json, flow_summary_json, run_json, version_json


def invalid_response(exc: services.FlowInvalid, what: str) -> Response:
    """A definition refused by validation (on save, restore, duplicate or import), per card and field."""
    return Response(
        {"detail": f"{what}: {len(exc.problems)} problem(s) to fix.", "errors": [p.to_json() for p in exc.problems]},
        status=status.HTTP_400_BAD_REQUEST,
    )


class FlowApiBase(APIView):
    permission_classes = [TeamRole]

    def get_flow(self, request, pk: int) -> Flow:
        return get_object_or_404(flows_for_team(team=request.team), pk=pk)

    def flow_response(self, request, pk: int, code=status.HTTP_200_OK, **extra) -> Response:
        return Response({**flow_json(self.get_flow(request, pk)), **extra}, status=code)


class FlowListApi(FlowApiBase):
    @extend_schema(operation_id="flows_list", responses={200: openapi.FlowSummary(many=True), **errors()})
    def get(self, request):
        return Response([flow_summary_json(f) for f in flows_for_team(team=request.team)])

    @extend_schema(
        operation_id="flows_create", request=openapi.FlowCreate, responses={201: openapi.Flow, **errors(400, 415)}
    )
    def post(self, request):
        flow = services.flow_create(membership=request.membership, name=str(request.data.get("name", "")))
        return self.flow_response(request, flow.pk, status.HTTP_201_CREATED)


class FlowDetailApi(FlowApiBase):
    @extend_schema(operation_id="flows_retrieve", responses={200: openapi.Flow, **errors(404)})
    def get(self, request, pk: int):
        return self.flow_response(request, pk)

    @extend_schema(
        operation_id="flows_update",
        description="Saves the draft, in any state: its problems are stored with it and answered as `problems` "
        "(Publish refuses it until none are left). A definition that is not a flow at all, or over the size limits, "
        "is refused (400). `base_version` is the draft revision the editor loaded (409 over a newer draft).",
        request=openapi.FlowSave,
        responses={200: openapi.Flow, 400: openapi.FlowInvalid, **errors(404, 409, 415)},
    )
    def put(self, request, pk: int):
        flow = self.get_flow(request, pk)
        definition = request.data.get("definition")
        base_version, name = request.data.get("base_version"), request.data.get("name")
        if isinstance(base_version, str) and base_version.isascii() and base_version.isdigit():
            base_version = int(base_version)
        if base_version is not None and (isinstance(base_version, bool) or not isinstance(base_version, int)):
            message = "base_version must be the number of the version you opened."
            return Response({"detail": message}, status=status.HTTP_400_BAD_REQUEST)
        if name is not None and not isinstance(name, str):
            return Response({"detail": "name must be text."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            services.flow_save(
                membership=request.membership, flow=flow, definition=definition, base_version=base_version, name=name,
            )
        except services.FlowInvalid as exc:
            return invalid_response(exc, "Not saved")
        except services.StaleVersion as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self.flow_response(request, pk)


    @extend_schema(
        operation_id="flows_rename",
        request=openapi.FlowRename,
        responses={200: openapi.Flow, **errors(400, 404, 415)},
    )
    def patch(self, request, pk: int):
        try:
            services.flow_rename(flow=self.get_flow(request, pk), name=str(request.data.get("name", "")), user=request.user)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return self.flow_response(request, pk)

    @extend_schema(
        operation_id="flows_destroy",
        description="Deactivates the flow if needed, then deletes it with its versions and runs.",
        responses={204: OpenApiResponse(description="Deleted."), **errors(404)},
    )
    def delete(self, request, pk: int):
        services.flow_delete(flow=self.get_flow(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _revision(value):
    """An int from a JSON number or a string of ASCII digits; None when absent; ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


class FlowPublishApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_publish",
        description="Validates the draft (as a save does, for the person publishing) and publishes it as a new "
        "version, the live one. An active flow switches to it atomically: each delivery runs on exactly one of the "
        "two versions. 409 with `problems` when the draft has any (or when the draft is newer than "
        "`base_revision`). A draft that is the live version already publishes nothing.",
        request=openapi.FlowPublish,
        responses={200: openapi.Flow, 409: openapi.FlowUnpublishable, **errors(400, 404, 415)},
    )
    def post(self, request, pk: int):
        flow = self.get_flow(request, pk)
        try:
            base_revision = _revision(request.data.get("base_revision"))
        except ValueError:
            return Response({"detail": "base_revision must be the draft revision you opened."},
                            status=status.HTTP_400_BAD_REQUEST)
        note = request.data.get("note", "")
        if not isinstance(note, str):
            return Response({"detail": "note must be text."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            services.flow_publish(membership=request.membership, flow=flow, base_revision=base_revision,
                                  note=note.replace("\x00", "").strip()[:200])
        except services.FlowInvalid as exc:
            count = len(exc.problems)
            return Response(
                {"detail": f"Not published: {count} problem{'' if count == 1 else 's'} to fix.",
                 "problems": [p.to_json() for p in exc.problems]},
                status=status.HTTP_409_CONFLICT,
            )
        except services.StaleVersion as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self.flow_response(request, pk)


class FlowDiscardApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_discard",
        description="Discards the draft: it becomes the live version again. 409 before the first publish.",
        request=None,
        responses={200: openapi.Flow, **errors(404, 409)},
    )
    def post(self, request, pk: int):
        try:
            services.flow_discard(membership=request.membership, flow=self.get_flow(request, pk))
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return self.flow_response(request, pk)


class FlowDuplicateApi(FlowApiBase):
    @extend_schema(operation_id="flows_duplicate", request=None,
                   responses={201: openapi.Flow, 400: openapi.FlowInvalid, **errors(404)})
    def post(self, request, pk: int):
        try:
            copy = services.flow_duplicate(membership=request.membership, flow=self.get_flow(request, pk))
        except services.FlowInvalid as exc:
            return invalid_response(exc, "Not duplicated")
        return self.flow_response(request, copy.pk, status.HTTP_201_CREATED)


class FlowVersionListApi(FlowApiBase):
    @extend_schema(operation_id="flows_versions_list", responses={200: openapi.Version(many=True), **errors(404)})
    def get(self, request, pk: int):
        flow = self.get_flow(request, pk)
        versions = flow.versions.select_related("created_by")
        return Response([version_json(v, live_id=flow.live_version_id) for v in versions])


class FlowVersionDetailApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_versions_retrieve",
        parameters=[openapi.VERSION_NUMBER],
        responses={200: openapi.VersionWithDefinition, **errors(404)},
    )
    def get(self, request, pk: int, number: int):
        flow = self.get_flow(request, pk)
        version = get_object_or_404(flow.versions, number=number)
        return Response(version_json(version, with_definition=True, live_id=flow.live_version_id))


class FlowVersionRestoreApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_versions_restore",
        description="Loads that version's definition into the draft, with the problems a save would find "
        "(`problems`); Publish makes it live again as a new version.",
        parameters=[openapi.VERSION_NUMBER],
        request=None,
        responses={200: openapi.Flow, 400: openapi.FlowInvalid, **errors(404)},
    )
    def post(self, request, pk: int, number: int):
        flow = self.get_flow(request, pk)
        get_object_or_404(flow.versions, number=number)
        try:
            services.flow_restore(membership=request.membership, flow=flow, number=number)
        except services.FlowInvalid as exc:
            return invalid_response(exc, "Not restored")
        return self.flow_response(request, pk)


class FlowExportApi(FlowApiBase):
    @extend_schema(operation_id="flows_export", responses={200: openapi.FlowExport, **errors(404)})
    def get(self, request, pk: int):
        flow = self.get_flow(request, pk)
        response = Response(services.flow_export(flow=flow))
        response["Content-Disposition"] = f'attachment; filename="flow-{flow.pk}.json"'
        return response


class FlowImportApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_import",
        description="Creates a flow from an export; configuration references are remapped by name or cleared.",
        request=openapi.FlowExport,
        responses={201: openapi.FlowImported, 400: openapi.FlowInvalid, **errors(415)},
    )
    def post(self, request):
        try:
            flow, warnings = services.flow_import(membership=request.membership, document=request.data)
        except services.FlowInvalid as exc:
            return invalid_response(exc, "Not imported")
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return self.flow_response(request, flow.pk, status.HTTP_201_CREATED, warnings=warnings)


class FlowActivateApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_activate",
        description="Publishes the draft if it changed (refused, 400 with `errors`, when it has problems), pins "
        "the live version and enables its event card's trigger: a webhook subscription (or polling when the "
        "service cannot call this server), a schedule, or a URL of its own.",
        request=None,
        responses={200: openapi.Activation, 400: openapi.FlowInvalid, **errors(404)},
    )
    def post(self, request, pk: int):
        try:
            activation = activation_services.flow_activate(
                flow=self.get_flow(request, pk), user=request.user, membership=request.membership
            )
        except activation_services.ActivationError as exc:
            body = {"detail": str(exc)}
            if exc.problems:
                body["errors"] = [p.to_json() for p in exc.problems]
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(activation_json(activation))


class FlowDeactivateApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_deactivate", request=None, responses={200: openapi.Activation, **errors(404)}
    )
    def post(self, request, pk: int):
        activation = activation_services.flow_deactivate(flow=self.get_flow(request, pk))
        return Response(activation_json(activation))


class FlowActivationApi(FlowApiBase):
    @extend_schema(operation_id="flows_activation_retrieve", responses={200: openapi.Activation, **errors(404)})
    def get(self, request, pk: int):
        return Response(activation_json(getattr(self.get_flow(request, pk), "activation", None)))


class FlowTestApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_test",
        description="Runs the published (live) version on one of the recent events (`event_id` from recent-events); "
        "a draft never runs.",
        request=openapi.FlowTest,
        responses={202: openapi.RunRef, **errors(400, 404, 415)},
    )
    def post(self, request, pk: int):
        try:
            event_id = request.data.get("event_id", request.data.get("response_id", ""))
            run = run_services.flow_test(flow=self.get_flow(request, pk), event_id=str(event_id or ""))
        except run_services.RunRequestError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"run": run.pk}, status=status.HTTP_202_ACCEPTED)


class FlowRecentEventsApi(FlowApiBase):
    # It reads events through the flow's connection, which only editors and up may use.
    read_role = Role.EDITOR

    @extend_schema(
        operation_id="flows_recent_events",
        description="Recent events of the flow's trigger (the latest responses of its survey, say), to test the flow with.",
        responses={200: openapi.RecentEvents, **errors(400, 404)},
    )
    def get(self, request, pk: int):
        try:
            items = run_services.flow_recent_events(flow=self.get_flow(request, pk))
        except run_services.RunRequestError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"events": items})


class FileUploadApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="files_upload",
        description="Stores a file for a card's file input; the answer is the value to put in that input.",
        request={"multipart/form-data": openapi.FileUpload},
        responses={201: openapi.FileValue, **errors(400, 415)},
    )
    def post(self, request):
        from designer.files import UploadError, file_upload

        try:
            value = file_upload(team=request.team, upload=request.FILES.get("file"))
        except UploadError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(value, status=status.HTTP_201_CREATED)


class RunListApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="runs_list",
        description="The current team's runs, newest first, 200 a page (or `limit`). When there are more, the "
        "`Link` header holds the next page's URL (`rel=\"next\"`) and `X-Next-Cursor` its cursor.",
        parameters=[
            *openapi.RUN_FILTERS,
            OpenApiParameter("Link", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                             description='<…/api/runs/?…&cursor=123>; rel="next", when there is a next page.'),
            OpenApiParameter("X-Next-Cursor", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
                             description="The cursor of the next page, when there is one."),
        ],
        responses={200: openapi.Run(many=True), **errors()},
    )
    def get(self, request):
        filters = RunFilters.from_query(request.query_params)
        size = min(row_id(request.query_params.get("limit")) or 200, 200)
        page = runs_page(team=request.team, filters=filters, cursor=request.query_params.get("cursor"), size=size)
        response = Response([run_json(r) for r in page.runs])
        if page.next_cursor:
            extra = {"cursor": page.next_cursor, "limit": size if size != 200 else None}
            url = request.build_absolute_uri(f"{request.path}?{filters.query(**extra)}")
            response["Link"] = f'<{url}>; rel="next"'
            response["X-Next-Cursor"] = str(page.next_cursor)
        return response


class RunDetailApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(operation_id="runs_retrieve", responses={200: openapi.RunDetail, **errors(404)})
    def get(self, request, pk: int):
        run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
        return Response(run_json(run, with_steps=True))


class RunRerunApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="runs_rerun",
        description="A new run of the same event. A step test is not re-run (409): test the step again instead.",
        request=openapi.Rerun,
        responses={202: openapi.RunRef, **errors(400, 404, 409, 415)},
    )
    def post(self, request, pk: int):
        run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
        try:
            new = run_services.run_rerun(run=run, use_current=request.data.get("version") == "current")
        except run_services.RerunRefused as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        return Response({"run": new.pk}, status=status.HTTP_202_ACCEPTED)


class RunResumeApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="runs_resume",
        description=(
            "Resumes a run that needs attention (a step whose change may have been applied): with "
            "`resend: false` the run goes on after the step without sending it again, its outputs empty; with "
            "`resend: true` the step's change is sent once more. Who chose, and when, is kept on the step."
        ),
        request=openapi.Resume,
        responses={202: openapi.Run, **errors(400, 404, 409, 415)},
    )
    def post(self, request, pk: int):
        run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
        resend = request.data.get("resend", False)
        if not isinstance(resend, bool):
            return Response({"detail": "resend must be true or false."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            run = run_services.run_resume(run=run, user=request.user, resend=resend)
        except run_services.RunRequestError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(run_json(run), status=status.HTTP_202_ACCEPTED)
class RunCancelApi(APIView):
    permission_classes = [TeamRole]

    @extend_schema(
        operation_id="runs_cancel",
        description="Cancels a run that has not ended: a queued run (or one whose worker stopped) at once, a "
        "running run at its next step; until then it answers the run as running. 409 when the run has ended.",
        request=None,
        responses={200: openapi.Run, **errors(404, 409)},
    )
    def post(self, request, pk: int):
        run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
        if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.ATTENTION):
            return Response({"detail": "This run has already ended."}, status=status.HTTP_409_CONFLICT)
        return Response(run_json(run_services.run_cancel(run=run)))


class RunBulkRerunApi(APIView):
    permission_classes = [TeamRole]
    write_role = Role.EDITOR

    @extend_schema(
        operation_id="runs_rerun_many",
        description="Re-runs those of the given runs that belong to the current team, leaving step tests out.",
        request=openapi.BulkRerun,
        responses={202: openapi.RunRefs, **errors(400, 415)},
    )
    def post(self, request):
        ids = request.data.get("ids", [])
        if not isinstance(ids, list):
            return Response({"detail": "ids must be a list of run ids."}, status=status.HTTP_400_BAD_REQUEST)
        ids = [i for i in ids if isinstance(i, int) and row_id(i)][:500]
        runs = run_services.rerunnable(runs_for_team(team=request.team).filter(pk__in=ids))
        use_current = request.data.get("version") == "current"
        created, _step_tests = run_services.runs_rerun_many(runs=runs, use_current=use_current)
        return Response({"runs": [r.pk for r in created]}, status=status.HTTP_202_ACCEPTED)


class RunBulkCancelApi(APIView):
    permission_classes = [TeamRole]
    write_role = Role.EDITOR

    @extend_schema(
        operation_id="runs_cancel_many",
        description="Cancels those of the given runs (or of the newest 500 matching `filter`) that belong to the "
        "current team and have not ended; see runs_cancel for when each stops.",
        request=openapi.BulkCancel,
        responses={200: openapi.BulkCancelled, **errors(400, 415)},
    )
    def post(self, request):
        ids, chosen = request.data.get("ids"), request.data.get("filter")
        if ids is not None and not isinstance(ids, list):
            return Response({"detail": "ids must be a list of run ids."}, status=status.HTTP_400_BAD_REQUEST)
        if chosen is not None and not isinstance(chosen, dict):
            return Response({"detail": "filter must be an object of the list's filters."},
                            status=status.HTTP_400_BAD_REQUEST)
        if ids is None and chosen is None:
            return Response({"detail": "Give ids or filter."}, status=status.HTTP_400_BAD_REQUEST)
        if ids is not None:
            runs = runs_selected(team=request.team, ids=[i for i in ids if isinstance(i, int)])
        else:
            runs = runs_selected(team=request.team, filters=RunFilters.from_query(chosen))
        cancelled, ended = run_services.runs_cancel_many(runs=runs)
        return Response({"cancelled": [r.pk for r in cancelled], "ended": [r.pk for r in ended]})


def _step_test_refused(exc: Exception) -> Response:
    if isinstance(exc, services.FlowInvalid):
        return invalid_response(exc, "Not tested")
    if isinstance(exc, steptests.ConfirmationNeeded):
        return Response({"detail": str(exc), "changes": exc.changes}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, steptests.StepNotFound):
        return Response({"detail": str(exc)}, status=status.HTTP_404_NOT_FOUND)
    return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)


class FlowSampleApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_samples_retrieve",
        description="The samples pinned for the flow's steps: the event card's sample event and each tested step's "
        "outputs, by step id.",
        responses={200: openapi.StepSamples, **errors(404)},
    )
    def get(self, request, pk: int):
        return Response({"samples": steptests.step_samples(flow=self.get_flow(request, pk))})

    @extend_schema(
        operation_id="flows_sample_load",
        description="Loads the event card's sample: the latest event of its trigger (the survey's latest response, "
        "the schedule's next tick), the event `event_id`, or `data` as pasted; runs the event card on it, recorded as "
        "a test run, and pins its outputs as the sample.",
        request=openapi.SampleLoad,
        responses={200: openapi.SampleResult, 400: openapi.FlowInvalid, **errors(404, 415)},
    )
    def post(self, request, pk: int):
        flow = self.get_flow(request, pk)
        event_id = request.data.get("event_id", "")
        if not isinstance(event_id, str):
            return Response({"detail": "event_id must be text."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            result = steptests.sample_load(membership=request.membership, flow=flow,
                                           definition=request.data.get("definition"), event_id=event_id,
                                           data=request.data.get("data"))
        except (services.FlowInvalid, steptests.StepTestError) as exc:
            return _step_test_refused(exc)
        return Response(result)


class FlowStepTestApi(FlowApiBase):
    @extend_schema(
        operation_id="flows_step_test",
        description="Runs one card once with its inputs resolved against the pinned samples of the steps before it, "
        "recorded as a test run (no alerts), and pins its outputs as the step's sample. A failure is answered 200 "
        "with `status: failed` and the error. A card that changes something is refused with 409 and what it would "
        "change unless `confirm` is true. The event card (`trigger`) loads its sample instead.",
        parameters=[openapi.STEP_ID],
        request=openapi.StepTest,
        responses={200: openapi.StepTestResult, 400: openapi.FlowInvalid, 409: openapi.ConfirmationNeeded,
                   **errors(404, 415)},
    )
    def post(self, request, pk: int, step_id: str):
        flow = self.get_flow(request, pk)
        confirm = request.data.get("confirm", False)
        if not isinstance(confirm, bool):
            return Response({"detail": "confirm must be true or false."}, status=status.HTTP_400_BAD_REQUEST)
        try:
            result = steptests.step_test(membership=request.membership, flow=flow, step_id=step_id,
                                         definition=request.data.get("definition"), confirm=confirm)
        except (services.FlowInvalid, steptests.StepTestError) as exc:
            return _step_test_refused(exc)
        return Response(result)
