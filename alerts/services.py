"""Failure alerts: saving who hears about a flow's failed runs, and sending the alerts that are due.

`alerts_send_due()` runs in every worker's scheduler tick. Each flow's alert is claimed with a
conditional update of `last_sent_at` (several workers ticking at once send it once), then sent,
then its `cursor` moves past the failed runs it listed. Sending never touches a run: a mail server
or Slack that fails leaves `last_error` and the cursor where it was, so the same failures (and any
newer ones) are sent at the next due time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Configuration, Membership
from accounts.selectors import configurations_usable
from alerts.models import FlowAlert
from designer.models import DeliverySource, Flow, Run, RunStatus

logger = logging.getLogger(__name__)

MAX_LINKS = 50
MAX_EMAILS = 20
MAX_ERROR_CHARS = 500
# A tick stops starting new alerts after this long, so that slow mail servers never hold up the
# scheduler's other duties (polls, stalled runs); the rest are sent at the next tick.
TICK_BUDGET_SECONDS = 10.0
# A run still queued or running holds back the failures after it, so that an alert covers runs in
# order and one finishing late is not skipped by the cursor; after this long it holds back nothing.
HOLD_BACK = timedelta(hours=1)
NOTIFY_CLIENT_OPTIONS = {"timeout": (5, 10), "max_retries": 1}


class AlertSettingsInvalid(ValueError):
    """Settings that cannot be saved; `errors` maps a field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# Settings ------------------------------------------------------------------------------------------


def connection_can_notify(configuration: Configuration) -> bool:
    from connectors.registry import UnknownConnectorError

    try:
        return configuration.connector_spec().can_notify
    except UnknownConnectorError:
        return False


def notify_connections(*, membership: Membership) -> list[Configuration]:
    """Connections this member may pick for alerts: usable by them, of a connector that can notify."""
    return [c for c in configurations_usable(membership=membership) if connection_can_notify(c)]


