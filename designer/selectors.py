from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from config.ids import row_id
from designer.models import Delivery, DeliverySource, Flow, Run, RunStatus, RunStep


def flows_for_team(*, team) -> QuerySet[Flow]:
    # With the team, the (team, flow, -created_at) index answers it without sorting the flow's runs.
    last_run = Run.objects.filter(team_id=OuterRef("team_id"), flow=OuterRef("pk")).order_by("-created_at")
    return (
        Flow.objects.filter(team=team)
        .select_related("updated_by", "activation")
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


# The runs list: filters, cursor pages, text search ------------------------------------------------

PAGE_SIZE = 50
# Text in outputs is not indexed: a search reads the steps of at most this many of the newest runs
# that match the other filters (after the cursor), then says where it stopped; "Older" goes on.
SEARCH_WINDOW = 5_000
MAX_SEARCH_CHARS = 200
# Bulk cancel and re-run of "every run that matches" take at most this many of the newest.
BULK_LIMIT = 500
# CSV export of the filtered runs: at most this many rows.
EXPORT_LIMIT = 100_000
# The highest code point: event_id >= "R_1" and < "R_1" + TOP is an index range holding every id
# that starts with "R_1".
TOP = "\U0010ffff"


def _zone(name: str | None):
    try:
        return ZoneInfo(name) if name and len(name) <= 64 else timezone.get_current_timezone()
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


def _moment(value: str | None, zone, *, end: bool) -> datetime | None:
    """2026-03-05 (the start of that day, or with `end` the start of the next) or an ISO date and
    time, in `zone` when it names none; None for anything else."""
    text = (value or "").strip()
    if not text or len(text) > 40:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=zone)


@dataclass(frozen=True)
class RunFilters:
    """What the runs list (page, API, CSV, bulk actions) is narrowed to, read from a query string:
    flow, status (or `outcome`), source, since / until (a date or a date and time; a bare date is
    read in `tz`, an IANA zone, UTC without one), event (a response id, exact or its start) and
    text (anything in the steps' outputs, see SEARCH_WINDOW)."""

    flow_id: int | None = None
    status: str = ""
    source: str = ""
    since: datetime | None = None
    until: datetime | None = None
    event: str = ""
    text: str = ""
    raw: dict[str, str] = field(default_factory=dict)

    KEYS = ("flow", "status", "source", "since", "until", "event", "q", "tz")

    @classmethod
    def from_query(cls, params) -> RunFilters:
        raw = {key: str(params.get(key) or "").strip()[:MAX_SEARCH_CHARS] for key in cls.KEYS}
        if not raw["status"] and params.get("outcome"):
            raw["status"] = str(params.get("outcome")).strip()[:MAX_SEARCH_CHARS]
        zone = _zone(raw["tz"])
        return cls(
            flow_id=row_id(raw["flow"]),
            status=raw["status"],
            source=raw["source"],
            since=_moment(raw["since"], zone, end=False),
            until=_moment(raw["until"], zone, end=True),
            event=raw["event"].replace("\x00", ""),
            text=raw["q"].replace("\x00", ""),
            raw={k: v for k, v in raw.items() if v},
        )

    @property
    def active(self) -> bool:
        return bool({k for k in self.raw if k != "tz"})

    def query(self, **extra: Any) -> str:
        """The filters as a query string (for links to the next page, the CSV, the API)."""
        from urllib.parse import urlencode

        return urlencode({**self.raw, **{k: v for k, v in extra.items() if v not in (None, "")}})


