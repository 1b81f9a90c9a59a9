"""Browser journey: on the Qualtrics sandbox's own page, a person picks a survey, answers its form,
and sees the response recorded, sent as a webhook to the brand's subscription and listed among
the deliveries."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from connectors.qualtrics.client import QualtricsClient

pytestmark = pytest.mark.e2e


def test_a_response_recorded_from_the_sandbox_page_is_delivered_and_listed(page, qualtrics_sandbox, recording_listener):
    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    client.create_event_subscription(
        topics="surveyengine.completedResponse.*",
        publication_url=f"{recording_listener.url}/hook",
        shared_key="journey-key",
    )

    page.goto(f"{qualtrics_sandbox.url}/")
    expect(page.get_by_role("heading", name="Surveys", exact=True)).to_be_visible()
    page.get_by_role("link", name="Customer Satisfaction").click()

    expect(page.get_by_role("heading", name="Customer Satisfaction")).to_be_visible()
    expect(page.locator("form.response")).to_contain_text(f"{recording_listener.url}/hook")
    page.get_by_role("group", name=re.compile("how satisfied")).get_by_label("Satisfied", exact=True).check()
    page.get_by_label("What could we do better?").fill("Faster replies, please")
    page.get_by_role("group", name=re.compile("How likely")).get_by_label("9", exact=True).check()
    page.get_by_label("Email", exact=True).fill("ada@customer.example")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("customer_id").fill("C-1042")
    page.get_by_role("button", name="Record response and send webhook").click()

    expect(page.get_by_role("heading", name="Response recorded")).to_be_visible()
    response_id = page.locator("#response-id").inner_text()
    assert re.fullmatch(r"R_\w{15}", response_id)
    delivery = page.locator("tr.delivery")
    expect(delivery).to_have_count(1)
    expect(delivery).to_contain_text(f"{recording_listener.url}/hook")
    expect(delivery.locator("td.status-ok")).to_have_text("200")

    [request] = recording_listener.wait_for(1)
    assert json.loads(request["form"]["MSG"])["ResponseID"] == response_id
    values = client.get_response(qualtrics_sandbox.survey_id, response_id)["values"]
    assert (values["QID1"], values["QID3"], values["QID2_TEXT"]) == (2, 9, "Faster replies, please")
    assert (values["recipientEmail"], values["customer_id"]) == ("ada@customer.example", "C-1042")

    page.get_by_role("link", name="All deliveries").click()
    expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
    expect(page.locator("tr.delivery")).to_have_count(1)
    expect(page.locator("tr.delivery")).to_contain_text(response_id)
    page.locator("tr.delivery").get_by_role("link", name=response_id).click()
    expect(page.locator("#response-id")).to_have_text(response_id)

    page.get_by_role("navigation").get_by_role("link", name="Surveys").click()
    survey_row = page.locator("table.surveys tr", has=page.get_by_role("link", name="Customer Satisfaction"))
    expect(survey_row.locator("td").nth(3)).to_have_text("1")  # responses so far
    client.close()
