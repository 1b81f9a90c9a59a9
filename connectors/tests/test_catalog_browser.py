"""The catalog page in Chromium: searching and filtering without leaving the page."""

from __future__ import annotations

import os

import pytest

from accounts.models import Role
from connectors.registry import registry

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # pytest-playwright runs an event loop here

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def catalog(live_server, page, transactional_db, member):
    user = member(Role.VIEWER)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/flows/")
    page.goto(f"{live_server.url}/catalog/")
    return page


def visible_cards(page) -> list[str]:
    return page.locator("[data-catalog-card]:visible h4").all_inner_texts()


def test_searching_keeps_the_matching_cards_and_hides_empty_groups(catalog):
    errors = []
    catalog.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    total = len(registry.all_cards())
    assert len(visible_cards(catalog)) == total

    catalog.get_by_label("Search cards").fill("mailing list")

    # Read Contact matches too: it outputs the contact's Mailing List Membership.
    assert sorted(visible_cards(catalog)) == [
        "Create Contact in Mailing List",
        "Delete Contact from Mailing List",
        "Read Contact",
        "Read Contact from Mailing List",
        "Read Mailing List Contacts",
        "Read Mailing Lists",
        "Update Contact in Mailing List",
    ]
    assert catalog.get_by_role("status").inner_text() == f"7 of {total} cards"
    assert catalog.locator("#group-users").is_hidden() and catalog.locator("#group-mailing-lists").is_visible()
    assert "q=mailing+list" in catalog.url
    assert errors == []


def test_filtering_by_kind_and_searching_by_an_output(catalog):
    catalog.get_by_label("Kind").select_option("event")
    assert visible_cards(catalog) == ["New Response", "Schedule", "Catch Webhook"]

    catalog.get_by_label("Kind").select_option("")
    catalog.get_by_label("Search cards").fill("contact lookup")
    assert sorted(visible_cards(catalog)) == ["Create Contact in Mailing List", "Read Contact from Mailing List"]

    catalog.get_by_label("Search cards").fill("no such card")
    assert visible_cards(catalog) == []
    assert catalog.get_by_text("No card matches your search.").is_visible()


def test_slash_jumps_to_the_search_box(catalog):
    catalog.locator("body").click()
    catalog.keyboard.press("/")
    assert catalog.evaluate("document.activeElement.id") == "catalog-search"