def runs_filtered(*, team, filters: RunFilters) -> QuerySet[Run]:
    """The team's runs matching `filters` (all but the text search), newest first by id: every
    filter is a condition on an index that starts with the team (see migration 0008)."""
    runs = Run.objects.filter(team=team).select_related("flow", "version", "delivery").order_by("-id")
    if filters.flow_id:
        runs = runs.filter(flow_id=filters.flow_id)
    if filters.status:
        runs = runs.filter(status=filters.status) if filters.status in RunStatus.values else runs.none()
    if filters.source:
        runs = runs.filter(delivery__source=filters.source) if filters.source in DeliverySource.values else runs.none()
    if filters.since:
        runs = runs.filter(created_at__gte=filters.since)
    if filters.until:
        runs = runs.filter(created_at__lt=filters.until)
    if filters.event:
        deliveries = Delivery.objects.filter(
            event_id__gte=filters.event, event_id__lt=filters.event + TOP, event_id__startswith=filters.event,
            flow__team=team,
        )
        runs = runs.filter(delivery__in=deliveries.values("id")[:1000])
    return runs


def _text_match(text: str, column: str = "text") -> Q:
    """Stored JSON text containing `text` (also as JSON writes it, non-ASCII escaped)."""
    condition = Q(**{f"{column}__icontains": text})
    encoded = json.dumps(text)[1:-1]
    if encoded != text:
        condition |= Q(**{f"{column}__icontains": encoded})
    return condition


@dataclass
class RunPage:
    runs: list[Run]
    next_cursor: int | None
    searched: int | None = None  # with a text search, how many runs' outputs were read


def runs_page(*, team, filters: RunFilters, cursor: Any = None, size: int = PAGE_SIZE) -> RunPage:
    """One page of the filtered runs older than `cursor` (a run id), and the cursor of the next."""
    runs = runs_filtered(team=team, filters=filters)
    before = row_id(cursor)
    if before:
        runs = runs.filter(id__lt=before)
    if not filters.text:
        rows = list(runs[: size + 1])
        return RunPage(rows[:size], rows[size - 1].pk if len(rows) > size else None)
    # Text search: the newest SEARCH_WINDOW candidates (an index-only read of their ids), then
    # the steps of those runs whose stored outputs contain the text.
    ids = list(runs.values_list("id", flat=True)[:SEARCH_WINDOW])
    if not ids:
        return RunPage([], None, 0)
    low, high = ids[-1], ids[0]
    # Each candidate's steps are found through the step table's run index: the cost is bounded by
    # the window, whatever lies between its first and last id.
    steps = RunStep.objects.filter(run_id=OuterRef("pk")).annotate(text=Cast("outputs", TextField())).filter(
        _text_match(filters.text))
    matched = list(
        runs.filter(id__gte=low, id__lte=high).annotate(trigger_text=Cast("trigger", TextField()))
        .filter(Exists(steps) | _text_match(filters.text, "trigger_text"))[: size + 1]
    )
    if len(matched) > size:
        return RunPage(matched[:size], matched[size - 1].pk, len(ids))
    # Fewer than a page in this window: the next page searches the runs older than it.
    return RunPage(matched, low if len(ids) == SEARCH_WINDOW else None, len(ids))


def runs_selected(*, team, filters: RunFilters | None = None, ids: list | None = None,
                  limit: int = BULK_LIMIT) -> QuerySet[Run]:
    """The runs a bulk action applies to: the given ids (only the team's), or the newest `limit`
    runs that match `filters` (the text search included, within its window)."""
    if ids is not None:
        wanted = [i for i in (row_id(v) for v in ids) if i][:limit]
        return Run.objects.filter(team=team, pk__in=wanted).select_related("flow", "version", "delivery")
    filters = filters or RunFilters()
    if filters.text:
        page = runs_page(team=team, filters=filters, size=limit)
        return Run.objects.filter(pk__in=[r.pk for r in page.runs]).select_related("flow", "version", "delivery")
    chosen = runs_filtered(team=team, filters=filters).values("id")[:limit]
    return Run.objects.filter(pk__in=list(chosen.values_list("id", flat=True))).select_related(
        "flow", "version", "delivery")


