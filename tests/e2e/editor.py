"""What the journeys do on the editor page, in the words a person would use."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

EDITOR_URL = re.compile(r"/flows/(\d+)/edit/$")


def open_editor(page: Page, live_server, flow) -> Page:
    page.goto(f"{live_server.url}/flows/{flow.pk}/edit/")
    expect(page.locator("#editor.ready")).to_be_attached()
    return page


def card(page: Page, step_id: str) -> Locator:
    return page.locator(f"#card-{step_id}")


def field(card_locator: Locator, key: str) -> Locator:
    return card_locator.locator(f".field[data-field='{key}']")


def palette_card(page: Page, name: str) -> Locator:
    return page.locator(".palette-card", has=page.locator(".palette-card-name", has_text=re.compile(f"^{re.escape(name)}$")))


def output_chip(card_locator: Locator, label: str) -> Locator:
    return card_locator.locator(".chips .chip", has=card_locator.page.locator(".chip-label", has_text=re.compile(f"^{re.escape(label)}$")))


def choose(card_locator: Locator, key: str, label: str) -> None:
    """Picks an option by its visible label (waiting for choices loaded from the account)."""
    field(card_locator, key).locator("select").select_option(label=label)


def drag_with_mouse(page: Page, source: Locator, target: Locator) -> None:
    """Presses on `source`, scrolls the canvas with the wheel while dragging until `target` is in
    view, and drops there: what a person does when the target is further down the flow."""
    source.scroll_into_view_if_needed()
    box = source.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 15, box["y"] + box["height"] / 2 + 10, steps=4)
    canvas = page.locator("#canvas").bounding_box()
    page.mouse.move(canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2, steps=6)
    for _ in range(80):
        goal = target.bounding_box()
        if goal["y"] >= canvas["y"] + 10 and goal["y"] + min(goal["height"], 60) <= canvas["y"] + canvas["height"] - 10:
            break
        page.mouse.wheel(0, 250 if goal["y"] > canvas["y"] else -250)
        page.wait_for_timeout(30)
    goal = target.bounding_box()
    page.mouse.move(goal["x"] + min(goal["width"] / 2, 80), goal["y"] + min(goal["height"] / 2, 24), steps=8)
    page.mouse.up()


def save(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
