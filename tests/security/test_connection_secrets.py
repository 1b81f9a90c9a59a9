"""Canaries for the Slack bot token, the Teams webhook URL and the HTTP Request connection's token and
password: stored encrypted, never in a page, an API answer, the admin, a log line, a run's stored
steps, or the message of a failed call."""

from __future__ import annotations

import base64
import json
import logging
import socket

import pytest
from django.urls import reverse

from accounts.models import Configuration, Role
from connectors.http import ConnectorError
from connectors.httprequest.tests.receiver import Receiver
from connectors.slack import standin as slack_standin
from connectors.slack.standin import SlackStandIn
from connectors.teams.connector import build_client as teams_client
from connectors.teams.standin import TeamsStandIn
from designer import services
from designer.engine import run_execute
from designer.models import RunStatus
from designer.runs import delivery_accept

SLACK_CANARY = "xoxb-canary-7f3b9c1d2e4a-5b6c8d9e0f1a"
TEAMS_CANARY = "teamsCanarySig9a8b7c6d5e4f3a2b1c"
HTTP_TOKEN_CANARY = "httpBearerCanary4d3c2b1a0f9e8d"
HTTP_PASSWORD_CANARY = "httpBasicCanary0a1b2c3d4e5f"


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


def test_an_http_request_connections_secrets_never_appear_in_pages_json_runs_logs_or_admin(
    client, team, caplog, settings
):
    caplog.set_level(logging.DEBUG)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    membership = team.memberships.get(role=Role.OWNER)
    owner = membership.user
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    bodies = [
        client.post(reverse("configuration_create") + "?connector=http",
                    {"name": "API token", "auth_type": "bearer", "token": HTTP_TOKEN_CANARY, "username": "",
                     "password": "", "shared": "on"}, follow=True).content,
        client.post(reverse("api_configurations"), {
            "connector": "http", "name": "API login", "shared": True,
            "credentials": {"auth_type": "basic", "username": "ada", "password": HTTP_PASSWORD_CANARY},
        }, content_type="application/json").content,
    ]
    bearer = Configuration.objects.get(connector="http", name="API token")
    basic = Configuration.objects.get(connector="http", name="API login")
    assert bearer.status == basic.status == "authorized"
    assert bearer.credentials["token"] == HTTP_TOKEN_CANARY and basic.credentials["password"] == HTTP_PASSWORD_CANARY
    canaries = [HTTP_TOKEN_CANARY, HTTP_PASSWORD_CANARY,
                base64.b64encode(f"ada:{HTTP_PASSWORD_CANARY}".encode()).decode()]

    with Receiver() as receiver:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}"]
        receiver.route("/echo", lambda request: (200, {"Content-Type": "application/json"},
                                                 json.dumps(request["headers"]).encode()))
        request = {"card": "http.request", "options": {"method": "GET"}, "inputs": {"url": f"{receiver.url}/echo"}}
        definition = {"event": {"id": "trigger", "card": "webhook.catch", "options": {}},
                      "steps": [{**request, "id": "step_1", "configuration": bearer.pk},
                                {**request, "id": "step_2", "configuration": basic.pk}]}
        flow = services.flow_create(membership=membership, name="Call the API")
        services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
        services.flow_publish(membership=membership, flow=flow)
        flow.refresh_from_db()
        run = delivery_accept(flow=flow, version=flow.versions.first(), event_id="e1", source="webhook",
                              payload={"body": {"n": 1}})
        assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert [r["headers"]["authorization"] for r in receiver.requests] == [
        f"Bearer {HTTP_TOKEN_CANARY}", f"Basic {canaries[2]}"]
    stored = json.dumps([[s.inputs, s.outputs, s.error, s.attempt_log] for s in run.steps.all()])
    assert "[hidden]" in stored  # the receiver echoed the header back

    for configuration in (bearer, basic):
        for canary in canaries:
            assert canary.encode() not in bytes(configuration.secret_credentials_encrypted)
        for url in [
            reverse("configurations"), reverse("configuration_edit", args=[configuration.pk]),
            reverse("configuration_delete", args=[configuration.pk]), reverse("api_configurations"),
            reverse("api_configuration", args=[configuration.pk]),
            "/admin/accounts/configuration/", f"/admin/accounts/configuration/{configuration.pk}/change/",
        ]:
            bodies.append(client.get(url).content)
        bodies.append(client.post(reverse("configuration_authorize", args=[configuration.pk]), follow=True).content)
        bodies.append(client.post(reverse("api_configuration_authorize", args=[configuration.pk])).content)
    for url in [reverse("flow_editor", args=[flow.pk]), reverse("run_detail", args=[run.pk]),
                reverse("api_run", args=[run.pk]), reverse("api_flow_export", args=[flow.pk]), reverse("runs")]:
        answer = client.get(url)
        assert answer.status_code == 200, url
        bodies.append(answer.content)
    assert b"[hidden]" in bodies[-4] and b"[hidden]" in bodies[-3]  # the run's page and API show the outputs
    for canary in canaries:
        assert canary not in stored and canary not in caplog.text
        for body in bodies:
            assert canary.encode() not in body
