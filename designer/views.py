"""Pages for flows and runs. Thin: parse, call a service, render."""

from __future__ import annotations

import json
import os

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
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
from designer import services
from designer.models import RunStatus
from designer.selectors import flows_for_team, run_counts, runs_for_team
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
    flow_id = request.GET.get("flow")
    outcome = request.GET.get("outcome") or None
    runs = runs_for_team(team=request.team, flow_id=row_id(flow_id), outcome=outcome)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "designer/run_list.html", {
        "page": page, "flows": flows_for_team(team=request.team), "statuses": RunStatus.choices,
        "selected_flow": row_id(flow_id), "selected_outcome": outcome,
    })


@team_required()
def run_detail(request, pk: int):
    run = get_object_or_404(runs_for_team(team=request.team), pk=pk)
    steps = list(run.steps.all())
    prefix = f"runs/{run.pk}/"
    files = [
        (value.get("name") or "file", str(value["path"])[len(prefix):]) for step in steps for value in step.outputs.values()
        if isinstance(value, dict) and value.get("type") == "file" and str(value.get("path", "")).startswith(prefix)
    ]
    return render(request, "designer/run_detail.html", {"run": run, "steps": steps, "files": files})


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
