"""The runs list, its API, CSV export, bulk actions, the run page and the dashboard."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from designer.models import Delivery, Run, RunStatus, RunStep


@pytest.fixture(autouse=True)
def fresh_cache():
    """The dashboard keeps past days' counts in the cache; each test starts without them."""
    from django.core.cache import cache

    cache.clear()


def make_run(flow, *, status=RunStatus.SUCCEEDED, source="webhook", event_id="R_1", ago=None, outputs=None,
             error=""):
    delivery = Delivery.objects.create(flow=flow, event_id=event_id, source=source, payload={})
    run = Run.objects.create(flow=flow, team=flow.team, version=flow.versions.first(), delivery=delivery,
                             status=status, error=error)
    if ago is not None:
        Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - ago)
    if outputs is not None:
        RunStep.objects.create(run=run, position=1, step_id="trigger", card="qualtrics.new_response",
                               name="New Response", status=RunStatus.SUCCEEDED, outputs=outputs)
    return run


def ids(response):
    return [row["id"] for row in response.json()]


def test_filters_by_status_source_flow_and_response_id(owner_client, flow):
    a = make_run(flow, status=RunStatus.FAILED, source="poll", event_id="R_abc1")
    b = make_run(flow, status=RunStatus.SUCCEEDED, source="test", event_id="R_abc2")
    c = make_run(flow, status=RunStatus.FAILED, source="test", event_id="R_zzz")
    url = reverse("api_runs")
    assert ids(owner_client.get(url, {"status": "failed"})) == [c.pk, a.pk]
    assert ids(owner_client.get(url, {"outcome": "failed"})) == [c.pk, a.pk]
    assert ids(owner_client.get(url, {"source": "test"})) == [c.pk, b.pk]
    assert ids(owner_client.get(url, {"source": "test", "status": "failed"})) == [c.pk]
    assert ids(owner_client.get(url, {"event": "R_abc"})) == [b.pk, a.pk]
    assert ids(owner_client.get(url, {"event": "R_abc1"})) == [a.pk]
    assert ids(owner_client.get(url, {"flow": flow.pk})) == [c.pk, b.pk, a.pk]
    assert ids(owner_client.get(url, {"source": "carrier-pigeon"})) == []


def test_filters_by_date_range_in_the_given_time_zone(owner_client, flow):
    old = make_run(flow, event_id="R_old", ago=timedelta(days=10))
    new = make_run(flow, event_id="R_new")
    today = timezone.now().date()
    url = reverse("api_runs")
    assert ids(owner_client.get(url, {"since": (today - timedelta(days=1)).isoformat()})) == [new.pk]
    assert ids(owner_client.get(url, {"until": (today - timedelta(days=5)).isoformat()})) == [old.pk]
    assert ids(owner_client.get(url, {"since": "not a date"})) == [new.pk, old.pk]
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert ids(owner_client.get(url, {"until": tomorrow})) == [new.pk, old.pk]
    assert ids(owner_client.get(url, {"since": (today - timedelta(days=11)).isoformat(), "until": tomorrow})) == [
        new.pk, old.pk]
    assert ids(owner_client.get(url, {"since": today.isoformat(), "tz": "Pacific/Kiritimati"})) in ([new.pk], [])


def test_text_search_finds_runs_by_anything_in_their_outputs(owner_client, flow):
    hit = make_run(flow, event_id="R_1", outputs={"q.QID1": "The coffee was cold"})
    make_run(flow, event_id="R_2", outputs={"q.QID1": "All good"})
    accented = make_run(flow, event_id="R_3", outputs={"q.QID1": "Café au lait"})
    assert ids(owner_client.get(reverse("api_runs"), {"q": "coffee"})) == [hit.pk]
    assert ids(owner_client.get(reverse("api_runs"), {"q": "Café"})) == [accented.pk]
    page = owner_client.get(reverse("runs"), {"q": "coffee"})
    assert f'data-run-id="{hit.pk}"' in page.content.decode()


