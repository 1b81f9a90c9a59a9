"""Browser journeys through the flow editor, against a live server and the Qualtrics sandbox."""

from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import expect

from designer import services
from designer.models import Flow
from tests.e2e.editor import (
    EDITOR_URL,
    card,
    choose,
    drag_with_mouse,
    field,
    open_editor,
    output_chip,
    palette_card,
    save,
)

pytestmark = pytest.mark.e2e

ACCOUNT = "Sandbox · sandra.box@sandboxbrand.example"  # the account its token belongs to
# Set to a path (docs/editor.png) to refresh the README's screenshot from the first journey.
SCREENSHOT = os.environ.get("QFLOWS_EDITOR_SCREENSHOT")


def event(configuration, sandbox):
    return {
        "id": "trigger",
        "card": "qualtrics.new_response",
        "configuration": configuration.pk,
        "options": {"survey_id": sandbox.survey_id},
    }


def contact_step(configuration, sandbox, step_id="step_1"):
    return {
        "id": step_id,
        "card": "qualtrics.create_contact_in_mailing_list",
        "configuration": configuration.pk,
        "options": {"directory_id": sandbox.directory_id, "mailing_list_id": sandbox.mailing_list_id},
        "inputs": {"email": {"ref": "trigger.recipient_email"}},
    }


def saved_flow(owner, name, *definitions):
    """A flow with one published version per definition."""
    flow = services.flow_create(membership=owner, name=name)
    for definition in definitions:
        services.flow_save(membership=owner, flow=flow, definition=definition, base_version=flow.revision)
        services.flow_publish(membership=owner, flow=flow)
    flow.refresh_from_db()
    return flow


