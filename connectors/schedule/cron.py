"""A small, dependency-free parser for 5-field cron expressions and a DST-aware "next time".

Fields: minute hour day-of-month month day-of-week. Each field takes `*`, numbers, lists (`1,5`),
ranges (`1-5`), steps (`*/15`, `10-50/10`, `5/20` = from 5 to the end every 20), month names
JAN-DEC and weekday names SUN-SAT (any case). Both 0 and 7 are Sunday. The nicknames @hourly,
@daily (@midnight), @weekly, @monthly and @yearly (@annually) are accepted too.

As in Vixie cron, when both day-of-month and day-of-week are restricted (neither starts with `*`)
a day matches if EITHER matches; otherwise both must (the `*` one always does).

Times are wall-clock times in a time zone. A wall time that does not exist (skipped when clocks go
forward) does not run that day; a wall time that happens twice (clocks go back) runs once, at
its first occurrence.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# The longest gap between two matching times is under 8 years (29 February around 2100);
# searching further means the expression never matches.
SEARCH_YEARS = 9
# Clocks move by at most a few hours; a backward search starts this far past its bound.
DST_MARGIN = timedelta(hours=3)


class CronError(ValueError):
    """A cron expression that cannot be used; the message names the field at fault."""


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


_FIELDS = (
    _FieldSpec("minute", 0, 59),
    _FieldSpec("hour", 0, 23),
    _FieldSpec("day-of-month", 1, 31),
    _FieldSpec("month", 1, 12, MONTH_NAMES, 1),
    _FieldSpec("day-of-week", 0, 7, DAY_NAMES, 0),
)


@dataclass(frozen=True)
class CronSpec:
    """A parsed expression: the sets of values each field allows (Sunday is 0 in `weekdays`)."""

    expr: str
    minutes: tuple[int, ...]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: date) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def matches(self, wall: datetime) -> bool:
        """Whether a wall-clock time (its zone ignored) is one of the expression's times."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.day_matches(wall.date())
        )


def _number(text: str, field: _FieldSpec) -> int:
    word = text.upper()
    if field.names and word in field.names:
        return field.names.index(word) + field.names_start
    if not text.isdigit():
        raise CronError(f"The {field.name} field has '{text}', which is not a number{_names_hint(field)}.")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"The {field.name} field '{text}' is out of range {field.low}-{field.high}.")
    return value


def _names_hint(field: _FieldSpec) -> str:
    if not field.names:
        return ""
    return f" or a name {field.names[0]}-{field.names[-1]}"


def _parse_field(text: str, field: _FieldSpec) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"The {field.name} field '{text}' has an empty item in its list.")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"The {field.name} field '{part}' needs a step of 1 or more after '/'.")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            if not start_text or not end_text:
                raise CronError(f"The {field.name} field '{part}' is not a range such as 1-5.")
            low, high = _number(start_text, field), _number(end_text, field)
            if field.name == "day-of-week" and high == 0 and low > 0:
                high = 7  # FRI-SUN
            if low > high:
                raise CronError(f"The {field.name} field '{part}' is a range that ends before it starts.")
        else:
            low = _number(base, field)
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    if field.name == "day-of-week" and 7 in values:
        values.discard(7)
        values.add(0)
    return values


def parse(expr: str) -> CronSpec:
    """Parse a 5-field cron expression (or a nickname such as @daily); raises CronError."""
    text = " ".join(str(expr or "").split())
    if not text:
        raise CronError("The cron expression is empty; use 5 fields such as '0 9 * * MON-FRI'.")
    text = NICKNAMES.get(text.lower(), text)
    parts = text.split(" ")
    if len(parts) != 5:
        raise CronError(
            f"A cron expression has 5 fields (minute hour day-of-month month day-of-week); "
            f"'{text}' has {len(parts)}."
        )
    minutes, hours, days, months, weekdays = (_parse_field(p, f) for p, f in zip(parts, _FIELDS, strict=True))
    spec = CronSpec(
        expr=text,
        minutes=tuple(sorted(minutes)),
        hours=frozenset(hours),
        days=frozenset(days),
        months=frozenset(months),
        weekdays=frozenset(weekdays),
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if not (spec.days_restricted and spec.weekdays_restricted):
        longest = max(calendar.monthrange(2000, m)[1] for m in months)  # 2000: February has 29 days
        if min(days) > longest:
            raise CronError(
                f"The day-of-month field '{parts[2]}' never falls in the months of the month field '{parts[3]}'."
            )
    return spec


def _resolve(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The moment a wall time happens in tz (its first occurrence), or None if clocks skip it."""
    moment = wall.replace(tzinfo=tz, fold=0)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return moment


def _aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime.")


def next_after(spec: CronSpec, after: datetime, tz: ZoneInfo) -> datetime:
    """The first time strictly after `after` whose wall-clock time in tz matches, in UTC.

    Walks wall-clock time forward, skipping whole months, days and hours that cannot match.
    """
    _aware(after, "after")
    wall = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) + timedelta(minutes=1)
    last_year = wall.year + SEARCH_YEARS
    while wall.year <= last_year:
        if wall.month not in spec.months:
            year, month = (wall.year + 1, 1) if wall.month == 12 else (wall.year, wall.month + 1)
            wall = datetime(year, month, 1)
            continue
        if not spec.day_matches(wall.date()):
            wall = datetime.combine(wall.date() + timedelta(days=1), datetime.min.time())
            continue
        if wall.hour not in spec.hours:
            wall = wall.replace(minute=0) + timedelta(hours=1)
            continue
        minute = next((m for m in spec.minutes if m >= wall.minute), None)
        if minute is None:
            wall = wall.replace(minute=0) + timedelta(hours=1)
            continue
        wall = wall.replace(minute=minute)
        moment = _resolve(wall, tz)
        if moment is not None and moment > after:
            return moment.astimezone(UTC)
        wall += timedelta(minutes=1)
    raise CronError(f"The cron expression '{spec.expr}' never matches.")


def previous_at_or_before(spec: CronSpec, before: datetime, tz: ZoneInfo) -> datetime:
    """The last time at or before `before` whose wall-clock time in tz matches, in UTC.

    The mirror of next_after. It starts a few hours past `before`: when clocks go back, wall
    times later than `before`'s own may already have happened (in the first pass of the hour).
    """
    _aware(before, "before")
    wall = (before + DST_MARGIN).astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
    first_year = wall.year - SEARCH_YEARS
    while wall.year >= first_year:
        if wall.month not in spec.months:
            wall = datetime(wall.year, wall.month, 1) - timedelta(minutes=1)
            continue
        if not spec.day_matches(wall.date()):
            wall = datetime.combine(wall.date(), datetime.min.time()) - timedelta(minutes=1)
            continue
        if wall.hour not in spec.hours:
            wall = wall.replace(minute=0) - timedelta(minutes=1)
            continue
        minute = next((m for m in reversed(spec.minutes) if m <= wall.minute), None)
        if minute is None:
            wall = wall.replace(minute=0) - timedelta(minutes=1)
            continue
        wall = wall.replace(minute=minute)
        moment = _resolve(wall, tz)
        if moment is not None and moment <= before:
            return moment.astimezone(UTC)
        wall -= timedelta(minutes=1)
    raise CronError(f"The cron expression '{spec.expr}' never matches.")
