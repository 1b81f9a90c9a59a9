"""The runs list and a run's page in the browser: filter by status and by text in outputs, re-run
every run that matches, cancel a selected run, then read a run's steps as a tree named by the
version's labels and copy its outputs."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from designer.models import Delivery, Flow, FlowVersion, Run, RunStatus, RunStep
from tests.e2e import screenshots

pytestmark = pytest.mark.e2e

QUESTION = "How likely are you to recommend us?"


@pytest.fixture
def live_server(websocket_live_server):
    """The runs pages follow runs over a websocket: the product's server serves them."""
    return websocket_live_server


def make_run(flow, *, event_id, status, outputs, error=""):
    delivery = Delivery.objects.create(flow=flow, event_id=event_id, source="webhook", payload={})
    run = Run.objects.create(flow=flow, team=flow.team, version=flow.versions.first(), delivery=delivery,
                             status=status, error=error, attempts=1)
    RunStep.objects.create(run=run, position=1, step_id="trigger", card="qualtrics.new_response",
                           name="New Response", status=RunStatus.SUCCEEDED, outputs=outputs, duration_ms=40)
    return run


@pytest.fixture
def runs(owner):
    flow = Flow.objects.create(team=owner.team, name="Follow up", version=1)
    FlowVersion.objects.create(flow=flow, number=1, definition={
        "event": {"id": "trigger", "card": "qualtrics.new_response", "options": {"survey_id": "SV_1"},
                  "output_labels": {"q.QID1": {"label": QUESTION, "type": "number"}}},
        "steps": [{"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "inputs": {}},
                  {"id": "step_2", "card": "core.compose", "inputs": {}}],
    })
    failed = make_run(flow, event_id="R_cold", status=RunStatus.FAILED,
                      outputs={"q.QID1": 9, "comment": "The coffee was cold"},
                      error="“Create Contact in Mailing List” (step_1) failed: the mailing list is gone.")
    RunStep.objects.create(run=failed, position=2, step_id="step_1", card="qualtrics.create_contact_in_mailing_list",
                           name="Create Contact in Mailing List", status=RunStatus.FAILED,
                           error="The mailing list is gone.", inputs={"email": "ada@example.com"},
                           duration_ms=1500, attempts=3)
    other_failure = make_run(flow, event_id="R_slow", status=RunStatus.FAILED,
                             outputs={"q.QID1": 3, "comment": "Slow service"}, error="Something else failed.")
    queued = make_run(flow, event_id="R_waiting", status=RunStatus.QUEUED, outputs={"q.QID1": 10})
    make_run(flow, event_id="R_warm", status=RunStatus.SUCCEEDED, outputs={"q.QID1": 10, "comment": "Warm"})
    return {"failed": failed, "other_failure": other_failure, "queued": queued}


def rows(page):
    return page.locator("table[data-live-runs] tbody tr[data-run-id]")


def test_filter_the_runs_rerun_the_matching_ones_cancel_one_and_read_a_runs_tree(
    signed_in, live_server, runs, context
):
    page = signed_in
    page.goto(f"{live_server.url}/runs/")
    expect(rows(page)).to_have_count(4)

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(2)
    page.get_by_label("Text in outputs").fill("coffee")
    page.get_by_role("button", name="Filter").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_have_attribute("data-run-id", str(runs["failed"].pk))

    # Every run matching the filter: the coffee one, not the other failure.
    page.get_by_label("Apply to").select_option("filter")
    page.get_by_role("button", name="Re-run", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Re-running 1 run(s) on their own versions.")
    assert list(Run.objects.filter(rerun_of__isnull=False).values_list("rerun_of", flat=True)) == [runs["failed"].pk]
    expect(page.get_by_label("Text in outputs")).to_have_value("coffee")  # the filter is kept

    # A selected queued run, after confirming.
    page.goto(f"{live_server.url}/runs/?status=queued")
    page.get_by_label(f"Select run {runs['queued'].pk}").check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-bulk-cancel]").click()
    expect(page.locator(".messages")).to_contain_text("Cancelling 1 run(s).")
    assert Run.objects.get(pk=runs["queued"].pk).status == RunStatus.CANCELLED

    # The failed run's page: every step, the outputs named by the version's labels, a copy of them.
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/runs/{runs['failed'].pk}/")
    trigger = page.locator('[data-step="trigger"]')
    outputs = trigger.locator('[data-io="outputs"] > details')
    expect(outputs.locator("summary").first).to_contain_text("Outputs")
    expect(trigger.get_by_text(QUESTION)).to_be_hidden()
    outputs.locator("summary").first.click()
    expect(trigger.get_by_text(QUESTION)).to_be_visible()
    expect(trigger.locator(".json-leaf", has_text=QUESTION)).to_contain_text("9")
    expect(trigger.locator(".json-leaf", has_text="comment")).to_contain_text("The coffee was cold")
    step = page.locator('[data-step="step_1"]')
    expect(step).to_have_attribute("data-step-status", "failed")
    expect(step).to_contain_text("The mailing list is gone.")
    expect(step).to_contain_text("3 attempts")
    expect(page.locator('[data-step="step_2"]')).to_have_attribute("data-step-status", "not_reached")
    expect(page.locator("#run-timeline")).to_be_visible()
    expect(page.locator("#run-version")).to_contain_text("version v1")

    trigger.get_by_role("button", name="Copy outputs").click()
    expect(trigger.get_by_role("button", name="Copied")).to_be_visible()
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert copied == {"q.QID1": 9, "comment": "The coffee was cold"}
    screenshots.shoot(page, "run-page")


def test_the_home_page_is_the_dashboard_with_each_flows_runs_failures_and_last_failure(signed_in, live_server, runs):
    page = signed_in
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    row = page.locator(f'tr[data-flow="{runs["failed"].flow_id}"]')
    expect(row.locator('[data-total="24h"]')).to_have_text("4 runs, 2 failed")
    expect(row.locator('[data-total="30d"]')).to_have_text("4 runs, 2 failed")
    # This hour's bar: four runs, two of them failed, drawn on the server as SVG.
    day = row.locator('svg[data-chart="24h"]')
    expect(day.locator("rect.runs")).to_have_count(1)
    expect(day.locator("rect.failed")).to_have_count(1)
    expect(day.locator("g", has=page.locator("rect.runs")).locator("title")).to_contain_text("4 runs, 2 failed")
    newest_failure = runs["other_failure"]
    expect(row).to_contain_text(f"#{newest_failure.pk}")
    expect(row.locator(".last-failure")).to_have_text("Something else failed.")
    screenshots.shoot(page, "dashboard")
    page.set_viewport_size(screenshots.WIDE)
    row.locator('svg[data-chart="30d"]').click()
    expect(page).to_have_url(f"{live_server.url}/runs/?flow={newest_failure.flow_id}")
    expect(rows(page)).to_have_count(4)