def test_a_flow_built_with_the_mouse_is_saved_and_comes_back_the_same(
    signed_in, live_server, qualtrics_sandbox, sandbox_configuration, sandbox_group
):
    page = signed_in
    group_id, group_name = sandbox_group
    page.get_by_placeholder("New flow name").fill("Welcome satisfied customers")
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(EDITOR_URL)
    expect(page.locator("#editor.ready")).to_be_attached()

    # Without an event, the palette offers only events.
    expect(page.get_by_role("heading", name="Choose an event")).to_be_visible()
    expect(palette_card(page, "Create Contact in Mailing List")).to_have_count(0)
    palette_card(page, "New Response").click()
    trigger = card(page, "trigger")
    choose(trigger, "configuration", ACCOUNT)
    choose(trigger, "survey_id", "Customer Satisfaction")
    question = output_chip(trigger, "Overall, how satisfied are you with our service?")
    expect(question).to_be_visible()

    drag_with_mouse(page, palette_card(page, "Create Contact in Mailing List"), page.locator(".step-list.top > li:last-child .drop-slot"))
    contact = card(page, "step_1")
    expect(contact).to_be_visible()
    choose(contact, "configuration", ACCOUNT)
    choose(contact, "directory_id", "Default Directory")
    choose(contact, "mailing_list_id", "Newsletter")
    drag_with_mouse(page, output_chip(trigger, "Email Address"), field(contact, "email"))
    expect(field(contact, "email").locator(".chip.mapped")).to_contain_text("Email Address")

    drag_with_mouse(page, palette_card(page, "If/Else"), page.locator(".step-list.top > li:last-child .drop-slot"))
    condition = card(page, "step_2")
    drag_with_mouse(page, question, field(condition, "left"))
    expect(field(condition, "left").locator(".chip.mapped")).to_contain_text("Overall, how satisfied")
    choose(condition, "operator", "equals")
    field(condition, "right").locator("input").fill("1")
    expect(condition.locator(".branch-then")).to_contain_text("Then")
    expect(condition.locator(".branch-else")).to_contain_text("Else")

    condition.locator(".branch-then").get_by_role("button", name="Add card here").click()
    expect(page.locator(".palette-target")).to_contain_text("Then of If/Else")
    palette_card(page, "Add User to Group").click()
    add_to_group = condition.locator(".branch-then #card-step_3")
    expect(add_to_group).to_be_visible()
    choose(add_to_group, "configuration", ACCOUNT)
    choose(add_to_group, "group_id", group_name)
    field(add_to_group, "user_id").locator("input").fill(qualtrics_sandbox.info.user_id)

    expect(page.locator("#dirty-indicator")).to_be_visible()
    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    expect(page.locator("#dirty-indicator")).to_be_hidden()

    flow = Flow.objects.get(name="Welcome satisfied customers")
    assert flow.revision == 1 and flow.version == 0 and flow.draft_problems == []
    definition = flow.definition
    assert definition["event"]["options"] == {"survey_id": qualtrics_sandbox.survey_id}
    first, second = definition["steps"]
    assert first["card"] == "qualtrics.create_contact_in_mailing_list"
    assert first["options"] == {"directory_id": qualtrics_sandbox.directory_id, "mailing_list_id": qualtrics_sandbox.mailing_list_id}
    assert first["inputs"] == {"email": {"ref": "trigger.recipient_email"}}
    assert second["card"] == "core.if_else"
    assert second["inputs"] == {"left": {"ref": "trigger.q.QID1"}, "operator": "equals", "right": "1"}
    assert [s["card"] for s in second["then"]] == ["qualtrics.add_user_to_group"]
    assert second["then"][0]["options"] == {"group_id": group_id}
    assert second["else"] == []

    page.reload()
    expect(page.locator("#editor.ready")).to_be_attached()
    expect(page.locator("#flow-name")).to_have_value("Welcome satisfied customers")
    expect(page.locator("#flow-version")).to_have_text("Draft saved · not published")
    expect(page.locator("#dirty-indicator")).to_be_hidden()
    expect(field(card(page, "trigger"), "survey_id").locator("select")).to_have_value(qualtrics_sandbox.survey_id)
    expect(field(card(page, "step_1"), "email").locator(".chip.mapped")).to_contain_text("Email Address")
    expect(field(card(page, "step_2"), "left").locator(".chip.mapped")).to_contain_text("Overall, how satisfied")
    expect(field(card(page, "step_2"), "right").locator("input")).to_have_value("1")
    reloaded_group = page.locator("#card-step_2 .branch-then #card-step_3")
    expect(field(reloaded_group, "group_id").locator("select")).to_have_value(group_id)

    if SCREENSHOT:
        page.set_viewport_size({"width": 1400, "height": 1300})
        page.get_by_role("button", name="Collapse New Response").click()
        page.get_by_role("button", name="Collapse Create Contact in Mailing List").click()
        page.get_by_role("button", name="Collapse Add User to Group").click()
        page.locator("#canvas").evaluate("canvas => { canvas.scrollTop = 0; }")
        page.mouse.move(0, 0)
        page.screenshot(path=SCREENSHOT)


def test_a_missing_required_input_is_shown_on_its_card_until_it_is_filled(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration, sandbox_group
):
    flow = services.flow_create(membership=owner, name="Group promoters")
    page = open_editor(signed_in, live_server, flow)
    palette_card(page, "New Response").click()
    choose(card(page, "trigger"), "configuration", ACCOUNT)
    choose(card(page, "trigger"), "survey_id", "Customer Satisfaction")
    palette_card(page, "Add User to Group").click()
    group = card(page, "step_1")
    choose(group, "configuration", ACCOUNT)
    choose(group, "group_id", sandbox_group[1])

    save(page)
    user_id = field(group, "user_id")
    expect(user_id.locator(".field-errors")).to_contain_text("User ID is required")
    expect(group).to_have_class(re.compile(r"\binvalid\b"))
    summary = page.locator("#validation-summary")
    expect(summary).to_contain_text("1 problem to fix")
    expect(summary).to_contain_text("Add User to Group · User ID")
    flow.refresh_from_db()
    assert flow.version == 0 and flow.revision == 1  # the draft is stored, problem and all
    assert [p["field"] for p in flow.draft_problems] == ["user_id"]

    summary.get_by_role("button").click()
    expect(user_id.locator("input")).to_be_focused()
    page.keyboard.type(qualtrics_sandbox.info.user_id)
    expect(user_id.locator(".field-errors")).to_have_count(0)
    expect(summary).to_be_hidden()

    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")


