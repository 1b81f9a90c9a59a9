"""A person loads the survey's latest response as the flow's sample, sees its values on the event
card's outputs, and tests the Create Contact step on it once they have confirmed what it creates."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.models import StepSample
from tests.e2e import screenshots
from tests.e2e.editor import card, open_editor, output_chip

pytestmark = pytest.mark.e2e

SCREENSHOT = screenshots.wanted()  # the README's docs/editor.png at the end; see scripts/screenshots.py


@pytest.fixture
def live_server(request, live_server):
    """For the screenshot, the product's server serves the page so that its activity panel is connected."""
    return request.getfixturevalue("websocket_live_server") if SCREENSHOT else live_server


def test_a_sample_response_fills_the_chips_and_a_confirmed_step_test_creates_one_contact(
    signed_in, live_server, qualtrics_sandbox, sandbox_configuration, owner
):
    qualtrics_sandbox.set_export_polls(1)
    cfg = sandbox_configuration.pk
    flow = services.flow_create(membership=owner, name="Newsletter sign-ups")
    services.flow_save(membership=owner, flow=flow, base_version=0, definition={
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": cfg,
                  "options": {"survey_id": qualtrics_sandbox.survey_id}},
        "steps": [{
            "id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": cfg,
            "options": {"directory_id": qualtrics_sandbox.directory_id,
                        "mailing_list_id": qualtrics_sandbox.mailing_list_id},
            "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"},
        }],
    })
    qualtrics_sandbox.record_response(notify=False, values={
        "recipientEmail": "ada@example.com", "QID1": 2, "QID2": "Answer my emails faster", "QID3": 9, "customer_id": "C-1042",
    })
    page = open_editor(signed_in, live_server, flow)

    trigger = card(page, "trigger")
    trigger.get_by_role("button", name="Load sample event for New Response").click()
    expect(trigger.locator(".step-test-result.succeeded")).to_contain_text("Sample event R_")
    expect(output_chip(trigger, "Email Address").locator(".chip-sample")).to_have_text("ada@example.com")

    contact = card(page, "step_1")
    asked = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    contact.get_by_role("button", name="Test step: Create Contact in Mailing List").click()
    expect(contact.locator(".step-test-outputs")).to_contain_text("CID_")
    assert "creates a contact in the chosen mailing list" in asked[0]
    expect(output_chip(contact, "Contact ID").locator(".chip-sample")).to_contain_text("CID_")

    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    listed = client.list_mailing_list_contacts(qualtrics_sandbox.directory_id, qualtrics_sandbox.mailing_list_id)
    assert [c["email"] for c in listed] == ["ada@example.com"]
    assert StepSample.objects.get(flow=flow, step_id="step_1").outputs["contact_id"].startswith("CID_")

    if SCREENSHOT:
        page.set_viewport_size({"width": 1280, "height": 960})
        page.get_by_role("button", name="Collapse New Response").click()
        page.get_by_role("button", name="Collapse Create Contact in Mailing List").click()
        contact.evaluate("card => card.scrollIntoView({block: 'end'})")
        page.mouse.move(0, 0)
        page.screenshot(path=str(Path(screenshots.FOLDER) / "editor.png"))