def _clean_emails(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        items = [part.strip() for part in value.replace(";", ",").replace("\n", ",").split(",")]
    elif isinstance(value, list | tuple):
        items = [str(part).strip() if isinstance(part, str) else None for part in value]
        if None in items:
            raise AlertSettingsInvalid({"emails": "Give the addresses as text."})
    else:
        raise AlertSettingsInvalid({"emails": "Give the addresses as a list, or as text separated by commas."})
    found: list[str] = []
    for item in filter(None, items):
        try:
            validate_email(item)
        except ValidationError:
            raise AlertSettingsInvalid({"emails": f"'{item[:80]}' is not an email address."}) from None
        if item.lower() not in (f.lower() for f in found):
            found.append(item)
    if len(found) > MAX_EMAILS:
        raise AlertSettingsInvalid({"emails": f"At most {MAX_EMAILS} addresses."})
    return found


MAX_IDS = 500


def _clean_ids(value: Any, *, what: str) -> list[int]:
    if value is None or value == "":
        return []
    values = value if isinstance(value, list | tuple) else [value]
    if len(values) > MAX_IDS:
        raise AlertSettingsInvalid({what: f"Give at most {MAX_IDS} ids."})
    ids = []
    for item in values:
        if isinstance(item, bool) or not (isinstance(item, int) or (isinstance(item, str) and item.isascii()
                                                                   and item.isdigit())):
            raise AlertSettingsInvalid({what: "Give ids (whole numbers)."})
        if not 0 < int(item) < 2**31:
            raise AlertSettingsInvalid({what: "That id is not one of this team's."})
        ids.append(int(item))
    return ids


def flow_alert_get(*, flow: Flow) -> FlowAlert | None:
    return FlowAlert.objects.filter(flow=flow).select_related("connection").first()


def flow_alert_save(*, membership: Membership, flow: Flow, members: Any = None, emails: Any = None,
                    connection: Any = None, enabled: Any = True) -> FlowAlert:
    """Saves a flow's alert settings as an editor chose them (raises AlertSettingsInvalid).

    `members`: user ids of members of the flow's team; `emails`: other addresses; `connection`: the
    id of a connection the editor may use whose connector can notify, or None. A new alert starts
    after the flow's latest failed run: failures from before it was set up are not sent."""
    member_ids = _clean_ids(members, what="members")
    known = set(Membership.objects.filter(team_id=flow.team_id, user_id__in=member_ids).values_list("user_id", flat=True))
    if set(member_ids) - known:
        raise AlertSettingsInvalid({"members": "Pick members of this flow's team."})
    addresses = _clean_emails(emails)
    configuration = None
    current = FlowAlert.objects.filter(flow=flow).values_list("connection_id", flat=True).first()
    if connection not in (None, "", 0):
        [connection_id] = _clean_ids(connection, what="connection") or [None]
        if connection_id is not None and connection_id == current:
            # Kept as it is, even by an editor who may not pick that connection themselves.
            configuration = Configuration.objects.get(pk=connection_id)
        else:
            configuration = next((c for c in notify_connections(membership=membership) if c.pk == connection_id),
                                 None)
        if configuration is None:
            raise AlertSettingsInvalid({"connection": "Pick a Slack or Teams connection you may use."})
    if not isinstance(enabled, bool):
        raise AlertSettingsInvalid({"enabled": "Give true or false."})
    with transaction.atomic():
        alert = FlowAlert.objects.select_for_update().filter(flow=flow).first()
        if alert is None:
            latest = _alerted(Run.objects.filter(flow=flow, status=RunStatus.FAILED)).aggregate(latest=Max("id"))["latest"]
            alert = FlowAlert(flow=flow, cursor=latest or 0)
        alert.emails = addresses
        alert.connection = configuration
        alert.enabled = enabled
        alert.updated_by = membership.user
        alert.save()
        alert.members.set(sorted(known))
    return alert


def alert_recipients(alert: FlowAlert) -> list[str]:
    """The addresses emailed: the chosen members still in the flow's team (with an address), then the others."""
    users = alert.members.filter(memberships__team_id=alert.flow.team_id).exclude(email="").order_by("username")
    found: list[str] = []
    for address in [*(u.email for u in users), *(alert.emails or [])]:
        if address.lower() not in (f.lower() for f in found):
            found.append(address)
    return found


# Sending -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    id: int
    error: str
    finished_at: Any


def _absolute(path: str) -> str:
    base = settings.PUBLIC_BASE_URL
    return f"{base}{path}" if base else path


def alert_message(flow: Flow, failures: list[Failure]) -> tuple[str, str]:
    """The subject and text of one alert: the count and a link to each failed run (at most 50)."""
    count = len(failures)
    subject = f"Flow “{flow.name}”: {count} failed run{'s' if count != 1 else ''}"
    lines = [f"{count} run{'s' if count != 1 else ''} of the flow “{flow.name}” failed since the last alert.", ""]
    for failure in failures[:MAX_LINKS]:
        error = " ".join(failure.error.split())[:200] or "failed"
        lines.append(f"- Run #{failure.id}: {error}")
        lines.append(f"  {_absolute(reverse('run_detail', args=[failure.id]))}")
    if count > MAX_LINKS:
        more = _absolute(reverse("runs") + f"?flow={flow.pk}&outcome={RunStatus.FAILED}")
        lines.append(f"… and {count - MAX_LINKS} more: {more}")
    lines += ["", f"Alert settings: {_absolute(reverse('flow_status', args=[flow.pk]))}#alerts"]
    return subject, "\n".join(lines)


def _alerted(runs):
    """Runs alerts are about: not tests (the editor's Test button, a step test), which a person
    made and watched."""
    return runs.exclude(delivery__source=DeliverySource.TEST)


def _pending(alert: FlowAlert, now) -> list[Failure]:
    """The failed runs after the cursor that no earlier run still in progress holds back."""
    rows = _alerted(Run.objects.filter(flow_id=alert.flow_id, status=RunStatus.FAILED, id__gt=alert.cursor)).order_by("id")
    unfinished = _alerted(Run.objects.filter(
        flow_id=alert.flow_id, id__gt=alert.cursor, status__in=(RunStatus.QUEUED, RunStatus.RUNNING),
        created_at__gte=now - HOLD_BACK,
    )).aggregate(first=Min("id"))["first"]
    if unfinished is not None:
        rows = rows.filter(id__lt=unfinished)
    return [Failure(*row) for row in rows.values_list("id", "error", "finished_at")]


def _send(alert: FlowAlert, subject: str, text: str) -> list[str]:
    """Sends through every channel; returns what failed, in words (and logs it)."""
    problems: list[str] = []
    recipients = alert_recipients(alert)
    if recipients:
        try:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception as exc:  # any mail failure is the alert's, never the runs'
            logger.warning("Failure alert of flow %s: email not sent: %s", alert.flow_id, exc)
            problems.append(f"Email not sent: {type(exc).__name__}: {exc}"[:250])
    if alert.connection_id:
        configuration = alert.connection
        try:
            from accounts.configurations import configuration_client

            spec = configuration.connector_spec()
            if spec.notify is None:
                raise ValueError(f"{spec.name} cannot send alerts.")
            spec.notify(configuration_client(configuration, **NOTIFY_CLIENT_OPTIONS), subject, text)
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            logger.warning("Failure alert of flow %s: not posted through %s: %s", alert.flow_id, configuration.pk,
                           message)
            problems.append(f"Not posted through “{configuration.name}”: {message}"[:250])
    if not recipients and not alert.connection_id:
        problems.append("Nobody to alert: pick members, addresses or a connection.")
    return problems


def alert_send(alert: FlowAlert, *, now=None) -> bool:
    """Claims and sends this alert if it is due and has failures to report; True when sent."""
    now = now or timezone.now()
    failures = _pending(alert, now)
    if not failures:
        return False
    # The claim: only the worker whose update finds last_sent_at as it read it sends this round.
    claimed = FlowAlert.objects.filter(
        pk=alert.pk, enabled=True, cursor=alert.cursor,
        **({"last_sent_at": alert.last_sent_at} if alert.last_sent_at else {"last_sent_at__isnull": True}),
    ).update(last_sent_at=now)
    if not claimed:
        return False
    subject, text = alert_message(alert.flow, failures)
    problems = _send(alert, subject, text)
    if problems:
        FlowAlert.objects.filter(pk=alert.pk).update(last_error=" ".join(problems)[:MAX_ERROR_CHARS])
        return False
    FlowAlert.objects.filter(pk=alert.pk, cursor=alert.cursor).update(
        cursor=failures[-1].id, last_error="", last_count=len(failures),
    )
    return True


def alerts_due(now) -> Iterable[FlowAlert]:
    interval = timedelta(seconds=settings.ALERT_MIN_INTERVAL_SECONDS)
    failed_after_cursor = _alerted(Run.objects.filter(flow_id=OuterRef("flow_id"), status=RunStatus.FAILED,
                                                      id__gt=OuterRef("cursor")))
    return (
        FlowAlert.objects.filter(enabled=True)
        .filter(Q(last_sent_at__isnull=True) | Q(last_sent_at__lte=now - interval))
        .filter(Exists(failed_after_cursor))
        .select_related("flow", "connection")
        .order_by("last_sent_at", "pk")
    )


def alerts_send_due(now=None) -> int:
    """Sends every alert that is due (from the scheduler's tick); returns how many were sent.

    Never raises: an alert that cannot be sent is logged and kept in its `last_error`."""
    now = now or timezone.now()
    started = time.monotonic()
    sent = 0
    try:
        for alert in alerts_due(now):
            if time.monotonic() - started > TICK_BUDGET_SECONDS:
                break
            try:
                sent += alert_send(alert, now=now)
            except Exception:
                logger.exception("Failure alert of flow %s could not be sent", alert.flow_id)
    except Exception:
        logger.exception("Failure alerts could not be read")
    return sent
