"""Undo and redo in the editor, deleting with a way back, saving from the keyboard, a toolbar that
stays in view however long the flow, and banners that go once their cause has."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from designer.models import Flow
from tests.e2e.editor import card, field, open_editor, palette_card, save
from tests.e2e.test_editor import contact_step, event, saved_flow

pytestmark = pytest.mark.e2e


def compose_step(n: int) -> dict:
    return {"id": f"step_{n}", "card": "core.compose", "inputs": {"template": f"Hello {{{{trigger.recipient_name}}}} #{n}"}}


def undo_button(page):
    return page.locator(".editor-toolbar").get_by_role("button", name="Undo", exact=True)


def redo_button(page):
    return page.locator(".editor-toolbar").get_by_role("button", name="Redo", exact=True)


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    viewport = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] and box["x"] + box["width"] <= viewport["width"]


def test_a_deleted_card_with_settings_comes_back_with_them_from_the_notice(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration
):
    definition = {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": [contact_step(sandbox_configuration, qualtrics_sandbox)]}
    flow = saved_flow(owner, "Keep my contact", definition)
    page = open_editor(signed_in, live_server, flow)
    contact = card(page, "step_1")
    expect(field(contact, "mailing_list_id").locator("select")).to_have_value(qualtrics_sandbox.mailing_list_id)

    page.get_by_role("button", name="Remove Create Contact in Mailing List").click()
    expect(contact).to_have_count(0)
    notice = page.locator("#editor-notice")
    expect(notice).to_contain_text("Deleted “Create Contact in Mailing List”")
    expect(page.locator("#dirty-indicator")).to_be_visible()

    notice.get_by_role("button", name="Undo").click()
    expect(notice).to_be_hidden()
    expect(contact).to_be_visible()
    expect(contact).to_be_focused()
    expect(field(contact, "configuration").locator("select")).to_have_value(str(sandbox_configuration.pk))
    expect(field(contact, "directory_id").locator("select")).to_have_value(qualtrics_sandbox.directory_id)
    expect(field(contact, "mailing_list_id").locator("select")).to_have_value(qualtrics_sandbox.mailing_list_id)
    expect(field(contact, "email").locator(".chip.mapped")).to_contain_text("Email Address")

    save(page)
    expect(notice).to_contain_text("Draft saved")
    flow.refresh_from_db()
    assert flow.definition["steps"][0]["options"] == definition["steps"][0]["options"]
    assert flow.definition["steps"][0]["inputs"] == definition["steps"][0]["inputs"]


def test_an_added_card_is_undone_and_redone_from_the_keyboard_and_the_toolbar(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration
):
    flow = saved_flow(owner, "Undo me", {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": []})
    page = open_editor(signed_in, live_server, flow)
    expect(undo_button(page)).to_be_disabled()
    expect(redo_button(page)).to_be_disabled()

    palette_card(page, "Compose").click()
    compose = card(page, "step_1")
    expect(compose).to_be_visible()
    expect(undo_button(page)).to_be_enabled()

    page.keyboard.press("Control+z")
    expect(compose).to_have_count(0)
    expect(redo_button(page)).to_be_enabled()
    expect(undo_button(page)).to_be_disabled()
    page.keyboard.press("Control+Shift+z")
    expect(compose).to_be_visible()
    expect(redo_button(page)).to_be_disabled()

    # A burst of typing in one field is one step.
    template = field(compose, "template").locator("textarea")
    template.click()
    page.keyboard.type("Thanks for your answers")
    undo_button(page).click()
    expect(template).to_have_value("")
    expect(compose).to_be_visible()
    expect(undo_button(page)).to_be_focused()
    redo_button(page).click()
    expect(template).to_have_value("Thanks for your answers")

    # In a text field, Ctrl+Z is the browser's own undo of the typing there: the card stays.
    template.click()
    page.keyboard.press("End")
    page.keyboard.type("!")
    expect(template).to_have_value("Thanks for your answers!")
    page.keyboard.press("Control+z")
    expect(template).to_have_value("Thanks for your answers")
    expect(compose).to_be_visible()

    # A choice in a list and a move are steps too, undone with the list still focused.
    palette_card(page, "If/Else").click()
    operator = field(card(page, "step_2"), "operator").locator("select")
    operator.focus()
    operator.select_option(label="contains")
    page.keyboard.press("Control+z")
    expect(operator).to_have_value("")
    card(page, "step_2").get_by_role("button", name="Move If/Else up").click()
    expect(page.locator(".step-list.top > li > .flow-card").first).to_have_id("card-step_2")
    page.keyboard.press("Control+z")
    expect(page.locator(".step-list.top > li > .flow-card").first).to_have_id("card-step_1")

    page.locator("#flow-name").fill("Undo me, renamed")
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    expect(page.locator("#flow-name")).to_have_value("Undo me")
    page.keyboard.press("Control+y")
    expect(page.locator("#flow-name")).to_have_value("Undo me, renamed")
    expect(page.locator("#dirty-indicator")).to_be_visible()


def test_ctrl_s_saves_the_flow(signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration):
    flow = saved_flow(owner, "Quick save", {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": []})
    page = open_editor(signed_in, live_server, flow)
    palette_card(page, "Compose").click()
    field(card(page, "step_1"), "template").locator("textarea").fill("Hello {{trigger.recipient_name}}")

    page.keyboard.press("Control+s")
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    expect(page.locator("#dirty-indicator")).to_be_hidden()
    flow.refresh_from_db()
    assert flow.revision == 2
    assert flow.definition["steps"][0]["inputs"] == {"template": "Hello {{trigger.recipient_name}}"}


@pytest.mark.parametrize("width", [1400, 768])
def test_the_toolbar_stays_in_view_while_a_long_flow_scrolls(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration, width
):
    definition = {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": [compose_step(n) for n in range(1, 16)]}
    flow = saved_flow(owner, "Tall", definition)
    page = signed_in
    page.set_viewport_size({"width": width, "height": 800})
    open_editor(page, live_server, flow)
    expect(page.locator("#canvas [data-step]")).to_have_count(16)

    # The page itself does not scroll: the canvas does.
    assert page.evaluate("document.scrollingElement.scrollHeight") <= 800
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    canvas = page.locator("#canvas")
    assert canvas.evaluate("c => c.scrollHeight > c.clientHeight")
    card(page, "step_15").scroll_into_view_if_needed()
    assert canvas.evaluate("c => c.scrollTop") > 0
    page.mouse.move(width / 2, 600)
    page.mouse.wheel(0, 5000)
    expect(card(page, "step_15")).to_be_in_viewport()

    save_button = page.get_by_role("button", name="Save", exact=True)
    assert in_viewport(page, save_button)
    assert in_viewport(page, undo_button(page))
    assert in_viewport(page, page.locator("#palette-search"))
    field(card(page, "step_15"), "template").locator("textarea").fill("The last one")
    save_button.click()
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    assert in_viewport(page, page.locator("#editor-notice"))


def test_the_problems_banner_goes_once_the_problems_are_fixed(signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration):
    flow = saved_flow(owner, "Two problems", {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": []})
    page = open_editor(signed_in, live_server, flow)
    palette_card(page, "Compose").click()
    palette_card(page, "Compose").click()

    save(page)
    notice = page.locator("#editor-notice")
    summary = page.locator("#validation-summary")
    expect(notice).to_contain_text(re.compile(r"Draft saved with 2 problems"))
    expect(summary).to_contain_text("2 problems to fix")

    field(card(page, "step_1"), "template").locator("textarea").fill("First")
    expect(summary).to_contain_text("1 problem to fix")
    expect(notice).to_contain_text("1 problem left to fix before publishing")
    field(card(page, "step_2"), "template").locator("textarea").fill("Second")
    expect(summary).to_be_hidden()
    expect(notice).to_be_hidden()
    expect(card(page, "step_2")).not_to_have_class(re.compile(r"\binvalid\b"))

    save(page)
    expect(notice).to_contain_text("Draft saved")
    expect(summary).to_be_hidden()
    # Both saves stored the draft: the first with its two problems, the second with none.
    saved = Flow.objects.get(pk=flow.pk)
    assert saved.revision == 3 and saved.draft_problems == []
