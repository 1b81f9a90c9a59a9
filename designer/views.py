"""Pages for flows and runs. Thin: parse, call a service, render."""

from __future__ import annotations

import json
import os

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.html import json_script
from django.views.decorators.http import require_POST
from rest_framework.utils.encoders import JSONEncoder

from accounts.models import Role
from accounts.permissions import team_required
from accounts.selectors import configurations_visible
from accounts.serializers import ConfigurationSerializer
from config.ids import row_id
from connectors import registry
from designer.triggers import webhook_path, webhook_url
from designer import activation as activation_services
from designer import runs as run_services
from designer import presenters, services
from designer.models import DeliverySource, RunStatus
from designer.selectors import (
    BULK_LIMIT,
    EXPORT_LIMIT,
    SEARCH_WINDOW,
    RunFilters,
    dashboard_data,
    flows_for_team,
    run_counts,
    runs_export_rows,
    runs_for_team,
    runs_page,
    runs_selected,
)
from designer.serializers import activation_json, flow_json


def problems_text(exc: services.FlowInvalid, shown: int = 3) -> str:
    """The first problems of a refused definition, in words, for a message."""
    parts = [f"{p.step}: {p.message}" if p.step not in ("flow", "trigger") else p.message for p in exc.problems[:shown]]
    more = len(exc.problems) - shown
    return " ".join(parts) + (f" (and {more} more)" if more > 0 else "")


@team_required()
def flow_list(request):
    return render(request, "designer/flow_list.html", {"flows": flows_for_team(team=request.team)})


@team_required(Role.EDITOR)
@require_POST
def flow_create(request):
    flow = services.flow_create(membership=request.membership, name=request.POST.get("name", ""))
    return redirect("flow_editor", pk=flow.pk)


@team_required(Role.EDITOR)
@require_POST
def flow_action(request, pk: int, action: str):
    flow = get_object_or_404(flows_for_team(team=request.team), pk=pk)
    if action == "rename":
        try:
            services.flow_rename(flow=flow, name=request.POST.get("name", ""), user=request.user)
            messages.success(request, f"Renamed to “{flow.name}”.")
        except ValueError as exc:
            messages.error(request, str(exc))
    elif action == "duplicate":
        try:
            copy = services.flow_duplicate(membership=request.membership, flow=flow)
            messages.success(request, f"Created “{copy.name}”.")
        except services.FlowInvalid as exc:
            messages.error(request, f"Not duplicated: {problems_text(exc)}")
    elif action == "delete":
        services.flow_delete(flow=flow)
        messages.success(request, f"Deleted “{flow.name}”.")
    elif action in ("activate", "deactivate"):
        try:
            if action == "activate":
                activation = activation_services.flow_activate(flow=flow, user=request.user, membership=request.membership)
                messages.success(request, f"“{flow.name}” is {activation.get_status_display().lower()}. {activation.reason}")
            else:
                activation_services.flow_deactivate(flow=flow)
                messages.success(request, f"“{flow.name}” is inactive.")
        except activation_services.ActivationError as exc:
            messages.error(request, f"Not activated: {exc}")
        return redirect("flow_status", pk=flow.pk)
    return redirect("flows")


@team_required(Role.EDITOR)
@require_POST
def flow_import(request):
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValueError("Choose an exported flow file (.json).")
        if upload.size > 2 * 1024 * 1024:
            raise ValueError("That file is larger than 2 MB; a flow export is much smaller.")
        try:
            document = json.loads(upload.read().decode("utf-8"))
        except RecursionError:
            raise ValueError("That file is nested too deeply to be a flow export.") from None
        flow, warnings = services.flow_import(membership=request.membership, document=document)
    except services.FlowInvalid as exc:
        messages.error(request, f"Not imported: {problems_text(exc)}")
        return redirect("flows")
    except (ValueError, UnicodeDecodeError) as exc:
        messages.error(request, f"Not imported: {exc}")
        return redirect("flows")
    for warning in warnings:
        messages.warning(request, warning)
    messages.success(request, f"Imported “{flow.name}”.")
    return redirect("flow_editor", pk=flow.pk)


EDITOR_MODULES = "js/editor"


