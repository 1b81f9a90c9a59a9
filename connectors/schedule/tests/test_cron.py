"""The cron parser and next/previous times, DST included."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.schedule.cron import CronError, next_after, parse, previous_at_or_before

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ticks(expr: str, after: datetime, tz: ZoneInfo, count: int) -> list[datetime]:
    spec, out = parse(expr), []
    for _ in range(count):
        after = next_after(spec, after, tz)
        out.append(after)
    return out


# Parsing -------------------------------------------------------------------------------------


def test_parse_stars_lists_ranges_and_steps():
    spec = parse("*/15 9-17 1,15 * *")
    assert spec.minutes == (0, 15, 30, 45)
    assert spec.hours == frozenset(range(9, 18))
    assert spec.days == frozenset({1, 15})
    assert spec.months == frozenset(range(1, 13))
    assert parse("10-50/10 * * * *").minutes == (10, 20, 30, 40, 50)
    assert parse("5/20 * * * *").minutes == (5, 25, 45)


def test_parse_names_in_any_case_and_both_sundays():
    assert parse("0 0 * jan,Mar-MAY *").months == frozenset({1, 3, 4, 5})
    assert parse("0 9 * * mon-FRI").weekdays == frozenset({1, 2, 3, 4, 5})
    assert parse("0 0 * * 0").weekdays == parse("0 0 * * 7").weekdays == parse("0 0 * * SUN").weekdays == {0}
    assert parse("0 0 * * 5-7").weekdays == frozenset({5, 6, 0})
    assert parse("0 0 * * FRI-SUN").weekdays == frozenset({5, 6, 0})


def test_parse_nicknames_and_spacing():
    assert parse("@daily") == parse("0 0 * * *")
    assert parse("  0   9 * *  MON ").expr == "0 9 * * MON"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 25 * * *", "The hour field '25' is out of range 0-23."),
        ("60 * * * *", "The minute field '60' is out of range 0-59."),
        ("0 0 32 * *", "The day-of-month field '32' is out of range 1-31."),
        ("0 0 0 * *", "The day-of-month field '0' is out of range 1-31."),
        ("0 0 * 13 *", "The month field '13' is out of range 1-12."),
        ("0 0 * * 8", "The day-of-week field '8' is out of range 0-7."),
        ("0 0 * FOO *", "The month field has 'FOO', which is not a number or a name JAN-DEC."),
        ("*/0 * * * *", "The minute field '*/0' needs a step of 1 or more after '/'."),
        ("0 5-1 * * *", "The hour field '5-1' is a range that ends before it starts."),
        ("0 -1 * * *", "The hour field '-1' is not a range such as 1-5."),
        ("0 1,,2 * * *", "The hour field '1,,2' has an empty item in its list."),
        ("0 0 * *", "A cron expression has 5 fields (minute hour day-of-month month day-of-week); '0 0 * *' has 4."),
        ("", "The cron expression is empty; use 5 fields such as '0 9 * * MON-FRI'."),
        ("0 0 30 2 *", "The day-of-month field '30' never falls in the months of the month field '2'."),
    ],
)
def test_parse_errors_name_the_field(expr, message):
    with pytest.raises(CronError) as caught:
        parse(expr)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


# next_after ----------------------------------------------------------------------------------


def test_next_is_strictly_after():
    spec = parse("0 9 * * *")
    assert next_after(spec, at(2026, 12, 5, 9, 0), UTC_ZONE) == at(2026, 12, 6, 9, 0)
    assert next_after(spec, at(2026, 12, 5, 8, 59, 59), UTC_ZONE) == at(2026, 12, 5, 9, 0)
    assert next_after(spec, at(2026, 12, 5, 9, 0, 0, 1), UTC_ZONE) == at(2026, 12, 6, 9, 0)


def test_next_returns_utc():
    moment = next_after(parse("0 9 * * *"), datetime(2026, 12, 5, 12, tzinfo=BERLIN), BERLIN)
    assert moment.tzinfo is UTC
    assert moment == at(2026, 12, 6, 8, 0)


def test_next_across_month_and_year_ends():
    assert ticks("0 0 31 * *", at(2026, 1, 31, 12), UTC_ZONE, 3) == [
        at(2026, 3, 31), at(2026, 5, 31), at(2026, 7, 31)
    ]
    assert ticks("30 23 28-31 * *", at(2026, 2, 27), UTC_ZONE, 3) == [
        at(2026, 2, 28, 23, 30), at(2026, 3, 28, 23, 30), at(2026, 3, 29, 23, 30)
    ]
    assert next_after(parse("0 0 1 1 *"), at(2026, 12, 31, 23, 59), UTC_ZONE) == at(2027, 1, 1)
    assert next_after(parse("*/15 * * * *"), at(2026, 12, 31, 23, 50), UTC_ZONE) == at(2027, 1, 1)


def test_leap_day():
    spec = parse("0 0 29 2 *")
    assert next_after(spec, at(2025, 3, 1), UTC_ZONE) == at(2028, 2, 29)
    assert next_after(spec, at(2028, 2, 29), UTC_ZONE) == at(2032, 2, 29)
    assert next_after(spec, at(2096, 3, 1), UTC_ZONE) == at(2104, 2, 29)  # 2100 is not a leap year
    assert previous_at_or_before(spec, at(2027, 6, 1), UTC_ZONE) == at(2024, 2, 29)


def test_leap_day_is_found_quickly():
    spec = parse("0 0 29 2 *")
    started = time.perf_counter()
    for year in range(2001, 2101):
        next_after(spec, at(year, 3, 1), UTC_ZONE)
        previous_at_or_before(spec, at(year, 3, 1), UTC_ZONE)
    assert time.perf_counter() - started < 2.0


def test_a_rare_minute_is_found_quickly():
    spec = parse("59 23 31 12 *")
    started = time.perf_counter()
    assert next_after(spec, at(2026, 1, 1), UTC_ZONE) == at(2026, 12, 31, 23, 59)
    assert time.perf_counter() - started < 0.5


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # The 13th, and every Friday.
    assert ticks("0 0 13 * FRI", at(2026, 2, 1), UTC_ZONE, 4) == [
        at(2026, 2, 6), at(2026, 2, 13), at(2026, 2, 20), at(2026, 2, 27)
    ]
    assert ticks("0 0 1 * MON", at(2026, 5, 30), UTC_ZONE, 3) == [at(2026, 6, 1), at(2026, 6, 8), at(2026, 6, 15)]


def test_a_star_day_field_means_the_other_alone_decides():
    assert ticks("0 0 * * MON", at(2026, 6, 1), UTC_ZONE, 2) == [at(2026, 6, 8), at(2026, 6, 15)]
    assert ticks("0 0 1 * *", at(2026, 6, 2), UTC_ZONE, 2) == [at(2026, 7, 1), at(2026, 8, 1)]
    # A stepped star still counts as unrestricted, as in Vixie cron: odd days that are Mondays.
    assert ticks("0 0 */2 * MON", at(2026, 6, 1), UTC_ZONE, 2) == [at(2026, 6, 15), at(2026, 6, 29)]


def test_weekdays_in_a_time_zone():
    # 9:00 on weekdays in Berlin (UTC+1 in December): Friday 5th, then Monday 8th.
    assert ticks("0 9 * * MON-FRI", at(2025, 12, 5, 7), BERLIN, 2) == [at(2025, 12, 5, 8), at(2025, 12, 8, 8)]


# DST -----------------------------------------------------------------------------------------


def test_berlin_spring_forward_skips_the_missing_wall_time():
    # 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    assert ticks("30 2 * * *", at(2026, 3, 27, 12), BERLIN, 3) == [
        at(2026, 3, 28, 1, 30),  # 02:30 CET
        at(2026, 3, 30, 0, 30),  # 02:30 CEST; the 29th is skipped
        at(2026, 3, 31, 0, 30),
    ]


def test_berlin_spring_forward_hourly_keeps_going():
    assert ticks("0 * * * *", at(2026, 3, 29, 0, 30), BERLIN, 3) == [
        at(2026, 3, 29, 1, 0),  # 03:00 CEST, straight after 01:00 CET (00:00 UTC)
        at(2026, 3, 29, 2, 0),
        at(2026, 3, 29, 3, 0),
    ]


def test_berlin_fall_back_runs_the_repeated_time_once():
    # 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, the job runs once.
    assert ticks("30 2 * * *", at(2026, 10, 24, 12), BERLIN, 3) == [
        at(2026, 10, 25, 0, 30),  # 02:30 CEST, the first pass
        at(2026, 10, 26, 1, 30),  # 02:30 CET the next day
        at(2026, 10, 27, 1, 30),
    ]


def test_fall_back_from_inside_the_second_pass():
    # Asked during the second 02:30 (01:30 UTC): the first pass is over, so the next is tomorrow.
    assert next_after(parse("45 2 * * *"), at(2026, 10, 25, 1, 30), BERLIN) == at(2026, 10, 26, 1, 45)
    # The last tick before a moment in the second pass may be a later wall time of the first pass.
    assert previous_at_or_before(parse("45 2 * * *"), at(2026, 10, 25, 1, 30), BERLIN) == at(2026, 10, 25, 0, 45)


def test_new_york_spring_forward_and_fall_back():
    # 8 March 2026: 02:00 EST becomes 03:00 EDT; 1 November 2026: 02:00 EDT becomes 01:00 EST.
    assert ticks("30 2 * * *", at(2026, 3, 7, 8), NEW_YORK, 2) == [at(2026, 3, 9, 6, 30), at(2026, 3, 10, 6, 30)]
    assert ticks("30 1 * * *", at(2026, 10, 31, 12), NEW_YORK, 2) == [
        at(2026, 11, 1, 5, 30),  # 01:30 EDT, the first pass
        at(2026, 11, 2, 6, 30),  # 01:30 EST the next day
    ]


# previous_at_or_before ---------------------------------------------------------------------------


def test_previous_is_inclusive_and_mirrors_next():
    spec = parse("*/15 * * * *")
    assert previous_at_or_before(spec, at(2026, 12, 5, 9, 15), UTC_ZONE) == at(2026, 12, 5, 9, 15)
    assert previous_at_or_before(spec, at(2026, 12, 5, 9, 14, 59), UTC_ZONE) == at(2026, 12, 5, 9, 0)
    assert previous_at_or_before(parse("0 0 1 1 *"), at(2027, 1, 1, 0, 0, 1), UTC_ZONE) == at(2027, 1, 1)


def test_previous_skips_the_missing_wall_time():
    assert previous_at_or_before(parse("30 2 * * *"), at(2026, 3, 29, 12), BERLIN) == at(2026, 3, 28, 1, 30)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        next_after(parse("* * * * *"), datetime(2026, 1, 1), UTC_ZONE)
