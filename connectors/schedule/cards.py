"""The Schedule event card: starts a flow every N minutes or at the times of a cron expression.

The trigger (connectors/schedule/connector.py) decides when a tick is due and gives the card the
tick as `scheduled_at`; run() turns it into the card's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext, choices

CARD_KEY = "schedule.every"
MAX_MINUTES = 10_080  # a week
DEFAULT_MINUTES = 60
DEFAULT_ZONE = "UTC"

MODE = Field(
    "mode",
    "Repeat",
    required=True,
    default="interval",
    choices=choices(("interval", "Every N minutes"), ("cron", "Cron expression")),
)
EVERY_MINUTES = Field(
    "every_minutes",
    "Every N minutes",
    type="number",
    default=DEFAULT_MINUTES,
    help="1 to 10,080 (a week). Counted from when the flow is switched on.",
    depends_on=("mode",),
)
CRON = Field(
    "cron",
    "Cron expression",
    help=(
        "minute hour day-of-month month day-of-week, e.g. 0 9 * * MON-FRI = 9:00 on weekdays; "
        "*/15 * * * * = every quarter hour; 0 0 1 * * = midnight on the 1st of each month."
    ),
    depends_on=("mode",),
)
TIMEZONE = Field(
    "timezone",
    "Time zone",
    default=DEFAULT_ZONE,
    help="An IANA time zone such as Europe/Berlin; cron times are wall-clock times there.",
)


def iso_utc(moment: datetime) -> str:
    """2026-12-05T09:00:00Z: whole seconds, UTC, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_zone(name: Any) -> ZoneInfo:
    """The time zone named by the option (UTC when empty); raises ValueError for an unknown name."""
    text = str(name or "").strip() or DEFAULT_ZONE
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{text}' is not a time zone; use an IANA name such as Europe/Berlin.") from None


def read_moment(value: Any) -> datetime:
    """An aware datetime from an ISO 8601 text (no zone means UTC); raises ValueError."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            raise ValueError("empty")
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def run_schedule(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    raw = inputs.get("scheduled_at")
    try:
        moment = read_moment(raw)
    except ValueError:
        raise CardInputError(
            f"Scheduled at: '{str(raw or '')[:60]}' is not an ISO 8601 time such as 2026-12-05T09:00:00Z."
        ) from None
    try:
        zone = read_zone(options.get("timezone"))
    except ValueError as exc:
        raise CardInputError(f"Time zone: {exc}") from None
    return {
        "scheduled_at": iso_utc(moment),
        "scheduled_at_local": moment.astimezone(zone).replace(microsecond=0).isoformat(),
        "timezone": zone.key,
    }


SCHEDULE: Card = register(
    Card(
        key=CARD_KEY,
        name="Schedule",
        description=(
            "Starts the flow on a schedule: every N minutes, or at the times of a cron expression "
            "in a time zone."
        ),
        kind="event",
        connector="schedule",
        group="Schedule",
        options=(MODE, EVERY_MINUTES, CRON, TIMEZONE),
        inputs=(Field("scheduled_at", "Scheduled at", type="date", help="The tick that started the run."),),
        outputs=(
            Field("scheduled_at", "Scheduled at", type="date", help="The tick in UTC, like 2026-12-05T09:00:00Z."),
            Field(
                "scheduled_at_local",
                "Scheduled at (local)",
                help="The tick in the chosen time zone, like 2026-12-05T10:00:00+01:00.",
            ),
            Field("timezone", "Time zone", help="The chosen time zone, like Europe/Berlin."),
        ),
        run=run_schedule,
        needs_configuration=False,
        sample_outputs={
            "scheduled_at": "2026-12-05T09:00:00Z",
            "scheduled_at_local": "2026-12-05T10:00:00+01:00",
            "timezone": "Europe/Berlin",
        },
    )
)
