"""The Schedule trigger (check, enable, poll, recent), the card's run() and its registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors import registry
from connectors.schedule.cards import SCHEDULE, run_schedule
from connectors.schedule.connector import ScheduleTrigger, connector
from connectors.specs import CardInputError, Event, RunContext, TriggerContext

ACTIVATED = datetime(2026, 12, 5, 9, 0, 20, tzinfo=UTC)  # a Saturday
EVERY_15 = {"mode": "interval", "every_minutes": 15, "timezone": "Europe/Berlin"}
WEEKDAYS_9 = {"mode": "cron", "cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def context(options: dict[str, Any], now: datetime, activated_at: datetime | None = ACTIVATED) -> TriggerContext:
    return TriggerContext(options=options, activated_at=activated_at, now=now)


@pytest.fixture
def trigger() -> ScheduleTrigger:
    return ScheduleTrigger()


# Registration --------------------------------------------------------------------------------


def test_connector_registers_its_card_and_trigger():
    assert registry.register_connector(connector) is connector
    assert registry.register_connector(connector) is connector  # idempotent
    assert registry.get("schedule.every") is SCHEDULE
    assert registry.connector("schedule") is connector
    assert isinstance(registry.trigger("schedule.every"), ScheduleTrigger)
    assert not connector.needs_connection
    assert connector.to_json()["triggers"] == ["schedule.every"]


def test_card_declaration():
    assert (SCHEDULE.kind, SCHEDULE.connector, SCHEDULE.group) == ("event", "schedule", "Schedule")
    assert SCHEDULE.name == "Schedule"
    assert [f.key for f in SCHEDULE.options] == ["mode", "every_minutes", "cron", "timezone"]
    assert [c.value for c in SCHEDULE.option("mode").choices] == ["interval", "cron"]
    assert SCHEDULE.option("mode").default == "interval"
    assert SCHEDULE.option("every_minutes").default == 60
    assert SCHEDULE.option("timezone").default == "UTC"
    assert set(SCHEDULE.sample_outputs) == {f.key for f in SCHEDULE.outputs}
    assert not SCHEDULE.needs_configuration
    assert ScheduleTrigger.card == "schedule.every" and not ScheduleTrigger.accepts_deliveries


def test_card_passes_the_system_check():
    try:
        from connectors.checks import check_cards
    except ImportError as exc:  # the check module may be mid-change elsewhere
        pytest.skip(f"connectors.checks cannot be imported: {exc}")
    assert check_cards([SCHEDULE]) == []


# check() -------------------------------------------------------------------------------------


def test_valid_options_have_no_problems(trigger):
    assert trigger.check(EVERY_15) == []
    assert trigger.check(WEEKDAYS_9) == []
    assert trigger.check({}) == []  # every 60 minutes in UTC
    assert trigger.check({"mode": "interval", "every_minutes": "30", "timezone": ""}) == []
    assert trigger.check({"mode": "interval", "every_minutes": 10080.0}) == []


@pytest.mark.parametrize("minutes", [0, -5, 10081, 1.5, "abc", True])
def test_interval_must_be_a_whole_number_in_range(trigger, minutes):
    assert trigger.check({"mode": "interval", "every_minutes": minutes}) == [
        f"Every N minutes must be a whole number from 1 to 10,080 (a week), not '{minutes}'."
    ]


def test_cron_problems_are_explained(trigger):
    assert trigger.check({"mode": "cron", "cron": " "}) == [
        "Enter a cron expression, such as 0 9 * * MON-FRI (9:00 on weekdays)."
    ]
    assert trigger.check({"mode": "cron", "cron": "0 25 * * *"}) == [
        "Cron expression: The hour field '25' is out of range 0-23."
    ]


def test_unknown_time_zone_and_mode(trigger):
    assert trigger.check({**EVERY_15, "timezone": "Mars/Olympus"}) == [
        "Time zone: 'Mars/Olympus' is not a time zone; use an IANA name such as Europe/Berlin."
    ]
    assert trigger.check({"mode": "daily"}) == [
        "Repeat must be 'interval' (every N minutes) or 'cron' (a cron expression), not 'daily'."
    ]


# enable() ------------------------------------------------------------------------------------


def test_enable_names_the_next_tick(trigger):
    enabled = trigger.enable(context(EVERY_15, now=ACTIVATED))
    assert enabled.mode == "schedule"
    assert enabled.state == {}
    assert enabled.message == "Runs every 15 minutes; next at 10:15 (Europe/Berlin)."


def test_enable_cron_names_the_day_when_it_is_not_today(trigger):
    enabled = trigger.enable(context(WEEKDAYS_9, now=ACTIVATED))
    assert enabled.message == "Runs at the times of '0 9 * * MON-FRI'; next at 2026-12-07 09:00 (Europe/Berlin)."


def test_enable_refuses_invalid_options(trigger):
    with pytest.raises(ValueError, match="The hour field '25' is out of range 0-23."):
        trigger.enable(context({"mode": "cron", "cron": "0 25 * * *"}, now=ACTIVATED))


# poll(), interval mode -----------------------------------------------------------------------


def test_first_poll_after_activation_finds_nothing_due(trigger):
    polled = trigger.poll(context(EVERY_15, now=ACTIVATED + timedelta(minutes=5)), "")
    assert polled.events == []
    assert polled.cursor == ""
    assert polled.next_poll_at == at(2026, 12, 5, 9, 15)


def test_interval_ticks_count_from_the_activation_minute(trigger):
    activated = at(2026, 12, 5, 9, 7, 42)
    polled = trigger.poll(context(EVERY_15, now=at(2026, 12, 5, 9, 22), activated_at=activated), "")
    assert [e.id for e in polled.events] == ["2026-12-05T09:22:00Z"]
    assert polled.next_poll_at == at(2026, 12, 5, 9, 37)


def test_one_tick_due(trigger):
    polled = trigger.poll(context(EVERY_15, now=at(2026, 12, 5, 9, 15, 3)), "")
    assert polled.events == [
        Event(id="2026-12-05T09:15:00Z", data={"scheduled_at": "2026-12-05T09:15:00Z"}, topic="schedule")
    ]
    assert polled.cursor == "2026-12-05T09:15:00Z"
    assert polled.next_poll_at == at(2026, 12, 5, 9, 30)


def test_a_tick_exactly_now_is_due(trigger):
    polled = trigger.poll(context(EVERY_15, now=at(2026, 12, 5, 9, 30)), "2026-12-05T09:15:00Z")
    assert [e.id for e in polled.events] == ["2026-12-05T09:30:00Z"]
    assert polled.next_poll_at == at(2026, 12, 5, 9, 45)


def test_missed_ticks_run_once_for_the_latest(trigger):
    # Workers were down from 09:20 to 10:05: 09:30, 09:45 and 10:00 were missed.
    polled = trigger.poll(context(EVERY_15, now=at(2026, 12, 5, 10, 5)), "2026-12-05T09:15:00Z")
    assert len(polled.events) == 1
    assert polled.events[0].id == "2026-12-05T10:00:00Z"
    assert polled.events[0].data == {"scheduled_at": "2026-12-05T10:00:00Z"}
    assert polled.cursor == "2026-12-05T10:00:00Z"
    assert polled.next_poll_at == at(2026, 12, 5, 10, 15)


def test_a_repeated_poll_is_harmless(trigger):
    ctx = context(EVERY_15, now=at(2026, 12, 5, 9, 16))
    first = trigger.poll(ctx, "")
    again = trigger.poll(ctx, first.cursor)
    assert len(first.events) == 1
    assert again.events == []
    assert again.cursor == first.cursor
    assert again.next_poll_at == first.next_poll_at == at(2026, 12, 5, 9, 30)


def test_a_cursor_from_before_the_activation_replays_nothing(trigger):
    # A flow switched off at 08:00 and on again at 09:00:20: nothing from in between runs.
    ctx = context({"mode": "cron", "cron": "*/10 * * * *"}, now=at(2026, 12, 5, 9, 5))
    assert trigger.poll(ctx, "2026-12-05T08:00:00Z").events == []


def test_a_polling_sequence_never_runs_a_tick_twice(trigger):
    cursor, seen = "", []
    now = ACTIVATED
    while now < ACTIVATED + timedelta(hours=2):
        now += timedelta(minutes=4)
        polled = trigger.poll(context(EVERY_15, now=now), cursor)
        seen += [e.id for e in polled.events]
        cursor = polled.cursor
        assert polled.next_poll_at > now
    # Polled every 4 minutes until 11:00:20: each quarter hour ran exactly once.
    assert seen == [f"2026-12-05T{9 + m // 60:02d}:{m % 60:02d}:00Z" for m in range(15, 121, 15)]


def test_without_an_activation_time_ticks_count_from_now(trigger):
    polled = trigger.poll(context({"every_minutes": 5}, now=at(2026, 12, 5, 9, 2, 30), activated_at=None), "")
    assert polled.events == []
    assert polled.next_poll_at == at(2026, 12, 5, 9, 7)


# poll(), cron mode ---------------------------------------------------------------------------


def test_cron_in_a_time_zone(trigger):
    # Saturday activation; Monday 09:00 in Berlin is 08:00 UTC.
    nothing = trigger.poll(context(WEEKDAYS_9, now=at(2026, 12, 6, 20)), "")
    assert nothing.events == []
    assert nothing.next_poll_at == at(2026, 12, 7, 8, 0)

    monday = trigger.poll(context(WEEKDAYS_9, now=at(2026, 12, 7, 8, 0, 1)), "")
    assert [e.id for e in monday.events] == ["2026-12-07T08:00:00Z"]
    assert monday.cursor == "2026-12-07T08:00:00Z"
    assert monday.next_poll_at == at(2026, 12, 8, 8, 0)


def test_cron_missed_days_run_once(trigger):
    # Down from Monday to Thursday afternoon: only Thursday's 09:00 runs.
    polled = trigger.poll(context(WEEKDAYS_9, now=at(2026, 12, 10, 15)), "2026-12-07T08:00:00Z")
    assert [e.id for e in polled.events] == ["2026-12-10T08:00:00Z"]
    assert polled.next_poll_at == at(2026, 12, 11, 8, 0)


def test_cron_across_summer_time(trigger):
    options = {"mode": "cron", "cron": "0 9 * * *", "timezone": "Europe/Berlin"}
    polled = trigger.poll(context(options, now=at(2027, 3, 28, 7, 30), activated_at=at(2027, 3, 20)), "")
    assert [e.id for e in polled.events] == ["2027-03-28T07:00:00Z"]  # 09:00 CEST
    assert polled.next_poll_at == at(2027, 3, 29, 7, 0)


def test_poll_refuses_invalid_options(trigger):
    with pytest.raises(ValueError, match="Every N minutes"):
        trigger.poll(context({"every_minutes": 0}, now=ACTIVATED), "")


# recent() ------------------------------------------------------------------------------------


def test_recent_is_a_sample_of_the_next_tick(trigger):
    assert trigger.recent(context(WEEKDAYS_9, now=ACTIVATED)) == [
        {
            "id": "2026-12-07T08:00:00Z",
            "label": "Next tick 2026-12-07 09:00 (Europe/Berlin)",
            "data": {"scheduled_at": "2026-12-07T08:00:00Z"},
        }
    ]
    assert trigger.recent(context({"mode": "cron", "cron": ""}, now=ACTIVATED)) == []


# The card's run() ----------------------------------------------------------------------------


def test_run_gives_the_tick_in_utc_and_local_time():
    outputs = run_schedule(RunContext(), {"timezone": "Europe/Berlin"}, {"scheduled_at": "2026-12-05T09:00:00Z"})
    assert outputs == {
        "scheduled_at": "2026-12-05T09:00:00Z",
        "scheduled_at_local": "2026-12-05T10:00:00+01:00",
        "timezone": "Europe/Berlin",
    }
    assert SCHEDULE.run is run_schedule


def test_run_in_summer_and_with_the_default_zone():
    summer = run_schedule(RunContext(), {"timezone": "America/New_York"}, {"scheduled_at": "2026-07-01T13:30:00+00:00"})
    assert summer == {
        "scheduled_at": "2026-07-01T13:30:00Z",
        "scheduled_at_local": "2026-07-01T09:30:00-04:00",
        "timezone": "America/New_York",
    }
    assert run_schedule(RunContext(), {}, {"scheduled_at": "2026-07-01T13:30:00"})["scheduled_at_local"] == (
        "2026-07-01T13:30:00+00:00"
    )


@pytest.mark.parametrize("value", ["", None, "yesterday", "2026-13-01T00:00:00Z"])
def test_run_refuses_a_bad_tick(value):
    with pytest.raises(CardInputError, match="Scheduled at"):
        run_schedule(RunContext(), {"timezone": "UTC"}, {"scheduled_at": value})


def test_run_refuses_an_unknown_zone():
    with pytest.raises(CardInputError, match="Time zone: 'Nowhere' is not a time zone"):
        run_schedule(RunContext(), {"timezone": "Nowhere"}, {"scheduled_at": "2026-12-05T09:00:00Z"})
