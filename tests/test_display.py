"""How pages word card names, relative times and timestamps."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from config.display import ago, display_name
from designer import services
from designer.models import Flow, Run


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("readResponse", "Read Response"),
        ("read_response", "Read Response"),
        ("getHTTPStatus", "Get HTTP Status"),
        ("New Response", "New Response"),
        ("If/Else", "If/Else"),
        ("Trim", "Trim"),
        ("ID", "ID"),
        ("", ""),
    ],
)
def test_a_card_name_written_like_an_identifier_is_shown_as_words(name, shown):
    assert display_name(name) == shown


def test_a_time_under_a_minute_ago_reads_just_now():
    now = timezone.now()
    assert ago(now) == "just now"
    assert ago(now - timedelta(seconds=59)) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"
    assert ago(None) == ""


def test_the_catalog_page_shows_read_response_by_its_worded_name(owner_client):
    page = owner_client.get("/catalog/").content.decode()
    assert ">Read Response</h4>" in page and ">readResponse</h4>" not in page
    assert "qualtrics.read_response" in page


def test_a_flow_saved_a_moment_ago_reads_just_now_and_run_times_name_their_zone(owner_client, team):
    membership = team.memberships.get(role=Role.OWNER)
    steps = [{"id": "step_1", "card": "core.compose", "inputs": {"template": "x"}}]
    flow = services.flow_create(membership=membership, name="Pulse", definition={"event": None, "steps": steps})
    run = Run.objects.create(flow=flow, team=team, version=flow.versions.first())
    assert "just now" in owner_client.get("/flows/").content.decode()
    Flow.objects.filter(pk=flow.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert "2\xa0hours ago" in owner_client.get("/flows/").content.decode()
    run.refresh_from_db()
    started = run.created_at.astimezone(UTC)
    page = owner_client.get("/runs/").content.decode()
    assert f'<time datetime="{run.created_at.isoformat()}" data-local-time>' in page
    assert f"{started:%Y-%m-%d %H:%M:%S} UTC</time>" in page