def test_an_old_version_is_restored_into_the_draft_and_published_as_a_new_version(signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration):
    first = {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": [contact_step(sandbox_configuration, qualtrics_sandbox)]}
    second = {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "Thanks {{trigger.recipient_name}}"}}],
    }
    flow = saved_flow(owner, "Versioned", first, second)
    page = open_editor(signed_in, live_server, flow)
    expect(card(page, "step_1")).to_have_attribute("data-card", "core.compose")

    page.get_by_role("button", name="Versions").click()
    panel = page.locator("#versions-panel")
    expect(panel.locator(".version")).to_have_count(2)
    expect(panel.locator(".version[data-version='2']")).to_contain_text("live")
    expect(panel.locator(".version[data-version='1']")).to_contain_text(f"Published by {owner.user.username}")

    panel.get_by_role("button", name="View version 1").click()
    dialog = page.locator("#version-dialog")
    expect(dialog).to_contain_text("Create Contact in Mailing List (step_1)")
    dialog.get_by_role("button", name="Close").click()

    page.once("dialog", lambda prompt: prompt.accept())
    panel.get_by_role("button", name="Restore version 1").click()
    expect(page.locator("#editor-notice")).to_contain_text("Version 1 is in the draft")
    expect(card(page, "step_1")).to_have_attribute("data-card", "qualtrics.create_contact_in_mailing_list")
    expect(page.locator("#flow-version")).to_have_text("Live: version 2 · Draft: unpublished changes")
    expect(panel.locator(".version")).to_have_count(2)
    flow.refresh_from_db()
    assert flow.version == 2 and flow.definition == first

    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#flow-version")).to_have_text("Live: version 3")
    expect(panel.locator(".version")).to_have_count(3)
    expect(panel.locator(".version[data-version='3']")).to_contain_text("live")

    flow.refresh_from_db()
    assert flow.version == 3 and flow.live_version.number == 3
    assert flow.definition == first == flow.live_version.definition


def test_an_exported_flow_imports_as_a_copy_with_the_same_cards(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration, tmp_path
):
    definition = {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [
            contact_step(sandbox_configuration, qualtrics_sandbox),
            {
                "id": "step_2",
                "card": "core.if_else",
                "inputs": {"left": {"ref": "trigger.q.QID1"}, "operator": "equals", "right": "1"},
                "then": [{"id": "step_3", "card": "core.compose", "inputs": {"template": "Hello {{trigger.recipient_name}}"}}],
                "else": [],
            },
        ],
    }
    flow = saved_flow(owner, "Round trip", definition)
    page = open_editor(signed_in, live_server, flow)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export", exact=True).click()
    download = download_info.value
    assert download.suggested_filename == "round-trip.flow.json"
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)
    document = json.loads(exported.read_text())
    assert document["format"] == "qflows.flow/1"
    assert document["name"] == "Round trip"
    assert document["definition"] == definition
    assert document["configurations"] == {str(sandbox_configuration.pk): {"name": "Sandbox", "connector": "qualtrics"}}

    page.goto(f"{live_server.url}/flows/")
    page.get_by_label("Import").set_input_files(exported)
    page.get_by_role("button", name="Import flow").click()
    page.wait_for_url(EDITOR_URL)
    imported_id = int(EDITOR_URL.search(page.url).group(1))
    assert imported_id != flow.pk
    expect(page.locator("#editor.ready")).to_be_attached()
    expect(page.locator("#flow-name")).to_have_value("Round trip")
    expect(card(page, "step_1")).to_have_attribute("data-card", "qualtrics.create_contact_in_mailing_list")
    expect(page.locator("#card-step_2 .branch-then #card-step_3")).to_have_attribute("data-card", "core.compose")
    expect(field(card(page, "step_1"), "configuration").locator("select")).to_have_value(str(sandbox_configuration.pk))

    assert Flow.objects.get(pk=imported_id).definition == definition


