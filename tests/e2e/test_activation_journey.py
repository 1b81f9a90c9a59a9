"""Browser journey for activation: activate a saved flow, watch a webhook run arrive live on the
Runs page as a real worker executes it, read its steps, and deactivate."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.models import Run
from tests.fixtures import newsletter_definition
from tests.processes import Worker, worker_base_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def live_server(websocket_live_server):
    """The pages of this journey update over websockets, so the product's server serves them."""
    return websocket_live_server


@pytest.fixture
def worker(live_server, qualtrics_sandbox, settings):
    settings.PUBLIC_BASE_URL = live_server.url  # Qualtrics-style webhooks reach the live server
    env = worker_base_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        QUALTRICS_API_BASE=qualtrics_sandbox.api_base_template,
        PUBLIC_BASE_URL=live_server.url,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    env.pop("REDIS_URL", None)  # the live server enqueues on the database backend
    process = Worker(env).start()
    yield process
    process.stop()


@pytest.fixture
def flow(owner, qualtrics_sandbox, sandbox_configuration):
    """New Response → Create Contact in Mailing List, saved once."""
    definition = newsletter_definition(sandbox_configuration.pk, qualtrics_sandbox)
    item = services.flow_create(membership=owner, name="Newsletter sign-ups")
    services.flow_save(membership=owner, flow=item, definition=definition, base_version=0)
    return item


def client_for(sandbox) -> QualtricsClient:
    return QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)


def test_an_activated_flow_runs_on_a_worker_and_the_run_appears_live(
    signed_in, live_server, worker, flow, qualtrics_sandbox
):
    page = signed_in
    status_url = f"{live_server.url}/flows/{flow.pk}/status/"

    page.goto(status_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Newsletter sign-ups")
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(status_url)
    expect(page.get_by_role("status")).to_contain_text("“Newsletter sign-ups” is active (webhook).")
    expect(page.locator("#activation-status")).to_have_text("Active (webhook)")
    subscriptions = client_for(qualtrics_sandbox).list_event_subscriptions()
    assert len(subscriptions) == 1
    assert subscriptions[0]["publicationUrl"].startswith(f"{live_server.url}/hooks/qualtrics/")
    expect(page.locator(".facts")).to_contain_text(subscriptions[0]["id"])

    # The Runs page is open and listening when a respondent finishes the survey.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs").click()
    runs = page.get_by_role("table", name="Runs")
    expect(runs).to_contain_text("No runs yet.")
    expect(page.locator("body[data-live='connected']")).to_be_attached()
    page.evaluate("window.notReloaded = true")
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "ada@example.com"})

    row = runs.locator("tbody tr[data-run-id]")
    expect(row).to_have_count(1, timeout=20_000)
    expect(row.locator("[data-field='status']")).to_have_text("Succeeded", timeout=20_000)
    expect(row).to_contain_text(response_id)
    expect(row).to_contain_text("Newsletter sign-ups")
    expect(row).to_contain_text("webhook")
    assert page.evaluate("window.notReloaded") is True, "the Runs page reloaded"
    assert worker.process.poll() is None, "the worker process ran the run and is still up"
    run = Run.objects.get(flow=flow)
    assert run.status == "succeeded", run.error
    assert [
        c["email"]
        for c in client_for(qualtrics_sandbox).list_mailing_list_contacts(
            qualtrics_sandbox.directory_id, qualtrics_sandbox.mailing_list_id
        )
    ] == ["ada@example.com"]

    # The run's page shows each step.
    row.get_by_role("link", name=f"#{run.pk}").click()
    expect(page).to_have_url(f"{live_server.url}/runs/{run.pk}/")
    expect(page.locator("#run-status")).to_have_text("Succeeded")
    expect(page.locator("#run-version")).to_contain_text("Ran version v1")
    expect(page.locator("#run-event")).to_have_text(response_id)
    expect(page.locator("#run")).to_contain_text("(Webhook)")
    steps = page.locator("#run-steps > li")
    expect(steps).to_have_count(2)
    trigger, step_1 = steps.nth(0), steps.nth(1)
    expect(trigger).to_have_attribute("data-step", "trigger")
    expect(trigger.get_by_role("heading")).to_contain_text("New Response")
    expect(trigger.locator(".badge")).to_have_text("Succeeded")
    expect(trigger).to_contain_text("ada@example.com")
    expect(step_1).to_have_attribute("data-step", "step_1")
    expect(step_1.get_by_role("heading")).to_contain_text("Create Contact in Mailing List")
    expect(step_1.locator(".badge")).to_have_text("Succeeded")

    # Deactivating removes the subscription from Qualtrics.
    page.goto(status_url)
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("“Newsletter sign-ups” is inactive.")
    expect(page.locator("#activation-status")).to_have_text("Inactive")
    expect(page.get_by_role("button", name="Activate")).to_be_visible()
    assert client_for(qualtrics_sandbox).list_event_subscriptions() == []
