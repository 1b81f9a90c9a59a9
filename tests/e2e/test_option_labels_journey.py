"""A viewer, who may not list the account's surveys, reads the names an owner chose in the editor,
not their Qualtrics ids; so does an editor whose configuration they cannot use."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
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
SURVEY = "Customer Satisfaction"
QUESTION = "Overall, how satisfied are you with our service?"
# What only the account can answer: a viewer's page must not ask it.
ACCOUNT_CALLS = re.compile(r"/api/(configurations/\d+/options/|catalog/[^/]+/outputs/)")


def build_and_save(page, live_server):
    page.get_by_placeholder("New flow name").fill("Follow up on satisfaction")
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(EDITOR_URL)
    expect(page.locator("#editor.ready")).to_be_attached()
    palette_card(page, "New Response").click()
    trigger = card(page, "trigger")
    choose(trigger, "configuration", ACCOUNT)
    choose(trigger, "survey_id", SURVEY)
    question = output_chip(trigger, QUESTION)
    expect(question).to_be_visible()

    drag_with_mouse(page, palette_card(page, "Create Contact in Mailing List"), page.locator(".step-list.top > li:last-child .drop-slot"))
    contact = card(page, "step_1")
    choose(contact, "configuration", ACCOUNT)
    choose(contact, "directory_id", "Default Directory")
    choose(contact, "mailing_list_id", "Newsletter")
    drag_with_mouse(page, output_chip(trigger, "Email Address"), field(contact, "email"))

    drag_with_mouse(page, palette_card(page, "If/Else"), page.locator(".step-list.top > li:last-child .drop-slot"))
    condition = card(page, "step_2")
    drag_with_mouse(page, question, field(condition, "left"))
    expect(field(condition, "left").locator(".chip.mapped")).to_contain_text(QUESTION)
    choose(condition, "operator", "equals")
    field(condition, "right").locator("input").fill("1")
    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    return Flow.objects.get(name="Follow up on satisfaction")


def expect_names_not_ids(page, sandbox):
    trigger, contact, condition = card(page, "trigger"), card(page, "step_1"), card(page, "step_2")
    survey = field(trigger, "survey_id").locator("select")
    expect(survey.locator("option:checked")).to_have_text(re.compile(f"^{SURVEY}"))
    expect(survey).not_to_contain_text(sandbox.survey_id)
    expect(survey).to_have_attribute("title", sandbox.survey_id)
    expect(field(contact, "directory_id").locator("select option:checked")).to_have_text(re.compile("^Default Directory"))
    expect(field(contact, "mailing_list_id").locator("select option:checked")).to_have_text(re.compile("^Newsletter"))
    expect(field(contact, "mailing_list_id").locator("select")).not_to_contain_text(sandbox.mailing_list_id)
    chip = field(condition, "left").locator(".chip.mapped")
    expect(chip).to_contain_text(QUESTION)
    expect(chip).not_to_contain_text("q.QID")
    expect(chip).to_have_attribute("title", re.compile(r"^trigger\.q\.QID\d+$"))
    expect(output_chip(trigger, QUESTION)).to_be_visible()


def test_a_viewer_reads_the_survey_and_question_names_the_owner_chose(
    signed_in, sign_in, live_server, qualtrics_sandbox, sandbox_configuration, member
):
    page = signed_in
    flow = build_and_save(page, live_server)
    event = flow.definition["event"]
    assert event["options"] == {"survey_id": qualtrics_sandbox.survey_id}
    assert event["option_labels"] == {"survey_id": SURVEY}
    [(key, record)] = event["output_labels"].items()
    assert flow.definition["steps"][1]["inputs"]["left"] == {"ref": f"trigger.{key}"}
    assert record == {"label": QUESTION, "type": "number"}
    assert flow.definition["steps"][0]["option_labels"] == {"directory_id": "Default Directory", "mailing_list_id": "Newsletter"}

    viewer = member(Role.VIEWER)
    page.get_by_role("button", name="Sign out").click()
    page = sign_in(viewer)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if ACCOUNT_CALLS.search(request.url) else None)
    open_editor(page, live_server, flow)
    expect(page.locator("#save-button")).to_be_hidden()
    expect_names_not_ids(page, qualtrics_sandbox)
    expect(field(card(page, "trigger"), "survey_id").locator("select")).to_be_disabled()
    assert asked == []


def test_an_editor_who_cannot_use_the_configuration_reads_the_stored_names(
    signed_in, sign_in, live_server, qualtrics_sandbox, sandbox_configuration, member
):
    page = signed_in
    flow = build_and_save(page, live_server)
    # The owner takes the configuration back: the editor may no longer list its choices.
    sandbox_configuration.shared = False
    sandbox_configuration.save(update_fields=["shared"])

    editor = member(Role.EDITOR)
    page.get_by_role("button", name="Sign out").click()
    page = sign_in(editor)
    open_editor(page, live_server, flow)
    expect(field(card(page, "trigger"), "configuration").locator("select option:checked")).to_contain_text("not available to you")
    expect(field(card(page, "trigger"), "survey_id")).to_contain_text("does not exist in your team")
    expect_names_not_ids(page, qualtrics_sandbox)


def test_an_editor_sees_the_live_names_and_saving_refreshes_the_stored_ones(
    signed_in, live_server, qualtrics_sandbox, sandbox_configuration, owner
):
    from designer import services

    page = signed_in
    flow = build_and_save(page, live_server)
    # Names stored before the survey and its question were renamed in Qualtrics.
    stale = flow.definition
    stale["event"]["option_labels"]["survey_id"] = "Old survey name"
    [key] = stale["event"]["output_labels"]
    stale["event"]["output_labels"][key]["label"] = "Old question text"
    services.flow_save(membership=owner, flow=flow, definition=stale, base_version=flow.revision)

    open_editor(page, live_server, flow)
    expect(field(card(page, "trigger"), "survey_id").locator("select")).to_have_value(qualtrics_sandbox.survey_id)
    expect(field(card(page, "trigger"), "survey_id").locator("select option:checked")).to_have_text(SURVEY)
    expect(field(card(page, "step_2"), "left").locator(".chip.mapped")).to_contain_text(QUESTION)
    expect(page.locator("#dirty-indicator")).to_be_hidden()
    save(page)
    expect(page.locator("#editor-notice")).to_contain_text("Draft saved")
    flow.refresh_from_db()
    assert flow.definition["event"]["option_labels"] == {"survey_id": SURVEY}
    assert flow.definition["event"]["output_labels"][key] == {"label": QUESTION, "type": "number"}