def test_cursor_pages_walk_every_run_once(owner_client, flow):
    made = [make_run(flow, event_id=f"R_{i}").pk for i in range(7)]
    url, seen = reverse("api_runs"), []
    response = owner_client.get(url, {"limit": 3})
    while True:
        seen += ids(response)
        if "X-Next-Cursor" not in response:
            break
        assert 'rel="next"' in response["Link"]
        response = owner_client.get(url, {"limit": 3, "cursor": response["X-Next-Cursor"]})
    assert seen == sorted(made, reverse=True)


@pytest.mark.parametrize("since", ["", "13"])
def test_a_past_date_range_pages_newest_first_within_it(owner_client, flow, since):
    """A range that ends in the past is read by date (selectors._reads_by_date): still newest first
    by id, every run once, none outside it."""
    make_run(flow, event_id="R_recent", ago=timedelta(days=2))
    inside = [make_run(flow, event_id=f"R_{d}", ago=timedelta(days=d, hours=12)).pk for d in (12, 11, 10)]
    make_run(flow, status=RunStatus.FAILED, event_id="R_failed", ago=timedelta(days=10, hours=12))
    if since:
        make_run(flow, event_id="R_too_old", ago=timedelta(days=20))
    today = timezone.now().date()
    query = {"until": (today - timedelta(days=9)).isoformat(), "status": "succeeded", "limit": 2}
    if since:
        query["since"] = (today - timedelta(days=int(since))).isoformat()
    url, seen = reverse("api_runs"), []
    response = owner_client.get(url, query)
    while True:
        seen += ids(response)
        if "X-Next-Cursor" not in response:
            break
        response = owner_client.get(url, {**query, "cursor": response["X-Next-Cursor"]})
    assert seen == sorted(inside, reverse=True)


def test_the_page_links_to_older_runs_keeping_its_filters(owner_client, flow):
    version = flow.versions.first()
    Run.objects.bulk_create([Run(flow=flow, team=flow.team, version=version, status=RunStatus.FAILED)
                             for _ in range(51)])
    first = owner_client.get(reverse("runs"), {"status": "failed"}).content.decode()
    newest = list(Run.objects.order_by("-id").values_list("id", flat=True))
    assert f'href="?status=failed&amp;cursor={newest[49]}"' in first
    older = owner_client.get(reverse("runs"), {"status": "failed", "cursor": newest[49]}).content.decode()
    assert f'data-run-id="{newest[50]}"' in older and f'data-run-id="{newest[49]}"' not in older
    assert 'id="runs-older"' not in older


