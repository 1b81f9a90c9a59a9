"""The Alerts section of a flow's status page and `GET/PUT /api/flows/<id>/alerts/`."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Configuration, Role
from alerts.models import FlowAlert
from designer import services


@pytest.fixture
def flow(team):
    owner = team.memberships.get(role=Role.OWNER)
    return services.flow_create(membership=owner, name="Follow-ups")


@pytest.fixture
def slack_connection(team, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:9"]
    owner = team.memberships.get(role=Role.OWNER).user
    item = Configuration(team=team, owner=owner, connector="slack", name="Team Slack", shared=True)
    item.credentials = {"webhook_url": "http://127.0.0.1:9/services/T0/B0/secret0123", "bot_token": ""}
    item.save()
    return item


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_editor_sets_members_addresses_and_a_slack_connection_on_the_status_page(flow, member, slack_connection):
    editor = member(Role.EDITOR, "erin")
    client = signed_in(editor)
    page = client.get(f"/flows/{flow.pk}/status/").content.decode()
    assert 'id="alerts"' in page and "Save alerts" in page
    assert 'value="%d"' % editor.pk in page and "Team Slack (Slack)" in page
    answer = client.post(f"/flows/{flow.pk}/alerts/", {
        "enabled": "on", "members": [str(editor.pk)], "emails": "oncall@example.com; boss@example.com",
        "connection": str(slack_connection.pk),
    })
    assert answer.status_code == 302 and answer["Location"] == f"/flows/{flow.pk}/status/#alerts"
    alert = FlowAlert.objects.get(flow=flow)
    assert alert.enabled and list(alert.members.all()) == [editor]
    assert alert.emails == ["oncall@example.com", "boss@example.com"] and alert.connection == slack_connection
    page = client.get(f"/flows/{flow.pk}/status/").content.decode()
    assert "Alert settings saved." in page and 'value="oncall@example.com, boss@example.com"' in page


def test_a_bad_address_is_refused_in_words_and_changes_nothing(flow, member):
    client = signed_in(member(Role.EDITOR))
    answer = client.post(f"/flows/{flow.pk}/alerts/", {"enabled": "on", "emails": "oops"}, follow=True)
    assert "Alert settings not saved: &#x27;oops&#x27; is not an email address." in answer.content.decode()
    assert not FlowAlert.objects.exists()


def test_viewers_read_the_settings_without_a_form(flow, member):
    owner = flow.team.memberships.get(role=Role.OWNER)
    from alerts.services import flow_alert_save

    flow_alert_save(membership=owner, flow=flow, emails="oncall@example.com")
    page = signed_in(member(Role.VIEWER)).get(f"/flows/{flow.pk}/status/").content.decode()
    assert 'id="alerts-settings"' in page and "oncall@example.com" in page and "Save alerts" not in page


def test_the_api_reads_and_replaces_the_settings(flow, member, slack_connection):
    editor = member(Role.EDITOR, "erin")
    client = signed_in(editor)
    url = f"/api/flows/{flow.pk}/alerts/"
    assert client.get(url).json() == {"enabled": False, "members": [], "emails": [], "connection": None,
                                      "connection_name": None, "last_sent_at": None, "last_count": 0,
                                      "last_error": ""}
    body = {"enabled": True, "members": [editor.pk], "emails": ["oncall@example.com"],
            "connection": slack_connection.pk}
    answer = client.put(url, body, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json() | {"last_sent_at": None} == {**body, "connection_name": "Team Slack", "last_sent_at": None,
                                                     "last_count": 0, "last_error": ""}
    refused = client.put(url, {"emails": ["x"], "connection": 99999}, content_type="application/json")
    assert refused.status_code == 400 and "detail" in refused.json()


def test_a_connection_that_cannot_notify_is_not_offered(flow, member, team, qualtrics_sandbox):
    owner = team.memberships.get(role=Role.OWNER).user
    item = Configuration(team=team, owner=owner, connector="qualtrics", name="Survey account", shared=True)
    item.credentials = {"datacenter": qualtrics_sandbox.datacenter, "api_token": "y" * 40, "username": ""}
    item.save()
    page = signed_in(member(Role.EDITOR)).get(f"/flows/{flow.pk}/status/").content.decode()
    assert "Survey account" not in page
