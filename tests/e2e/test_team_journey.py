"""Browser journey for teams: sign in, create a team, invite a teammate by link, join with it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts import services
from accounts.models import Membership, Role

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery"


def sign_in_form(page: Page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_new_team_invites_a_teammate_who_joins_with_the_link(page, live_server, make_user, settings):
    make_user("ada")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    # A mistyped password is refused with a message that says what to do.
    sign_in_form(page, live_server, "ada", "correct-horse-battry")
    expect(page.get_by_role("alert")).to_have_text("That username and password do not match. Check both and try again.")
    expect(page).to_have_url(f"{live_server.url}/login/")

    # Without a team, signing in leads to the Team page.
    sign_in_form(page, live_server, "ada", PASSWORD)
    expect(page).to_have_url(f"{live_server.url}/team/")
    expect(page.get_by_role("status")).to_contain_text("Create a team or accept an invitation to get started.")

    page.get_by_label("Team name").fill("Lovelace Labs")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("status")).to_contain_text("Team “Lovelace Labs” created. You are its owner.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lovelace Labs")
    expect(page.locator(".topbar .role-badge")).to_have_text("Owner")

    # Invite a teammate and copy the link.
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Role").select_option(label="Editor")
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Invitation for grace@example.com created. Send them the link below."
    )
    link_box = page.get_by_label("Invitation link")
    expect(link_box).to_have_value(re.compile(rf"^{re.escape(live_server.url)}/invitations/[^/]+/$"))
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    assert link == link_box.input_value()
    expect(page.get_by_role("listitem").filter(has_text="grace@example.com (Editor)")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")

    # The teammate opens the link, creates an account and lands in the team.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Join Lovelace Labs")
    expect(page.get_by_text("You have been invited as Editor.")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value("grace@example.com")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password", exact=True).fill("analytical-engine-1843")
    page.get_by_label("Password confirmation").fill("analytical-engine-1843")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page).to_have_url(f"{live_server.url}/flows/")
    expect(page.get_by_role("status")).to_contain_text("Welcome to Lovelace Labs.")
    expect(page.locator(".topbar .team-name")).to_have_text("Lovelace Labs")
    expect(page.locator(".topbar .role-badge")).to_have_text("Editor")
    expect(page.locator(".topbar .username")).to_have_text("grace")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team").click()
    members = page.get_by_role("table")
    expect(members.get_by_role("row").filter(has_text="ada")).to_contain_text("Owner")
    expect(members.get_by_role("row").filter(has_text="grace")).to_contain_text("Editor")
    membership = Membership.objects.get(user__username="grace")
    assert (membership.team.name, membership.role) == ("Lovelace Labs", Role.EDITOR)

    # The link works once.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Invitation not usable")
    expect(page.get_by_role("alert")).to_have_text("This invitation has already been used.")

    # A link cut short or altered says so, and so does one older than its 7 days.
    token = link.rstrip("/").rsplit("/", 1)[1]
    tampered = link.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    response = page.goto(tampered)
    assert response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("Invitation not usable")
    expect(page.get_by_role("alert")).to_have_text(
        "This invitation link is not valid. Check that you copied all of it."
    )

    ada = Membership.objects.get(user__username="ada").user
    invitation = services.invitation_create(
        team=membership.team, email="linus@example.com", role=Role.VIEWER, invited_by=ada
    )
    settings.INVITATION_MAX_AGE_SECONDS = -1  # as if 7 days had passed
    response = page.goto(live_server.url + services.invitation_path(invitation))
    assert response.status == 400
    expect(page.get_by_role("alert")).to_have_text("This invitation has expired. Ask your team admin for a new one.")
    expect(page.get_by_role("button", name="Accept invitation")).to_have_count(0)
    assert not Membership.objects.filter(team=membership.team, role=Role.VIEWER).exists()
