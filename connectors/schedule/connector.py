"""The Schedule connector: no credentials, one event card, and a trigger driven by the clock.

The scheduler calls `ScheduleTrigger.poll` when an activation is due. A poll works out which ticks
fell in (cursor, now] and starts at most one run, for the latest of them: ticks missed while the
workers were down run once, not once each. See README.md in this folder.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.schedule import cron
from connectors.schedule.cards import CARD_KEY, DEFAULT_MINUTES, MAX_MINUTES, iso_utc, read_moment, read_zone
from connectors.specs import Connector, Enabled, Event, Polled, Trigger, TriggerContext

MODES = ("interval", "cron")


@dataclass(frozen=True)
class Plan:
    """Valid options, read: every `minutes` minutes, or at the times of `spec`, in `zone`."""

    mode: str
    zone: ZoneInfo
    minutes: int = 0
    spec: cron.CronSpec | None = None

    def latest_at_or_before(self, moment: datetime, anchor: datetime) -> datetime | None:
        """The last tick at or before `moment` (None if there is none after the anchor)."""
        if self.spec is not None:
            return cron.previous_at_or_before(self.spec, moment, self.zone)
        steps = math.floor((moment - anchor) / timedelta(minutes=self.minutes))
        return anchor + steps * timedelta(minutes=self.minutes) if steps >= 1 else None

    def first_after(self, moment: datetime, anchor: datetime) -> datetime:
        """The first tick strictly after `moment`."""
        if self.spec is not None:
            return cron.next_after(self.spec, moment, self.zone)
        steps = max(math.floor((moment - anchor) / timedelta(minutes=self.minutes)) + 1, 1)
        return anchor + steps * timedelta(minutes=self.minutes)

    def summary(self) -> str:
        if self.spec is not None:
            return f"Runs at the times of '{self.spec.expr}'"
        return "Runs every minute" if self.minutes == 1 else f"Runs every {self.minutes:,} minutes"


def _read_minutes(value: Any) -> int | None:
    """A whole number of minutes from 1 to MAX_MINUTES, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_MINUTES
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or not number.is_integer() or not 1 <= number <= MAX_MINUTES:
        return None
    return int(number)


def read_plan(options: Mapping[str, Any]) -> tuple[Plan | None, list[str]]:
    """The plan the options describe, or None and the problems, in words."""
    problems: list[str] = []
    mode = str(options.get("mode") or "interval")
    zone: ZoneInfo | None = None
    try:
        zone = read_zone(options.get("timezone"))
    except ValueError as exc:
        problems.append(f"Time zone: {exc}")
    minutes = 0
    spec: cron.CronSpec | None = None
    if mode == "interval":
        read = _read_minutes(options.get("every_minutes"))
        if read is None:
            problems.append(
                f"Every N minutes must be a whole number from 1 to {MAX_MINUTES:,} (a week), "
                f"not '{options.get('every_minutes')}'."
            )
        else:
            minutes = read
    elif mode == "cron":
        text = str(options.get("cron") or "").strip()
        if not text:
            problems.append("Enter a cron expression, such as 0 9 * * MON-FRI (9:00 on weekdays).")
        else:
            try:
                spec = cron.parse(text)
            except cron.CronError as exc:
                problems.append(f"Cron expression: {exc}")
    else:
        problems.append(f"Repeat must be 'interval' (every N minutes) or 'cron' (a cron expression), not '{mode}'.")
    if problems or zone is None:
        return None, problems
    return Plan(mode=mode, zone=zone, minutes=minutes, spec=spec), []


def _aware_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return read_moment(value).astimezone(UTC)
    except ValueError:
        return None


def _now(ctx: TriggerContext) -> datetime:
    return _aware_utc(ctx.now) or datetime.now(UTC)


def _anchor(ctx: TriggerContext, now: datetime) -> datetime:
    """Interval ticks are counted from the activation time, truncated to the whole minute."""
    start = _aware_utc(ctx.activated_at) or now
    return start.replace(second=0, microsecond=0)


def _when(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


class ScheduleTrigger(Trigger):
    """Starts runs on a clock: every N minutes from activation, or at cron times in a time zone.

    - check(options): the problems that stop activation, in words.
    - enable(ctx): Enabled(mode="schedule") with a message naming the next tick.
    - poll(ctx, cursor): the cursor is "" or the last tick handled (ISO 8601 UTC). Ticks in
      (cursor or activation time, now] are due; only the latest becomes an event (missed ticks
      run once). The new cursor is that tick; next_poll_at is the first tick after now.
    - recent(ctx): one generated sample, the next tick, for the editor's Test button.
    """

    card = CARD_KEY
    accepts_deliveries = False

    def check(self, options: Mapping[str, Any]) -> list[str]:
        return read_plan(options)[1]

    def _plan(self, options: Mapping[str, Any]) -> Plan:
        plan, problems = read_plan(options)
        if plan is None:
            raise ValueError(" ".join(problems))
        return plan

    def enable(self, ctx: TriggerContext) -> Enabled:
        plan = self._plan(ctx.options)
        now = _now(ctx)
        upcoming = plan.first_after(now, _anchor(ctx, now))
        message = f"{plan.summary()}; next at {_when(upcoming, plan.zone, now)} ({plan.zone.key})."
        return Enabled(mode="schedule", state={}, message=message)

    def poll(self, ctx: TriggerContext, cursor: str) -> Polled:
        plan = self._plan(ctx.options)
        now = _now(ctx)
        anchor = _anchor(ctx, now)
        # Ticks after the last one handled, and never before this activation (a cursor kept from
        # an earlier activation must not replay ticks from while the flow was switched off).
        starts = [m for m in (_aware_utc(cursor) if cursor else None, _aware_utc(ctx.activated_at)) if m]
        start = max(starts) if starts else now
        next_poll_at = plan.first_after(now, anchor)
        latest = plan.latest_at_or_before(now, anchor)
        if latest is None or latest <= start:
            return Polled(events=[], cursor=cursor, next_poll_at=next_poll_at)
        tick = iso_utc(latest)
        event = Event(id=tick, data={"scheduled_at": tick}, topic="schedule")
        return Polled(events=[event], cursor=tick, next_poll_at=next_poll_at)

    def recent(self, ctx: TriggerContext, limit: int = 20) -> list[dict[str, Any]]:
        plan, _ = read_plan(ctx.options)
        if plan is None or limit < 1:
            return []
        now = _now(ctx)
        upcoming = plan.first_after(now, _anchor(ctx, now))
        tick = iso_utc(upcoming)
        local = upcoming.astimezone(plan.zone).strftime("%Y-%m-%d %H:%M")
        return [{"id": tick, "label": f"Next tick {local} ({plan.zone.key})", "data": {"scheduled_at": tick}}]


connector = Connector(
    key="schedule",
    name="Schedule",
    description="Start flows on a clock: every N minutes, or at the times of a cron expression in a time zone.",
    triggers=(ScheduleTrigger(),),
    card_modules=("connectors.schedule.cards",),
)