def editor_module_urls() -> list[str]:
    """The URL of every ES module of the editor (static/js/editor/*.js), for modulepreload links:
    the browser then fetches them all at once instead of discovering them import by import."""
    folder = finders.find(EDITOR_MODULES)
    if not folder or not os.path.isdir(folder):
        return []
    names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file() and entry.name.endswith(".js"))
    return [static(f"{EDITOR_MODULES}/{name}") for name in names]


def editor_initial_data(request, flow) -> str:
    """The catalog, the flow and the configurations, as GET /api/catalog/, /api/flows/<id>/ and
    /api/configurations/ answer them, in a JSON script element: the editor starts without
    waiting for three requests."""
    configurations = ConfigurationSerializer(
        configurations_visible(membership=request.membership), many=True, context={"request": request}
    ).data
    data = {"catalog": registry.catalog_json(), "flow": flow_json(flow), "configurations": configurations}
    return json_script(data, "editor-initial", encoder=JSONEncoder)


@team_required()
def flow_editor(request, pk: int):
    flow = get_object_or_404(flows_for_team(team=request.team), pk=pk)
    return render(request, "designer/editor.html", {
        "flow": flow, "can_edit": request.membership.can_edit,
        "editor_modules": editor_module_urls(), "editor_initial": editor_initial_data(request, flow),
    })


def _delivery_url(request, activation) -> str:
    """Where callers post deliveries, for editors of an active flow whose trigger takes them."""
    if activation is None or not activation.is_active or not request.membership.can_edit:
        return ""
    path = webhook_path(activation)
    return (webhook_url(activation) or request.build_absolute_uri(path)) if path else ""


@team_required()
def flow_status(request, pk: int):
    flow = get_object_or_404(flows_for_team(team=request.team), pk=pk)
    activation = getattr(flow, "activation", None)
    trigger_card = registry.get(activation.trigger) if activation and activation.trigger in registry.registry else None
    return render(request, "designer/flow_status.html", {
        "flow": flow, "activation": activation, "activation_data": activation_json(activation),
        "trigger_name": trigger_card.name if trigger_card else "",
        "webhook_url": _delivery_url(request, activation),
        "counts": run_counts(flow=flow), "recent_runs": runs_for_team(team=request.team, flow_id=flow.pk)[:10],
    })


@team_required()
def run_list(request):
    filters = RunFilters.from_query(request.GET)
    page = runs_page(team=request.team, filters=filters, cursor=request.GET.get("cursor"))
    return render(request, "designer/run_list.html", {
        "runs": page.runs, "page": page, "filters": filters, "flows": flows_for_team(team=request.team),
        "statuses": RunStatus.choices, "sources": DeliverySource.choices,
        "selected_flow": filters.flow_id, "selected_outcome": filters.status,
        "next_query": filters.query(cursor=page.next_cursor) if page.next_cursor else "",
        "first_query": filters.query() if request.GET.get("cursor") else None,
        "export_query": filters.query(), "search_window": SEARCH_WINDOW, "bulk_limit": BULK_LIMIT,
        "export_limit": EXPORT_LIMIT,
    })


@team_required(Role.EDITOR)
@require_POST
def run_bulk(request):
    """Re-runs or cancels the runs ticked on the runs page, or with `scope=filter` every run that
    matches the page's filters (the newest BULK_LIMIT); only ever the team's runs."""
    action = request.POST.get("action")
    if request.POST.get("scope") == "filter":
        runs = list(runs_selected(team=request.team, filters=RunFilters.from_query(request.POST)))
    else:
        runs = list(runs_selected(team=request.team, ids=request.POST.getlist("run")))
    back = redirect(f"{reverse('runs')}?{RunFilters.from_query(request.POST).query()}")
    if not runs:
        messages.error(request, "Select at least one run.")
        return back
    if action == "cancel":
        cancelled, ended = run_services.runs_cancel_many(runs=runs)
        messages.success(request, f"Cancelling {len(cancelled)} run(s)." + (
            f" {len(ended)} had already ended and were left as they are." if ended else ""))
        return back
    if action in ("rerun", "rerun_current"):
        use_current = action == "rerun_current"
        created, left_out = run_services.runs_rerun_many(runs=runs, use_current=use_current)
        which = "the current version" if use_current else "their own versions"
        messages.success(request, f"Re-running {len(created)} run(s) on {which}." + (
            f" {len(left_out)} step test(s) were left out: test a step again in the editor." if left_out else ""))
        return back
    messages.error(request, "Choose re-run or cancel.")
    return back


