from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery

from designer.models import Flow, Run, RunStatus


def flows_for_team(*, team) -> QuerySet[Flow]:
    last_run = Run.objects.filter(flow=OuterRef("pk")).order_by("-created_at")
    return (
        Flow.objects.filter(team=team)
        .select_related("updated_by", "activation", "live_version")
        .defer("live_version__definition")  # loaded when a flow's draft is compared with it
        .annotate(last_run_at=Subquery(last_run.values("created_at")[:1]), last_run_status=Subquery(last_run.values("status")[:1]))
    )


def runs_for_team(*, team, flow_id: int | None = None, outcome: str | None = None) -> QuerySet[Run]:
    runs = Run.objects.filter(team=team).select_related("flow", "version", "delivery")
    if flow_id:
        runs = runs.filter(flow_id=flow_id)
    if outcome:
        # An unknown outcome matches no run, without asking the database about it.
        runs = runs.filter(status=outcome) if outcome in RunStatus.values else runs.none()
    return runs


def run_counts(*, flow: Flow) -> dict[str, int]:
    return dict(flow.runs.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
