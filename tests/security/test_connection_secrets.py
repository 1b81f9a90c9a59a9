"""Canaries for the Slack bot token and the Teams webhook URL: stored encrypted, never in a page, an
API answer, the admin, a log line, or the message of a failed call."""

from __future__ import annotations

import logging
import socket

import pytest
from django.urls import reverse

from accounts.models import Configuration, Role
from connectors.http import ConnectorError
from connectors.slack import standin as slack_standin
from connectors.slack.standin import SlackStandIn
from connectors.teams.connector import build_client as teams_client
from connectors.teams.standin import TeamsStandIn

SLACK_CANARY = "xoxb-canary-7f3b9c1d2e4a-5b6c8d9e0f1a"
TEAMS_CANARY = "teamsCanarySig9a8b7c6d5e4f3a2b1c"


@pytest.fixture
def standins(settings):
    with SlackStandIn() as slack, TeamsStandIn() as teams:
        slack.tokens[SLACK_CANARY] = dict(slack_standin.TEAM)
        settings.SLACK_API_BASE = slack.api_base
        settings.OUTBOUND_ALLOWED_HOSTS = [slack.host_port, teams.host_port]
        yield slack, teams


def teams_url(teams: TeamsStandIn) -> str:
    return teams.webhook_url.replace("sig=standinTeamsSig0123456789", f"sig={TEAMS_CANARY}")


def test_slack_and_teams_secrets_never_appear_in_pages_json_logs_or_admin(client, team, standins, caplog):
    slack, teams = standins
    caplog.set_level(logging.DEBUG)
    owner = team.memberships.get(role=Role.OWNER).user
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    bodies = [
        client.post(reverse("configuration_create") + "?connector=slack",
                    {"name": "Slack bot", "webhook_url": "", "bot_token": SLACK_CANARY}, follow=True).content,
        client.post(reverse("api_configurations"), {
            "connector": "teams", "name": "Teams channel", "credentials": {"webhook_url": teams_url(teams)},
        }, content_type="application/json").content,
    ]
    slack_conf = Configuration.objects.get(connector="slack")
    teams_conf = Configuration.objects.get(connector="teams")
    assert slack_conf.status == "authorized" and slack_conf.account_name == "flowsbot in Flows Test Team"
    assert teams_conf.status == "authorized"
    assert slack_conf.credentials["bot_token"] == SLACK_CANARY
    assert teams_conf.credentials["webhook_url"] == teams_url(teams)
    for configuration in (slack_conf, teams_conf):
        assert SLACK_CANARY.encode() not in bytes(configuration.secret_credentials_encrypted)
        assert TEAMS_CANARY.encode() not in bytes(configuration.secret_credentials_encrypted)
        for url in [
            reverse("configurations"), reverse("configuration_edit", args=[configuration.pk]),
            reverse("configuration_delete", args=[configuration.pk]), reverse("api_configurations"),
            reverse("api_configuration", args=[configuration.pk]),
            "/admin/accounts/configuration/", f"/admin/accounts/configuration/{configuration.pk}/change/",
        ]:
            bodies.append(client.get(url).content)
        bodies.append(client.post(reverse("configuration_authorize", args=[configuration.pk]), follow=True).content)
        bodies.append(client.post(reverse("api_configuration_authorize", args=[configuration.pk])).content)
    for body in bodies:
        assert SLACK_CANARY.encode() not in body
        assert TEAMS_CANARY.encode() not in body
    assert SLACK_CANARY not in caplog.text and TEAMS_CANARY not in caplog.text


def test_a_failed_call_to_a_webhook_never_names_its_url(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    client = teams_client({"webhook_url": f"http://127.0.0.1:{port}/workflows/x/invoke?sig={TEAMS_CANARY}"},
                          max_retries=0)
    with pytest.raises(ConnectorError) as caught:
        client.post({"type": "message", "attachments": []})
    assert TEAMS_CANARY not in str(caught.value) and "Teams webhook" in str(caught.value)
