"""Drafts and publish in the editor (issue #14): Save stores an incomplete draft and shows its
problems on the cards; Publish makes the fixed draft the live version; Discard draft goes back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from designer import services
from designer.models import Flow
from tests.e2e.editor import card, choose, field, open_editor, palette_card, save
from tests.e2e.test_editor import ACCOUNT

pytestmark = pytest.mark.e2e


def test_an_incomplete_draft_is_saved_with_its_problems_then_fixed_and_published(
    signed_in, live_server, owner, qualtrics_sandbox, sandbox_configuration, sandbox_group
):
    flow = services.flow_create(membership=owner, name="Draft first")
    page = open_editor(signed_in, live_server, flow)
    label = page.locator("#flow-version")
    expect(label).to_have_text("Not saved yet")
    palette_card(page, "New Response").click()
    choose(card(page, "trigger"), "configuration", ACCOUNT)
    choose(card(page, "trigger"), "survey_id", "Customer Satisfaction")
    palette_card(page, "Add User to Group").click()
    group = card(page, "step_1")
    choose(group, "configuration", ACCOUNT)
    choose(group, "group_id", sandbox_group[1])

    # Saved although a required input is empty: the draft keeps it, and the card says what to fix.
    save(page)
    notice = page.locator("#editor-notice")
    expect(notice).to_contain_text("Draft saved with 1 problem to fix before publishing")
    expect(field(group, "user_id").locator(".field-errors")).to_contain_text("User ID is required")
    expect(group).to_have_class(re.compile(r"\binvalid\b"))
    expect(label).to_have_text("Draft saved · not published")
    expect(page.locator("#dirty-indicator")).to_be_hidden()
    flow.refresh_from_db()
    assert flow.revision == 1 and flow.live_version is None and [p["field"] for p in flow.draft_problems] == ["user_id"]

    # The problems come back with the draft when the editor opens again.
    page.reload()
    expect(page.locator("#editor.ready")).to_be_attached()
    group = card(page, "step_1")
    expect(field(group, "user_id").locator(".field-errors")).to_contain_text("User ID is required")
    expect(page.locator("#validation-summary")).to_contain_text("1 problem to fix before this flow can be published")

    # Publish refuses it until the problem is fixed.
    page.get_by_role("button", name="Publish").click()
    expect(notice).to_contain_text("Fix the problems marked on the cards")
    assert not Flow.objects.get(pk=flow.pk).versions.exists()

    field(group, "user_id").locator("input").fill(qualtrics_sandbox.info.user_id)
    expect(page.locator("#validation-summary")).to_be_hidden()
    page.get_by_role("button", name="Publish").click()  # saves the change first
    expect(notice).to_contain_text("Published: version 1 is live")
    expect(label).to_have_text("Live: version 1")
    flow.refresh_from_db()
    assert flow.live_version.number == 1 and flow.draft_problems == [] and not flow.has_unpublished_changes

    # A later change is a draft beside the live version, until it is discarded.
    field(group, "user_id").locator("input").fill("UR_changed")
    save(page)
    expect(label).to_have_text("Live: version 1 · Draft: unpublished changes")
    page.once("dialog", lambda prompt: prompt.accept())
    page.get_by_role("button", name="Discard draft").click()
    expect(notice).to_contain_text("Draft discarded")
    expect(label).to_have_text("Live: version 1")
    expect(field(card(page, "step_1"), "user_id").locator("input")).to_have_value(qualtrics_sandbox.info.user_id)
    page.get_by_role("button", name="Versions").click()
    version = page.locator("#versions-panel .version[data-version='1']")
    expect(version).to_contain_text("live")
    expect(version).to_contain_text(f"Published by {owner.user.username}")