def test_a_stale_save_is_refused_with_the_servers_message_and_the_edits_are_kept(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration
):
    definition = {"event": event(sandbox_configuration, qualtrics_sandbox), "steps": []}
    flow = saved_flow(owner, "Contested", definition)
    page = open_editor(signed_in, live_server, flow)
    palette_card(page, "Compose").click()
    field(card(page, "step_1"), "template").locator("textarea").fill("Mine")

    services.flow_save(membership=owner, flow=flow, definition=definition, base_version=1)  # someone else saves
    save(page)
    notice = page.locator("#editor-notice .notice.error")
    expect(notice).to_contain_text("after you opened it")
    expect(notice.get_by_role("button", name="Reload their version")).to_be_visible()
    expect(page.locator("#dirty-indicator")).to_be_visible()
    expect(field(card(page, "step_1"), "template").locator("textarea")).to_have_value("Mine")
    flow.refresh_from_db()
    assert flow.revision == 2
    assert flow.definition == definition


def test_outputs_can_be_mapped_from_the_keyboard_and_a_type_mismatch_is_flagged(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration
):
    definition = {
        "event": event(sandbox_configuration, qualtrics_sandbox),
        "steps": [
            {
                "id": "step_1",
                "card": "qualtrics.read_mailing_list_contacts",
                "configuration": sandbox_configuration.pk,
                "options": {"directory_id": qualtrics_sandbox.directory_id, "mailing_list_id": qualtrics_sandbox.mailing_list_id},
            },
            contact_step(sandbox_configuration, qualtrics_sandbox, step_id="step_2"),
        ],
    }
    flow = saved_flow(owner, "Keyboard", definition)
    page = open_editor(signed_in, live_server, flow)
    first_name = field(card(page, "step_2"), "first_name")

    first_name.get_by_role("button", name="Map output into First Name").focus()
    page.keyboard.press("Enter")
    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_focused()
    expect(listbox.get_by_role("option", name=re.compile("Email Address"))).to_be_visible()
    expect(listbox.get_by_role("option", name=re.compile("Contact Lookup ID"))).to_have_count(0)  # not earlier
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")

    expect(first_name.locator(".chip.mapped")).to_contain_text("Read Mailing List Contacts")
    expect(first_name.locator(".type-warning")).to_contain_text("list output is mapped into a text input")
    remove = first_name.get_by_role("button", name="Remove mapping from First Name")
    expect(remove).to_be_focused()
    page.keyboard.press("Enter")
    expect(first_name.locator(".chip.mapped")).to_have_count(0)
    expect(first_name.get_by_role("button", name="Map output into First Name")).to_be_focused()


def test_an_http_request_can_use_a_team_connection_or_none(signed_in, live_server, owner):
    from accounts.configurations import configuration_create

    api = configuration_create(membership=owner, connector="http", name="Partner API", shared=True,
                               credentials={"auth_type": "basic", "username": "flows", "password": "s3cret-pass"})
    request = {"id": "step_1", "card": "http.request", "options": {"method": "GET"},
               "inputs": {"url": "https://api.example.com/items"}}
    definition = {"event": {"id": "trigger", "card": "webhook.catch", "options": {}}, "steps": [request]}
    flow = saved_flow(owner, "Call the partner", definition)
    page = open_editor(signed_in, live_server, flow)
    picker = field(card(page, "step_1"), "configuration")
    expect(picker.locator("label")).to_have_text("Connection (optional)")
    expect(picker.locator("select option:checked")).to_have_text("No connection")

    choose(card(page, "step_1"), "configuration", "Partner API · Basic auth as flows")
    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    page.get_by_role("button", name="Dismiss message").click()
    flow.refresh_from_db()
    assert flow.definition["steps"][0]["configuration"] == api.pk

    choose(card(page, "step_1"), "configuration", "No connection")
    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    flow.refresh_from_db()
    assert flow.definition["steps"][0].get("configuration") is None
    expect(page.locator("body")).not_to_contain_text("s3cret-pass")
