"""How the editor page loads in the browser: its modules preloaded, its data from the page, no
failed request; and from the browser's history, its data asked of the server again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from designer import services

pytestmark = pytest.mark.e2e


@pytest.fixture
def twenty_cards(owner, sandbox_configuration, qualtrics_sandbox):
    definition = {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": sandbox_configuration.pk,
                  "options": {"survey_id": qualtrics_sandbox.survey_id}},
        "steps": [{"id": f"step_{n}", "card": "core.compose", "inputs": {"template": f"Hello {{{{trigger.recipient_name}}}} #{n}"}}
                  for n in range(1, 20)],
    }
    flow = services.flow_create(membership=owner, name="Twenty cards")
    services.flow_save(membership=owner, flow=flow, definition=definition, base_version=0)
    return flow


def test_the_editor_loads_its_modules_and_data_with_no_failed_request(signed_in, live_server, twenty_cards):
    page = signed_in
    failed, errors, requested = [], [], []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requested.append(r.url.removeprefix(live_server.url)))

    page.goto(f"{live_server.url}/flows/{twenty_cards.pk}/edit/")
    expect(page.locator("#editor.ready")).to_be_attached()
    expect(page.locator("#canvas [data-step]")).to_have_count(20)
    expect(page.locator("#flow-name")).to_have_value("Twenty cards")
    page.wait_for_load_state("load")

    preloaded = page.eval_on_selector_all("link[rel=modulepreload]", "links => links.map(l => l.getAttribute('href'))")
    modules = [url for url in requested if url.startswith("/static/js/editor/")]
    assert sorted(set(modules)) == sorted(preloaded)
    # The catalog, the flow and the configurations came with the page.
    assert not [url for url in requested if url.split("?")[0] in ("/api/catalog/", f"/api/flows/{twenty_cards.pk}/",
                                                                  "/api/configurations/")]
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/static/favicon.svg")
    assert not failed, failed
    # The live server speaks no websockets; the live panel falls back to polling there.
    assert not [e for e in errors if "WebSocket" not in e], errors


def test_the_editor_shown_again_from_history_loads_the_saved_flow(signed_in, live_server, twenty_cards, owner):
    page = signed_in
    page.goto(f"{live_server.url}/flows/{twenty_cards.pk}/edit/")
    expect(page.locator("#editor.ready")).to_be_attached()
    page.goto(f"{live_server.url}/flows/")
    services.flow_save(membership=owner, flow=twenty_cards, name="Renamed meanwhile",
                       definition=twenty_cards.definition, base_version=twenty_cards.revision)

    page.go_back()
    expect(page.locator("#editor.ready")).to_be_attached()
    # As when it always asked the server: the flow as it is now, not as the page had it.
    expect(page.locator("#flow-name")).to_have_value("Renamed meanwhile")
