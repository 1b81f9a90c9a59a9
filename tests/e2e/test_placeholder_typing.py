"""Typing "{{" in a card's text field suggests the outputs the card may use: the list narrows as
the person types, the keyboard picks one, and the field shows the placeholder's output by name."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from designer import services
from designer.models import Flow
from tests.e2e.editor import card, field, open_editor, save
from tests.e2e.test_editor import event

pytestmark = pytest.mark.e2e


def draft_flow(owner, name, definition):
    """A flow whose draft is `definition` (its email has no subject yet, so it is not published)."""
    flow = services.flow_create(membership=owner, name=name)
    services.flow_save(membership=owner, flow=flow, definition=definition, base_version=flow.revision)
    flow.refresh_from_db()
    return flow


def test_a_placeholder_typed_into_an_email_subject_is_picked_from_the_suggestions_and_saved(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration
):
    flow = draft_flow(owner, "Tell support about detractors", {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [{"id": "step_1", "card": "email.send", "inputs": {"to": "support@example.com", "text": "See Qualtrics."}}],
    })
    page = open_editor(signed_in, live_server, flow)
    subject_field = field(card(page, "step_1"), "subject")
    subject = subject_field.locator("input")
    listbox = page.get_by_role("listbox")

    subject.click()
    subject.press_sequentially("Detractor {{")
    expect(listbox).to_be_visible()
    expect(subject).to_have_attribute("aria-expanded", "true")
    expect(listbox.get_by_role("option", name=re.compile(r"New Response\W+Email Address"))).to_be_visible()

    # Escape closes the list and leaves the text as typed.
    page.keyboard.press("Escape")
    expect(listbox).to_have_count(0)
    expect(subject).to_have_attribute("aria-expanded", "false")
    expect(subject).to_have_value("Detractor {{")

    # Typing on narrows the list; the arrow keys move through it and Enter inserts the one chosen.
    page.keyboard.press("Backspace")
    subject.press_sequentially("{email")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    names = [options.nth(i).text_content() for i in range(options.count())]
    assert names and all("email" in name.lower() for name in names), names
    address = listbox.get_by_role("option", name=re.compile(r"New Response\W+Email Address"))
    for _ in range(len(names)):
        if address.get_attribute("aria-selected") == "true":
            break
        page.keyboard.press("ArrowDown")
    expect(address).to_have_attribute("aria-selected", "true")
    expect(subject).to_have_attribute("aria-activedescendant", address.get_attribute("id"))
    page.keyboard.press("Enter")
    expect(listbox).to_have_count(0)
    expect(subject).to_have_value("Detractor {{trigger.recipient_email}}")
    expect(subject).to_be_focused()

    subject.press_sequentially(" needs a call")
    expect(subject).to_have_value("Detractor {{trigger.recipient_email}} needs a call")
    uses = subject_field.locator(".placeholder-uses")
    expect(uses).to_contain_text("Uses:")
    expect(uses.locator(".chip-step")).to_have_text("New Response")
    expect(uses.locator(".chip-label")).to_have_text("Email Address")

    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    saved = Flow.objects.get(pk=flow.pk)
    assert saved.definition["steps"][0]["inputs"]["subject"] == "Detractor {{trigger.recipient_email}} needs a call"


def test_an_unknown_placeholder_is_flagged_and_an_inserted_one_can_be_undone(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration
):
    flow = draft_flow(owner, "Tell support", {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [{"id": "step_1", "card": "email.send", "inputs": {"to": "support@example.com", "text": "See Qualtrics."}}],
    })
    page = open_editor(signed_in, live_server, flow)
    subject_field = field(card(page, "step_1"), "subject")
    subject = subject_field.locator("input")

    subject.press_sequentially("About {{step_9.total}}")
    expect(page.get_by_role("listbox")).to_have_count(0)  # nothing earlier matches "step_9.total"
    uses = subject_field.locator(".placeholder-uses")
    expect(uses.locator(".chip.missing")).to_be_visible()
    expect(uses).to_contain_text("“{{step_9.total}}” is not available here")

    subject.fill("")
    page.wait_for_timeout(1100)  # a later burst of typing is an undo step of its own
    subject.press_sequentially("Hi {{recipient_em")
    page.keyboard.press("Tab")
    expect(subject).to_have_value("Hi {{trigger.recipient_email}}")
    expect(subject).to_be_focused()

    toolbar = page.locator(".editor-toolbar")
    toolbar.get_by_role("button", name="Undo", exact=True).click()
    expect(subject_field.locator("input")).to_have_value("")
    toolbar.get_by_role("button", name="Redo", exact=True).click()
    expect(subject_field.locator("input")).to_have_value("Hi {{trigger.recipient_email}}")
    expect(subject_field.locator(".placeholder-uses .chip-label")).to_have_text("Email Address")
