from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import Role
from connectors import registry

pytestmark = pytest.mark.django_db


def test_the_catalog_page_shows_every_card_grouped(client, member):
    client.force_login(member(Role.VIEWER))
    response = client.get(reverse("catalog"))
    assert response.status_code == 200
    html = response.content.decode()
    for group, cards in registry.by_group().items():
        assert f'id="group-{group.lower().replace(" ", "-")}"' in html
        for card in cards:
            assert f'data-search="{card.name.lower()}' in html, card.key
    # Groups come in catalog order: Responses before Users before Logic.
    assert html.index('id="group-responses"') < html.index('id="group-users"') < html.index('id="group-logic"')


def test_each_card_documents_its_options_inputs_and_outputs(client, member):
    client.force_login(member(Role.VIEWER))
    html = client.get(reverse("catalog")).content.decode()
    article = re.search(
        r'<article[^>]*id="card-qualtrics-create_contact_in_mailing_list".*?</article>', html, re.S
    ).group(0)
    assert "Create Contact in Mailing List" in article
    assert "<caption>Options</caption>" in article and "<caption>Inputs</caption>" in article
    assert "<caption>Outputs</caption>" in article
    assert "Contact Lookup ID" in article and "embedded_data" in article
    assert "mailing lists in your Qualtrics account, once <code>directory_id</code> is chosen" in article
    custom = re.search(r'<article[^>]*id="card-qualtrics-custom_api_action".*?</article>', html, re.S).group(0)
    assert "Choices: GET, POST, PUT, DELETE" in custom and "Status Code" in custom
    event = re.search(r'<article[^>]*id="card-qualtrics-new_response".*?</article>', html, re.S).group(0)
    assert "q.QID1_label" in event and ">Metadata<" in event and ">Recipient<" in event


def test_the_catalog_page_loads_its_search_as_a_module_and_has_no_inline_script(client, member):
    client.force_login(member(Role.VIEWER))
    response = client.get(reverse("catalog"))
    html = response.content.decode()
    assert '<script type="module" src="/static/js/catalog.js"></script>' in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert 'role="search"' in html and '<label for="catalog-search">' in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_catalog_page_needs_sign_in(client):
    response = client.get(reverse("catalog"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_catalog_api_gives_every_card(client, member):
    client.force_login(member(Role.VIEWER))
    response = client.get("/api/catalog/")
    assert response.status_code == 200
    data = response.json()
    assert data == registry.catalog_json()
    assert len([c for c in data["cards"] if c["connector"] == "qualtrics"]) == 29
    new_response = next(c for c in data["cards"] if c["key"] == "qualtrics.new_response")
    assert new_response["kind"] == "event" and new_response["dynamic_outputs"] is True
    assert new_response["options"][0] == {
        "key": "survey_id",
        "label": "Survey",
        "type": "text",
        "required": True,
        "default": None,
        "help": "Drop down menu of survey within your Qualtrics account.",
        "group": "",
        "choices": None,
        "source": "surveys",
        "depends_on": [],
    }


def test_the_catalog_api_is_cacheable_and_revalidates_with_its_etag(client, member):
    client.force_login(member(Role.VIEWER))
    first = client.get("/api/catalog/")
    assert "private" in first["Cache-Control"] and "max-age=300" in first["Cache-Control"]
    etag = first["ETag"]
    again = client.get("/api/catalog/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag and not again.content


def test_the_catalog_api_needs_sign_in(client):
    assert client.get("/api/catalog/").status_code == 403


def test_the_catalog_lists_the_cards_of_every_connector_grouped_by_connector(client, member):
    client.force_login(member(Role.VIEWER))
    data = client.get(reverse("api_catalog")).json()
    by_connector = {}
    for card in data["cards"]:
        by_connector.setdefault(card["connector"], []).append(card["key"])
    assert {"qualtrics", "schedule", "webhook", "http", "email", "slack", "teams", "core"} <= set(by_connector)
    assert by_connector["schedule"] == ["schedule.every"] and by_connector["webhook"] == ["webhook.catch"]
    assert by_connector["http"] == ["http.request"] and by_connector["email"] == ["email.send"]
    assert by_connector["slack"] == ["slack.post_message"] and by_connector["teams"] == ["teams.post_message"]
    assert [c["key"] for c in data["connectors"]][:7] == ["qualtrics", "schedule", "webhook", "http", "email", "slack", "teams"]

    html = client.get(reverse("catalog")).content.decode()
    headings = re.findall(r'<h2 id="connector-[^"]+">([^<]+)</h2>', html)
    assert headings == ["Qualtrics", "Schedule", "Webhook", "HTTP Request", "Email", "Slack", "Microsoft Teams", "Functions"]
    assert html.index('id="card-schedule-every"') < html.index('id="card-webhook-catch"') < html.index('id="group-logic"')
