"""Browser journey: a flow that runs on a schedule is built from the catalog's Schedule card,
saved and activated, with no account to choose."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from designer.models import Activation, Flow
from tests.e2e.editor import EDITOR_URL, card, drag_with_mouse, field, output_chip, palette_card, save

pytestmark = pytest.mark.e2e


def test_a_scheduled_flow_is_built_saved_and_activated(signed_in, live_server):
    page = signed_in
    page.get_by_placeholder("New flow name").fill("Hourly digest")
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(EDITOR_URL)
    expect(page.locator("#editor.ready")).to_be_attached()

    expect(page.get_by_role("heading", name="Choose an event")).to_be_visible()
    palette_card(page, "Schedule").click()
    trigger = card(page, "trigger")
    expect(trigger).to_be_visible()
    expect(trigger.locator(".field[data-field='configuration']")).to_have_count(0)  # no account needed
    field(trigger, "mode").locator("select").select_option(value="interval")
    field(trigger, "every_minutes").locator("input").fill("1")
    field(trigger, "timezone").locator("input").fill("Europe/Berlin")
    expect(output_chip(trigger, "Scheduled at")).to_be_visible()

    drag_with_mouse(page, palette_card(page, "Compose"), page.locator(".step-list.top > li:last-child .drop-slot"))
    compose = card(page, "step_1")
    expect(compose).to_be_visible()
    field(compose, "template").locator("input, textarea").first.fill("Digest for {{trigger.scheduled_at}}")
    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")

    page.locator("#activate-button").click()
    expect(page.locator("#activation-badge")).to_have_text("Active (schedule)")
    flow = Flow.objects.get(name="Hourly digest")
    activation = Activation.objects.get(flow=flow)
    assert activation.status == "active_schedule"
    assert activation.options["mode"] == "interval" and activation.options["timezone"] == "Europe/Berlin"
    assert str(activation.options["every_minutes"]) == "1"
    assert activation.next_poll_at is not None

    page.goto(f"{live_server.url}/flows/{flow.pk}/status/")
    expect(page.locator("#activation-status")).to_have_text("Active (schedule)")
    expect(page.locator(".facts")).to_contain_text("Schedule")