def test_csv_export_streams_the_filtered_runs(owner_client, flow):
    failed = make_run(flow, status=RunStatus.FAILED, event_id="R_f", error="=HYPERLINK(1)")
    make_run(flow, status=RunStatus.SUCCEEDED, event_id="R_s")
    response = owner_client.get(reverse("run_export"), {"status": "failed"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "run" and len(rows) == 2
    assert rows[1][0] == str(failed.pk) and rows[1][4] == "R_f"
    assert rows[1][-1] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("error::Warning:django.core.handlers.asgi")
def test_under_asgi_the_csv_is_sent_in_blocks_as_it_is_read(owner_client, flow):
    """Through the project's ASGI application, as the server serves it: every run, and no warning that
    Django read a sync iterator whole before sending it."""
    import asyncio

    from tests.asgi import asgi_request

    made = [make_run(flow, event_id=f"R_{i}").pk for i in range(1_200)]
    cookie = f"sessionid={owner_client.cookies['sessionid'].value}".encode()
    status, headers, body = asyncio.run(asgi_request(reverse("run_export"), headers=[(b"cookie", cookie)]))
    assert status == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert [int(r[0]) for r in rows[1:]] == sorted(made, reverse=True)


def test_bulk_cancel_and_rerun_touch_only_the_teams_runs(owner_client, flow, other_team):
    from designer.models import Flow, FlowVersion

    theirs = Flow.objects.create(team=other_team, name="Theirs", version=1)
    FlowVersion.objects.create(flow=theirs, number=1, definition={"event": None, "steps": []})
    their_run = make_run(theirs, status=RunStatus.QUEUED)
    queued = make_run(flow, status=RunStatus.QUEUED, event_id="R_q")
    done = make_run(flow, status=RunStatus.SUCCEEDED, event_id="R_d")
    response = owner_client.post(reverse("api_runs_cancel"), {"ids": [queued.pk, done.pk, their_run.pk]},
                                 content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"cancelled": [queued.pk], "ended": [done.pk]}
    assert Run.objects.get(pk=queued.pk).status == RunStatus.CANCELLED
    assert Run.objects.get(pk=their_run.pk).status == RunStatus.QUEUED

    # Every failed run of the filter, through the page.
    failed = make_run(flow, status=RunStatus.FAILED, event_id="R_x")
    owner_client.post(reverse("run_bulk"), {"action": "rerun", "scope": "filter", "status": "failed"})
    assert list(Run.objects.filter(rerun_of__isnull=False).values_list("rerun_of", flat=True)) == [failed.pk]
    owner_client.post(reverse("run_bulk"), {"action": "cancel", "run": [their_run.pk]})
    assert Run.objects.get(pk=their_run.pk).status == RunStatus.QUEUED


@pytest.mark.parametrize("status", [RunStatus.WAITING, RunStatus.ATTENTION, RunStatus.CANCELLED])
def test_the_newer_statuses_filter_and_show_on_the_page(owner_client, flow, status):
    match = make_run(flow, status=status, event_id="R_match")
    make_run(flow, status=RunStatus.SUCCEEDED, event_id="R_other")
    assert ids(owner_client.get(reverse("api_runs"), {"status": status})) == [match.pk]
    html = owner_client.get(reverse("runs"), {"status": status}).content.decode()
    assert f'<option value="{status}" selected>' in html
    assert f'data-run-id="{match.pk}"' in html


def test_waiting_and_attention_runs_are_cancelled_in_bulk_by_filter(owner_client, flow):
    waiting = make_run(flow, status=RunStatus.WAITING, event_id="R_w")
    attention = make_run(flow, status=RunStatus.ATTENTION, event_id="R_a")
    done = make_run(flow, status=RunStatus.SUCCEEDED, event_id="R_d")
    response = owner_client.post(reverse("api_runs_cancel"), {"filter": {"flow": str(flow.pk)}},
                                 content_type="application/json")
    assert response.json() == {"cancelled": [attention.pk, waiting.pk], "ended": [done.pk]}
    assert set(Run.objects.filter(status=RunStatus.CANCELLED).values_list("pk", flat=True)) == {waiting.pk, attention.pk}


def step_test_run(flow):
    """A run as the editor's "Test step" records it (designer/steptests.py)."""
    run = make_run(flow, status=RunStatus.SUCCEEDED, source="test", event_id="step-test:step_1")
    Run.objects.filter(pk=run.pk).update(version=None)  # it ran the draft's card
    run.refresh_from_db()
    RunStep.objects.create(run=run, position=1, step_id="step_1", card="qualtrics.create_contact_in_mailing_list",
                           name="Create Contact in Mailing List", status=RunStatus.SUCCEEDED,
                           outputs={"contact_id": "CID_1"})
    return run


def test_test_runs_are_listed_under_source_test_and_step_tests_are_not_rerun(owner_client, flow):
    tested = step_test_run(flow)
    flow_test = make_run(flow, status=RunStatus.FAILED, source="test", event_id="R_tested")
    make_run(flow, status=RunStatus.FAILED, source="webhook", event_id="R_hook")
    assert ids(owner_client.get(reverse("api_runs"), {"source": "test"})) == [flow_test.pk, tested.pk]

    response = owner_client.post(reverse("run_bulk"), {"action": "rerun", "scope": "filter", "source": "test"},
                                 follow=True)
    assert list(Run.objects.filter(rerun_of__isnull=False).values_list("rerun_of", flat=True)) == [flow_test.pk]
    assert "1 step test(s) were left out" in response.content.decode()
    assert owner_client.post(reverse("api_run_rerun", args=[tested.pk]), {},
                             content_type="application/json").status_code == 409
    response = owner_client.post(reverse("api_runs_rerun"), {"ids": [tested.pk]}, content_type="application/json")
    assert response.status_code == 202 and response.json() == {"runs": []}
    assert not Run.objects.filter(rerun_of=tested).exists()


def test_a_step_tests_page_shows_the_tested_card_alone_without_rerun(owner_client, flow):
    html = owner_client.get(reverse("run_detail", args=[step_test_run(flow).pk])).content.decode()
    assert 'data-step="step_1" data-step-status="succeeded"' in html and "CID_1" in html
    assert 'data-step-status="not_reached"' not in html and 'data-step="trigger"' not in html
    assert 'id="run-step-test"' in html and "Re-run on" not in html


def test_viewers_may_not_act_in_bulk(client, member, flow):
    run = make_run(flow, status=RunStatus.QUEUED)
    client.force_login(member(Role.VIEWER))
    assert client.post(reverse("run_bulk"), {"action": "cancel", "run": [run.pk]}).status_code == 403
    assert client.post(reverse("api_runs_cancel"), {"ids": [run.pk]}, content_type="application/json").status_code == 403
    assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED


def test_run_page_names_outputs_by_their_labels_and_lists_steps_that_did_not_run(owner_client, flow):
    version = flow.versions.first()
    definition = version.definition
    definition["event"]["output_labels"] = {"q.QID1": {"label": "How likely are you to recommend us?", "type": "number"}}
    version.definition = definition
    version.save()
    run = make_run(flow, status=RunStatus.FAILED, outputs={"q.QID1": 9, "recipient_email": "ada@example.com"},
                   error="step_1 failed")
    RunStep.objects.create(run=run, position=2, step_id="step_1", card="qualtrics.create_contact_in_mailing_list",
                           name="Create Contact in Mailing List", status=RunStatus.FAILED, error="The list is gone.",
                           inputs={"email": "ada@example.com"}, duration_ms=1500, attempts=3)
    html = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "How likely are you to recommend us?" in html and "q.QID1" in html
    assert "The list is gone." in html and "1.5 s" in html and "3 attempts" in html
    assert 'data-step="step_2" data-step-status="not_reached"' in html
    assert 'data-step="step_3" data-step-status="not_reached"' in html
    assert "Timeline" in html and f"version v{version.number}" in html
    assert 'data-copy-from="outputs-' in html


def test_the_branch_not_taken_is_skipped(owner_client, flow):
    run = make_run(flow, status=RunStatus.SUCCEEDED, outputs={"q.QID1": "2"})
    RunStep.objects.create(run=run, position=2, step_id="step_1", card="qualtrics.create_contact_in_mailing_list",
                           name="Create Contact", status=RunStatus.SUCCEEDED)
    RunStep.objects.create(run=run, position=3, step_id="step_2", card="core.if_else", name="If/Else",
                           status=RunStatus.SUCCEEDED, outputs={"result": False})
    html = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert 'data-step="step_3" data-step-status="skipped"' in html
    assert "The If/Else condition took the other branch." in html


def test_dashboard_counts_runs_and_failures_per_window(owner_client, flow, configuration):
    make_run(flow, status=RunStatus.SUCCEEDED, event_id="R_1")
    make_run(flow, status=RunStatus.FAILED, event_id="R_2", error="Qualtrics said no.")
    make_run(flow, status=RunStatus.FAILED, event_id="R_3", ago=timedelta(days=3))
    make_run(flow, status=RunStatus.SUCCEEDED, event_id="R_4", ago=timedelta(days=40))
    from designer.selectors import dashboard_data

    [row] = dashboard_data(team=flow.team)["rows"]
    assert (row["runs_24h"], row["failed_24h"], row["runs_30d"], row["failed_30d"]) == (2, 1, 3, 2)
    assert row["last_failure"].error == "Qualtrics said no."
    html = owner_client.get(reverse("dashboard")).content.decode()
    assert html.count('data-chart="24h"') == 1 and html.count('data-chart="30d"') == 1
    assert "2 runs" in html and "Qualtrics said no." in html and "Main" in html