def runs_export_rows(*, team, filters: RunFilters, limit: int = EXPORT_LIMIT):
    """The filtered runs for a CSV, newest first, read in chunks of 2,000 by id (never all at once)."""
    left, before = limit, None
    while left > 0:
        page = runs_page(team=team, filters=filters, cursor=before, size=min(2_000, left))
        yield from page.runs
        left -= len(page.runs)
        if page.next_cursor is None:
            return
        before = page.next_cursor


# The dashboard --------------------------------------------------------------------------------


def dashboard_data(*, team, now: datetime | None = None) -> dict[str, Any]:
    """Each flow with its activation and last run, its runs and failures per hour over the last 24
    hours and per day over the last 30 days (one grouped query per window, on the (team,
    created_at) index), and its last failure. Hours and days are UTC ones."""
    from designer.presenters import columns

    now = now or timezone.now()
    hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    day0 = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)
    failed = Count("id", filter=Q(status=RunStatus.FAILED))
    recent = Run.objects.filter(team=team).order_by()
    # The hour or day as the start of the stored UTC time's text ("2026-12-05 09"): no function per
    # row (SQLite's date functions are Python callbacks), and an index-only read of
    # (team, created_at, flow, status).
    stamp = Cast("created_at", CharField())
    hourly = recent.filter(created_at__gte=hour0).annotate(bucket=Substr(stamp, 1, 13)) \
        .values("flow_id", "bucket").annotate(total=Count("id"), failed=failed)
    daily = recent.filter(created_at__gte=day0).annotate(bucket=Substr(stamp, 1, 10)) \
        .values("flow_id", "bucket").annotate(total=Count("id"), failed=failed)
    hours: dict[int, list[list[int]]] = {}
    for row in hourly:
        try:
            at = datetime.strptime(row["bucket"].replace("T", " "), "%Y-%m-%d %H").replace(tzinfo=dt_timezone.utc)
        except (AttributeError, ValueError):
            continue
        index = int((at - hour0).total_seconds() // 3600)
        if 0 <= index < 24:
            slot = hours.setdefault(row["flow_id"], [[0, 0] for _ in range(24)])[index]
            slot[0] += row["total"]
            slot[1] += row["failed"]
    days: dict[int, list[list[int]]] = {}
    for row in daily:
        try:
            index = (date.fromisoformat(row["bucket"]) - day0.date()).days
        except (TypeError, ValueError):
            continue
        if 0 <= index < 30:
            slot = days.setdefault(row["flow_id"], [[0, 0] for _ in range(30)])[index]
            slot[0] += row["total"]
            slot[1] += row["failed"]
    last_failure = Run.objects.filter(team=team, flow=OuterRef("pk"), status=RunStatus.FAILED).order_by("-created_at")
    flows = list(flows_for_team(team=team).annotate(last_failure_id=Subquery(last_failure.values("id")[:1]))
                 .order_by("name"))
    failures = {r.pk: r for r in Run.objects.filter(pk__in=[f.last_failure_id for f in flows if f.last_failure_id])}
    hour_labels = [f"{(hour0 + timedelta(hours=i)):%H}:00 UTC" for i in range(24)]
    day_labels = [f"{(day0 + timedelta(days=i)):%b %d}" for i in range(30)]
    rows = []
    for flow in flows:
        per_hour = hours.get(flow.pk, [[0, 0] for _ in range(24)])
        per_day = days.get(flow.pk, [[0, 0] for _ in range(30)])
        rows.append({
            "flow": flow,
            "runs_24h": sum(t for t, _ in per_hour), "failed_24h": sum(f for _, f in per_hour),
            "runs_30d": sum(t for t, _ in per_day), "failed_30d": sum(f for _, f in per_day),
            "chart_24h": columns([(hour_labels[i], t, f) for i, (t, f) in enumerate(per_hour)], width=240),
            "chart_30d": columns([(day_labels[i], t, f) for i, (t, f) in enumerate(per_day)], width=240),
            "last_failure": failures.get(flow.last_failure_id),
        })
    return {"rows": rows, "since_24h": hour0, "since_30d": day0}
