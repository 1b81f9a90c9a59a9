"""JSON shapes of flows, versions, activations and runs (shared by the API and websockets)."""

from __future__ import annotations

from typing import Any

from designer.models import Activation, Flow, FlowVersion, Run, RunStatus, RunStep


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def activation_json(activation: Activation | None) -> dict[str, Any]:
    if activation is None:
        return {"status": "inactive", "status_label": "Inactive"}
    from designer.selectors import run_counts

    return {
        "status": activation.status,
        "status_label": activation.get_status_display(),
        "reason": activation.reason,
        "failing_since": _iso(activation.failing_since),
        "trigger": activation.trigger,
        "mode": activation.mode,
        "options": activation.options,
        "next_poll_at": _iso(activation.next_poll_at),
        "version": activation.version.number if activation.version_id else None,
        "last_event_at": _iso(activation.last_event_at),
        "last_polled_at": _iso(activation.last_polled_at),
        "activated_at": _iso(activation.activated_at),
        "run_counts": run_counts(flow=activation.flow),
    }


def flow_summary_json(flow: Flow) -> dict[str, Any]:
    activation = getattr(flow, "activation", None)
    return {
        "id": flow.pk,
        "name": flow.name,
        "version": flow.version,
        "live_version": flow.live_version.number if flow.live_version_id else None,
        "revision": flow.revision,
        "status": activation.status if activation else "inactive",
        "updated_at": _iso(flow.updated_at),
        "updated_by": flow.updated_by.username if flow.updated_by_id else None,
        "last_run": {"at": _iso(flow.last_run_at), "status": flow.last_run_status} if getattr(flow, "last_run_at", None) else None,
    }


def flow_json(flow: Flow) -> dict[str, Any]:
    data = flow_summary_json(flow)
    data["definition"] = flow.definition
    data["problems"] = flow.draft_problems or []
    data["has_unpublished_changes"] = flow.has_unpublished_changes
    data["draft_updated_at"] = _iso(flow.draft_updated_at)
    data["activation"] = activation_json(getattr(flow, "activation", None))
    return data


def version_json(version: FlowVersion, with_definition: bool = False, live_id: int | None = None) -> dict[str, Any]:
    """A version is made by Publish, so who created it published it (`published_by`, `published_at`;
    `created_by` and `created_at` are the same, kept for older clients). `live` marks the version
    the flow runs when active."""
    publisher = version.created_by.username if version.created_by_id else None
    data = {
        "number": version.number,
        "live": live_id is not None and version.pk == live_id,
        "published_at": _iso(version.created_at),
        "published_by": publisher,
        "created_at": _iso(version.created_at),
        "created_by": publisher,
        "note": version.note,
    }
    if with_definition:
        data["definition"] = version.definition
    return data


def step_json(step: RunStep) -> dict[str, Any]:
    return {
        "position": step.position, "step_id": step.step_id, "card": step.card, "name": step.name,
        "iteration": step.iteration, "status": step.status, "inputs": step.inputs, "outputs": step.outputs,
        "error": step.error, "attempts": step.attempts, "attempt_log": step.attempt_log,
        "duration_ms": step.duration_ms, "resolution": step.resolution,
        "resolved_by": step.resolved_by.get_username() if step.resolved_by_id else None,
        "resolved_at": _iso(step.resolved_at),
    }


def run_json(run: Run, with_steps: bool = False) -> dict[str, Any]:
    data = {
        "id": run.pk,
        "flow": {"id": run.flow_id, "name": run.flow.name},
        "version": run.version.number if run.version_id else None,
        "status": run.status,
        "status_label": run.get_status_display(),
        "error": run.error,
        "event_id": run.delivery.event_id if run.delivery_id else None,
        "source": run.delivery.source if run.delivery_id else None,
        "attempts": run.attempts,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_ms": run.duration_ms,
        "rerun_of": run.rerun_of_id,
        "current_step": run.current_step,
        "progress": run.progress,
        "resume_at": _iso(run.resume_at),
        "wait_message": run.wait_message,
    }
    if with_steps:
        steps = list(run.steps.all())
        # The run's row takes the event's outputs with the write that ends its turn; until then
        # they are those its event step recorded.
        event = [s for s in steps if s.step_id == "trigger" and not s.iteration and s.status == RunStatus.SUCCEEDED]
        data["trigger"] = run.trigger or (event[-1].outputs if event else {})
        data["steps"] = [step_json(s) for s in steps]
    return data
