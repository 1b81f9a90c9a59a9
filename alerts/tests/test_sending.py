"""Failure alerts as the scheduler sends them: one alert per flow per interval, through a real SMTP
server on loopback and the Slack and Teams stand-ins; a failing channel never touches a run."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Configuration, Role
from alerts.models import FlowAlert
from alerts.services import AlertSettingsInvalid, Failure, alert_message, alerts_send_due, flow_alert_save
from alerts.tests.conftest import free_port, mailer
from connectors.slack import standin as slack_standin
from designer import scheduler
from designer.models import Run, RunStatus

RUN_LINK = re.compile(r"https://flows\.example\.org/runs/(\d+)/")


def linked_runs(text: str) -> list[int]:
    return [int(i) for i in RUN_LINK.findall(text)]


def connection(team, owner, connector: str, credentials: dict) -> Configuration:
    item = Configuration(team=team, owner=owner, connector=connector, name=f"{connector} alerts", shared=True)
    item.credentials = credentials
    item.save()
    return item


def test_a_flow_failing_50_times_in_2_minutes_sends_one_email_listing_the_50_failures(
    smtp, fail, failing_flow, owner_membership, member
):
    editor = member(Role.EDITOR, "erin")
    flow_alert_save(membership=owner_membership, flow=failing_flow, members=[editor.pk, owner_membership.user_id],
                    emails="oncall@example.com")
    start = timezone.now()
    failed = fail(50)

    assert scheduler.tick() == 0  # the scheduler's round sends what is due
    assert alerts_send_due(now=start + timedelta(seconds=30)) == 0
    [message] = smtp.messages()
    assert message["Subject"] == "Flow “Survey follow-up”: 50 failed runs"
    assert sorted(smtp.envelopes[0].rcpt_tos) == ["erin@example.com", "oncall@example.com", "owner@example.com"]
    body = message.get_content()
    assert "50 runs of the flow “Survey follow-up” failed since the last alert." in body
    assert linked_runs(body) == failed
    assert "(step_1) failed: To:" in body
    assert f"https://flows.example.org/flows/{failing_flow.pk}/status/#alerts" in body
    alert = FlowAlert.objects.get(flow=failing_flow)
    assert alert.cursor == failed[-1] and alert.last_count == 50 and alert.last_error == ""
    sent_at = alert.last_sent_at

    # A second batch within the interval waits for it.
    later = fail(3)
    assert alerts_send_due(now=sent_at + timedelta(minutes=9)) == 0
    assert len(smtp.messages()) == 1

    # After it, one more email lists only the new failures.
    assert alerts_send_due(now=sent_at + timedelta(minutes=10, seconds=1)) == 1
    assert alerts_send_due(now=sent_at + timedelta(minutes=10, seconds=2)) == 0
    first, second = smtp.messages()
    assert second["Subject"] == "Flow “Survey follow-up”: 3 failed runs"
    assert linked_runs(second.get_content()) == later
    assert FlowAlert.objects.get(flow=failing_flow).cursor == later[-1]


def test_an_unreachable_smtp_server_leaves_the_runs_as_they_were_and_the_next_due_time_retries(
    settings, fail, failing_flow, owner_membership
):
    settings.MAILERS = mailer(free_port())  # nobody listens there
    flow_alert_save(membership=owner_membership, flow=failing_flow, emails=["oncall@example.com"])
    failed = fail(2)
    now = timezone.now()

    assert alerts_send_due(now=now) == 0
    alert = FlowAlert.objects.get(flow=failing_flow)
    assert alert.last_error.startswith("Email not sent: ConnectionRefusedError")
    assert alert.cursor < failed[0] and alert.last_sent_at == now
    assert list(Run.objects.filter(pk__in=failed).values_list("status", flat=True)) == ["failed", "failed"]

    # Not before the next due time; then, with the server back, the same failures are sent.
    from aiosmtpd.controller import Controller

    from alerts.tests.conftest import Inbox

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings.MAILERS = mailer(controller.port)
        assert alerts_send_due(now=now + timedelta(minutes=5)) == 0 and inbox.envelopes == []
        assert alerts_send_due(now=now + timedelta(minutes=10)) == 1
    finally:
        controller.stop()
    [message] = inbox.messages()
    assert linked_runs(message.get_content()) == failed
    alert.refresh_from_db()
    assert alert.last_error == "" and alert.cursor == failed[-1]


def test_a_run_that_fails_while_an_alert_cannot_be_sent_still_fails_normally(settings, fail, failing_flow,
                                                                            owner_membership):
    settings.MAILERS = mailer(free_port())
    flow_alert_save(membership=owner_membership, flow=failing_flow, emails=["oncall@example.com"])
    fail(1)
    scheduler.tick()  # the alert fails inside the tick, which goes on
    [run_id] = fail(1)
    assert Run.objects.get(pk=run_id).status == RunStatus.FAILED


def test_runs_that_succeed_send_nothing_and_old_failures_are_not_sent_to_a_new_alert(
    smtp, fail, failing_flow, owner_membership
):
    fail(2)  # before anyone set up alerts
    flow_alert_save(membership=owner_membership, flow=failing_flow, emails=["oncall@example.com"])
    Run.objects.create(flow=failing_flow, team=failing_flow.team, version=failing_flow.versions.get(),
                       status=RunStatus.SUCCEEDED)
    assert alerts_send_due() == 0 and smtp.envelopes == []


def test_a_disabled_alert_sends_nothing(smtp, fail, failing_flow, owner_membership):
    flow_alert_save(membership=owner_membership, flow=failing_flow, emails=["oncall@example.com"], enabled=False)
    fail(1)
    assert alerts_send_due() == 0 and smtp.envelopes == []


def test_a_failure_behind_a_run_still_in_progress_waits_for_it(smtp, fail, failing_flow, owner_membership):
    flow_alert_save(membership=owner_membership, flow=failing_flow, emails=["oncall@example.com"])
    running = Run.objects.create(flow=failing_flow, team=failing_flow.team, version=failing_flow.versions.get(),
                                 status=RunStatus.RUNNING)
    after = fail(1)
    assert alerts_send_due() == 0 and smtp.envelopes == []
    Run.objects.filter(pk=running.pk).update(status=RunStatus.FAILED, error="Late failure")
    assert alerts_send_due() == 1
    assert linked_runs(smtp.messages()[0].get_content()) == [running.pk, *after]


def test_two_workers_ticking_at_once_send_the_alert_once(smtp, fail, failing_flow, owner_membership):
    flow_alert_save(membership=owner_membership, flow=failing_flow, emails=["oncall@example.com"])
    fail(1)
    now = timezone.now()
    alert = FlowAlert.objects.get(flow=failing_flow)
    stale = FlowAlert.objects.get(flow=failing_flow)  # what the second worker read before the first claimed
    from alerts.services import alert_send

    assert alert_send(alert, now=now) is True
    assert alert_send(stale, now=now) is False
    assert len(smtp.envelopes) == 1


def test_a_long_list_links_50_runs_and_says_how_many_more():
    from designer.models import Flow

    flow = Flow(pk=7, name="Busy")
    subject, text = alert_message(flow, [Failure(i, "boom", None) for i in range(1, 76)])
    assert subject == "Flow “Busy”: 75 failed runs"
    assert text.count("- Run #") == 50
    assert "… and 25 more: " in text and "/runs/?flow=7&outcome=failed" in text


def test_without_a_public_address_the_links_are_paths(settings):
    from designer.models import Flow

    settings.PUBLIC_BASE_URL = ""
    _, text = alert_message(Flow(pk=3, name="X"), [Failure(9, "", None)])
    assert "\n  /runs/9/\n" in text and "Alert settings: /flows/3/status/#alerts" in text


def test_a_slack_alert_arrives_through_the_stand_in(slack, fail, failing_flow, owner_membership, team):
    hook = connection(team, owner_membership.user, "slack", {"webhook_url": slack.webhook_url, "bot_token": ""})
    flow_alert_save(membership=owner_membership, flow=failing_flow, connection=hook.pk)
    failed = fail(2)
    assert alerts_send_due() == 1
    [message] = slack.messages
    assert message["channel"] == "C0ALERTS"
    assert message["text"].startswith("*Flow “Survey follow-up”: 2 failed runs*\n")
    assert linked_runs(message["text"]) == failed


def test_a_slack_error_is_kept_and_retried_and_never_touches_the_runs(slack, fail, failing_flow, owner_membership,
                                                                      team):
    hook = connection(team, owner_membership.user, "slack", {"webhook_url": slack.webhook_url, "bot_token": ""})
    flow_alert_save(membership=owner_membership, flow=failing_flow, connection=hook.pk)
    failed = fail(1)
    slack.archive("C0ALERTS")
    now = timezone.now()
    assert alerts_send_due(now=now) == 0
    alert = FlowAlert.objects.get(flow=failing_flow)
    assert "archived" in alert.last_error and "Not posted through “slack alerts”" in alert.last_error
    assert Run.objects.get(pk=failed[0]).status == RunStatus.FAILED
    slack.reset()
    assert alerts_send_due(now=now + timedelta(minutes=11)) == 1
    assert linked_runs(slack.messages[0]["text"]) == failed


def test_a_teams_alert_arrives_as_an_adaptive_card(teams, fail, failing_flow, owner_membership, team):
    hook = connection(team, owner_membership.user, "teams", {"webhook_url": teams.webhook_url})
    flow_alert_save(membership=owner_membership, flow=failing_flow, connection=hook.pk)
    failed = fail(1)
    assert alerts_send_due() == 1
    [payload] = teams.messages
    body = payload["attachments"][0]["content"]["body"]
    assert body[0]["text"] == "Flow “Survey follow-up”: 1 failed run"
    assert linked_runs(body[1]["text"]) == failed


def test_settings_take_only_the_teams_members_addresses_and_notifying_connections(
    failing_flow, owner_membership, other_team, team, qualtrics_sandbox
):
    stranger = other_team.memberships.get().user
    with pytest.raises(AlertSettingsInvalid, match="members of this flow's team"):
        flow_alert_save(membership=owner_membership, flow=failing_flow, members=[stranger.pk])
    with pytest.raises(AlertSettingsInvalid, match="'nope' is not an email address"):
        flow_alert_save(membership=owner_membership, flow=failing_flow, emails="a@example.com, nope")
    qualtrics = connection(team, owner_membership.user, "qualtrics",
                           {"datacenter": qualtrics_sandbox.datacenter, "api_token": "x" * 40, "username": ""})
    with pytest.raises(AlertSettingsInvalid) as caught:
        flow_alert_save(membership=owner_membership, flow=failing_flow, connection=qualtrics.pk)
    assert set(caught.value.errors) == {"connection"}
    assert not FlowAlert.objects.filter(flow=failing_flow).exists()
