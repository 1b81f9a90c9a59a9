"""Browser journey for Qualtrics configurations: add one against the sandbox, share it with the
team, and use it as an editor; a wrong token is explained. The token never reaches a page."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Configuration, Role
from tests.e2e.editor import EDITOR_URL, card, choose, field, palette_card

pytestmark = pytest.mark.e2e

WRONG_TOKEN = "qf-wrong-token-8d1c5e"


def add_configuration(page: Page, *, name: str, datacenter: str, token: str, username: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Configurations").click()
    page.get_by_role("link", name="Add configuration").click()
    # Several services take connections (Qualtrics, Slack, Teams): pick Qualtrics.
    page.get_by_role("list", name="Services").get_by_role("link", name="Qualtrics", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a Qualtrics configuration")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Data Center ID").fill(datacenter)
    page.get_by_label("API Token").fill(token)
    page.get_by_label("Username").fill(username)
    page.get_by_role("button", name="Save and authorize").click()


def row(page: Page, name: str):
    return page.get_by_role("table", name="Configurations").get_by_role("row").filter(has_text=name)


def assert_no_secret(page: Page, *secrets: str) -> None:
    html = page.content()
    for secret in secrets:
        assert secret not in html, f"a token is in the HTML of {page.url}"


def test_a_configuration_is_authorized_shared_and_used_by_an_editor(signed_in, live_server, qualtrics_sandbox, member):
    page = signed_in
    token = qualtrics_sandbox.token
    editor = member(Role.EDITOR)

    # A wrong token is refused with the reason.
    add_configuration(
        page, name="Typo", datacenter=qualtrics_sandbox.datacenter, token=WRONG_TOKEN, username="sandra.box"
    )
    expect(page.get_by_role("status")).to_contain_text("“Typo” is not authorized: Qualtrics refused the API token of “Typo”.")
    typo = row(page, "Typo")
    expect(typo.locator(".badge")).to_have_text("Authorization failed")
    expect(typo).to_contain_text(
        "Qualtrics refused the API token of “Typo”. Check the token, and that the data center ID matches"
    )
    assert_no_secret(page, WRONG_TOKEN)

    # The right token authorizes; the configuration starts private.
    add_configuration(
        page, name="Team Sandbox", datacenter=qualtrics_sandbox.datacenter, token=token, username="sandra.box"
    )
    expect(page.get_by_role("status")).to_contain_text("“Team Sandbox” is authorized as")
    sandbox_row = row(page, "Team Sandbox")
    expect(sandbox_row.locator(".badge")).to_have_text("Authorized")
    expect(sandbox_row).to_contain_text(f"set (•••• {token[-4:]})")
    expect(sandbox_row).to_contain_text("Private to owner")
    assert_no_secret(page, token, WRONG_TOKEN)

    # Share it; the token is kept without being typed again, and shown to no one.
    sandbox_row.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("API Token")).to_have_value("")
    expect(page.get_by_text(f"Stored: •••• {token[-4:]}.")).to_be_visible()
    assert_no_secret(page, token)
    page.get_by_label("Share with my team").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved “Team Sandbox”.")
    expect(row(page, "Team Sandbox")).to_contain_text("Shared with team")
    expect(row(page, "Team Sandbox").locator(".badge")).to_have_text("Authorized")
    configuration = Configuration.objects.get(name="Team Sandbox")
    assert configuration.shared and configuration.status == "authorized"
    assert token not in str(configuration.secret_credentials_encrypted)

    # An editor of the team sees the shared one (not the owner's private failed one) and can use it.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill(editor.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/flows/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Configurations").click()
    expect(row(page, "Team Sandbox").locator(".badge")).to_have_text("Authorized")
    expect(row(page, "Typo")).to_have_count(0)
    expect(row(page, "Team Sandbox").get_by_role("link", name="Edit")).to_have_count(0)
    assert_no_secret(page, token)

    listed = page.evaluate("""async () => {
        const response = await fetch("/api/configurations/", {credentials: "same-origin"});
        return {status: response.status, text: await response.text()};
    }""")
    assert listed["status"] == 200
    assert token not in listed["text"]
    configurations = {c["name"]: c for c in json.loads(listed["text"])}
    assert list(configurations) == ["Team Sandbox"]
    assert configurations["Team Sandbox"]["status"] == "authorized"
    assert configurations["Team Sandbox"]["shared"] is True
    assert configurations["Team Sandbox"]["can_manage"] is False

    # In the editor, the editor picks it for the New Response card and its surveys load.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Flows").click()
    page.get_by_placeholder("New flow name").fill("Shared account check")
    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(EDITOR_URL)
    expect(page.locator("#editor.ready")).to_be_attached()
    palette_card(page, "New Response").click()
    trigger = card(page, "trigger")
    choose(trigger, "configuration", f"Team Sandbox · {configuration.account_name}")
    choose(trigger, "survey_id", "Customer Satisfaction")
    expect(field(trigger, "survey_id").locator("select")).to_have_value(qualtrics_sandbox.survey_id)
    assert_no_secret(page, token)