@team_required()
def run_export(request):
    """The filtered runs as CSV, streamed newest first, at most EXPORT_LIMIT rows. Under ASGI the
    lines come through an async iterator (a sync one would be read whole before the first byte)."""
    from django.core.handlers.asgi import ASGIRequest
    from django.http import StreamingHttpResponse

    lines = presenters.runs_csv_lines(runs_export_rows(team=request.team, filters=RunFilters.from_query(request.GET)))
    content = presenters.in_blocks_async(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="runs-{timezone.now():%Y%m%d-%H%M}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@team_required()
def run_detail(request, pk: int):
    run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
    records = list(run.steps.select_related("resolved_by"))
    prefix = f"runs/{run.pk}/"

    def file_href(value: dict) -> str:
        path = str(value.get("path", ""))
        return reverse("run_file", args=[run.pk, path[len(prefix):]]) if path.startswith(prefix) else ""

    files = [
        (value.get("name") or "file", str(value["path"])[len(prefix):]) for step in records
        for value in (step.outputs.values() if isinstance(step.outputs, dict) else ())
        if isinstance(value, dict) and value.get("type") == "file" and str(value.get("path", "")).startswith(prefix)
    ]
    rerunnable = run_services.run_rerunnable(run)
    steps = presenters.run_steps(run, records, file_href=file_href, step_test=not rerunnable)
    bars, bars_height = presenters.timeline_bars(run, steps)
    return render(request, "designer/run_detail.html", {
        "run": run, "steps": steps, "files": files, "timeline": presenters.run_timeline(run, steps),
        "bars": bars, "bars_height": bars_height, "run_duration": presenters.duration_text(run.duration_ms),
        "latest_version": run.flow.version, "rerunnable": rerunnable,
    })


@team_required()
def dashboard(request):
    """Every flow with its live status, its runs and failures over 24 hours and 30 days, its last
    failure; and the health of the team's connections."""
    from accounts.selectors import configurations_visible

    data = dashboard_data(team=request.team)
    return render(request, "designer/dashboard.html", {
        **data, "connections": configurations_visible(membership=request.membership).order_by("name"),
    })


@team_required()
def run_file(request, pk: int, path: str):
    """Downloads a file a card of this run wrote (an export, say)."""
    from django.http import FileResponse, Http404

    from connectors.specs import CardInputError, file_path

    run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
    relative = f"runs/{run.pk}/{path}"
    if ".." in path.split("/"):
        raise Http404("No such file.")
    try:
        location = file_path({"type": "file", "path": relative})
    except CardInputError:
        raise Http404("This file no longer exists.") from None
    return FileResponse(location.open("rb"), as_attachment=True, filename=location.name)


@team_required(Role.EDITOR)
@require_POST
def run_cancel(request, pk: int):
    run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
    if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.ATTENTION):
        messages.error(request, "This run has already ended.")
    else:
        run = run_services.run_cancel(run=run)
        if run.status == RunStatus.CANCELLED:
            messages.success(request, "The run is cancelled.")
        else:
            messages.success(request, "The run stops at its next step.")
    return redirect("run_detail", pk=run.pk)


@team_required(Role.EDITOR)
@require_POST
def run_rerun(request):
    ids = [i for i in map(row_id, request.POST.getlist("run")) if i][:500]
    use_current = request.POST.get("version") == "current"
    runs = run_services.rerunnable(runs_for_team(team=request.team).filter(pk__in=ids))
    created = [run_services.run_rerun(run=r, use_current=use_current) for r in runs]
    if not created:
        messages.error(request, "Select at least one run to re-run.")
    else:
        which = "the current version" if use_current else "their own versions"
        messages.success(request, f"Re-running {len(created)} run(s) on {which}.")
    if len(created) == 1:
        return redirect("run_detail", pk=created[0].pk)
    return redirect("runs")


@team_required(Role.EDITOR)
@require_POST
def run_resume(request, pk: int):
    """The run page's buttons for a run that needs attention: resume without resending, or resend."""
    run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
    resend = request.POST.get("resend") == "true"
    try:
        run_services.run_resume(run=run, user=request.user, resend=resend)
    except run_services.RunRequestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Sending the step again." if resend else "Resumed without resending the step.")
    return redirect("run_detail", pk=run.pk)
