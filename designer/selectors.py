from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.cache import cache
from django.db.models import CharField, Count, F, Exists, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast, Substr
from django.utils import timezone

from config.ids import row_id
from designer.models import Delivery, DeliverySource, Flow, Run, RunStatus, RunStep


def flows_for_team(*, team) -> QuerySet[Flow]:
    # With the team, the (team, flow, -created_at) index answers it without sorting the flow's runs.
    last_run = Run.objects.filter(team_id=OuterRef("team_id"), flow=OuterRef("pk")).order_by("-created_at")
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
    filter is a condition on an index that starts with the team (see migration 0010)."""
    runs = Run.objects.filter(team=team).select_related("flow", "version", "delivery").order_by("-id")
    if filters.flow_id:
        runs = runs.filter(flow_id=filters.flow_id)
    if filters.status:
        runs = runs.filter(status=filters.status) if filters.status in RunStatus.values else runs.none()
    if filters.source:
        runs = runs.filter(delivery__source=filters.source) if filters.source in DeliverySource.values else runs.none()
    if filters.since:
        runs = runs.filter(created_at__gte=filters.since)
    if filters.until and filters.until <= timezone.now():
        # A range that ends later than now (to today) holds every run there is yet: no condition,
        # and the list is read newest first by id.
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
        if _reads_by_date(filters):
            rows = _in_order(runs, _newest_ids(runs, filters, size + 1))
        else:
            rows = list(runs[: size + 1])
        return RunPage(rows[:size], rows[size - 1].pk if len(rows) > size else None)
    # Text search: the newest SEARCH_WINDOW candidates (an index-only read of their ids), then
    # the steps of those runs whose stored outputs contain the text.
    ids = _newest_ids(runs, filters, SEARCH_WINDOW)
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


def _reads_by_date(filters: RunFilters) -> bool:
    """A date range that has ended (with both ends, or ending more than a day ago) is read from
    the (team, created_at, …) index alone and its ids sorted (`id + 0` is no index's order):
    ordered by the id itself, the database would walk the team's runs newest first down to the
    range, or sort whole rows. "Until" a recent time leaves nearly every run in the range: the
    walk by id finds a page at once. The cost of the read by date grows with the range's runs."""
    now = timezone.now()
    if not filters.until or filters.until > now:
        return False
    return bool(filters.since) or filters.until < now - timedelta(days=1)


def _newest_ids(runs: QuerySet[Run], filters: RunFilters, count: int) -> list[int]:
    """The ids of the newest `count` of `runs` (see _reads_by_date)."""
    if _reads_by_date(filters):
        runs = runs.annotate(sort_id=F("id") + 0).order_by("-sort_id")
    return list(runs.values_list("id", flat=True)[:count])


def _in_order(runs: QuerySet[Run], ids: list[int]) -> list[Run]:
    found = runs.order_by().in_bulk(ids)
    return [found[i] for i in ids if i in found]


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


DASHBOARD_DAYS_CACHE = 300


def _counts(*, team, since: datetime, until: datetime | None = None, chars: int) -> list[tuple]:
    """(hour or day, flow id, runs, failed runs) of the team's runs created in [since, until): the
    hour or day is the start of the stored UTC time's text ("2026-12-05 09"), so no date function
    runs per row (SQLite's are Python callbacks), and the rows are read from the (team, created_at,
    flow, status) index alone. The flow is grouped as `flow_id + 0`: grouped by the column, SQLite
    would walk the (team, flow, id) index for its order instead, over every run of the team."""
    runs = Run.objects.filter(team=team, created_at__gte=since).order_by()
    if until is not None:
        runs = runs.filter(created_at__lt=until)
    rows = runs.annotate(bucket=Substr(Cast("created_at", CharField()), 1, chars), flow_key=F("flow_id") + 0) \
        .values("bucket", "flow_key").annotate(total=Count("id"), failed=Count("id", filter=Q(status=RunStatus.FAILED)))
    return [(r["bucket"], r["flow_key"], r["total"], r["failed"]) for r in rows]


def dashboard_data(*, team, now: datetime | None = None) -> dict[str, Any]:
    """Each flow with its activation and last run, its runs and failures per hour over the last 24
    hours and per day over the last 30 days (grouped queries on the (team, created_at, flow,
    status) index; see _counts), and its last failure. Hours and days are UTC ones."""
    from designer.presenters import columns

    now = now or timezone.now()
    hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    day0 = today - timedelta(days=29)
    hours: dict[int, list[list[int]]] = {}
    for bucket, flow_id, total, failed in _counts(team=team, since=hour0, chars=13):
        try:
            at = datetime.strptime(bucket.replace("T", " "), "%Y-%m-%d %H").replace(tzinfo=dt_timezone.utc)
        except (AttributeError, ValueError):
            continue
        index = int((at - hour0).total_seconds() // 3600)
        if 0 <= index < 24:
            slot = hours.setdefault(flow_id, [[0, 0] for _ in range(24)])[index]
            slot[0] += total
            slot[1] += failed
    # The 29 days before today change little (a late run's end): their counts are kept for
    # DASHBOARD_DAYS_CACHE seconds; today's are read each time.
    # Keyed by the newest run before today too, so a team whose runs were deleted is counted again.
    newest_before = Run.objects.filter(team=team, created_at__lt=today).order_by("-created_at").values_list(
        "id", flat=True).first()
    key = f"dashboard-days:{team.pk}:{day0:%Y-%m-%d}:{newest_before}"
    past = cache.get(key)
    if past is None:
        past = _counts(team=team, since=day0, until=today, chars=10)
        cache.set(key, past, DASHBOARD_DAYS_CACHE)
    days: dict[int, list[list[int]]] = {}
    for bucket, flow_id, total, failed in [*past, *_counts(team=team, since=today, chars=10)]:
        try:
            index = (date.fromisoformat(bucket) - day0.date()).days
        except (TypeError, ValueError):
            continue
        if 0 <= index < 30:
            slot = days.setdefault(flow_id, [[0, 0] for _ in range(30)])[index]
            slot[0] += total
            slot[1] += failed
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
