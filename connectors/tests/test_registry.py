from __future__ import annotations

import pytest

from connectors import registry
from connectors.registry import Registry, UnknownCardError
from connectors.specs import FIELD_TYPES, Card, Field


def test_get_returns_the_card():
    assert registry.get("qualtrics.create_contact").name == "Create Contact"


def test_an_unknown_key_raises_a_key_error_that_reads_well():
    with pytest.raises(KeyError) as caught:
        registry.get("qualtrics.nope")
    assert isinstance(caught.value, UnknownCardError)
    assert str(caught.value) == "There is no card with the key 'qualtrics.nope'. It may have been renamed or removed."


def test_by_group_puts_events_first_then_names_in_order():
    responses = registry.by_group()["Responses"]
    assert [c.key for c in responses] == [
        "qualtrics.new_response",
        "qualtrics.export_responses",
        "qualtrics.read_response",
    ]


def test_catalog_json_has_the_documented_shape():
    data = registry.catalog_json()
    assert set(data) == {"connectors", "cards"}
    keys = {c["key"] for c in data["cards"]}
    assert keys == {c.key for c in registry.all_cards()}
    connectors = {c["key"]: c for c in data["connectors"]}
    assert {"qualtrics", "schedule", "core"} <= set(connectors)
    for entry in data["cards"]:
        assert entry["connector"] in connectors
        assert set(entry) == {
            "key",
            "name",
            "description",
            "kind",
            "connector",
            "group",
            "needs_configuration",
            "optional_configuration",
            "changes",
            "options",
            "inputs",
            "outputs",
            "dynamic_outputs",
        }
        assert entry["kind"] in ("event", "action", "function")
        for field in entry["options"] + entry["inputs"] + entry["outputs"]:
            assert set(field) == {
                "key",
                "label",
                "type",
                "required",
                "default",
                "help",
                "group",
                "choices",
                "source",
                "depends_on",
            }
            assert field["type"] in FIELD_TYPES
            sources = {s["key"] for s in connectors[entry["connector"]]["sources"]}
            assert field["source"] is None or field["source"] in sources
            assert field["choices"] is None or all(set(c) == {"value", "label"} for c in field["choices"])


def test_catalog_json_is_a_copy_callers_may_change():
    registry.catalog_json()["cards"].clear()
    assert registry.catalog_json()["cards"]


def test_the_etag_changes_when_a_card_is_added():
    own = Registry([Card(key="core.one", name="One", description="", kind="function", connector="core", group="G")])
    before = own.catalog_etag()
    own.register(
        Card(
            key="core.two",
            name="Two",
            description="",
            kind="function",
            connector="core",
            group="G",
            inputs=(Field("x", "X"),),
        )
    )
    assert own.catalog_etag() != before
    assert [c["key"] for c in own.catalog_json()["cards"]] == ["core.one", "core.two"]


def test_action_cards_say_what_they_change_and_read_cards_and_get_requests_change_nothing():
    assert registry.get("qualtrics.read_contact_from_mailing_list").changes_for({}) == ""
    assert registry.get("qualtrics.create_contact_in_mailing_list").changes_for({}) == (
        "creates a contact in the chosen mailing list in Qualtrics")
    assert registry.get("core.compose").changes_for({}) == ""
    request = registry.get("http.request")
    assert request.changes_for({"method": "GET"}) == "" and "sends the request" in request.changes_for({"method": "POST"})
    unsaid = [c.key for c in registry.all_cards() if c.kind == "action" and not c.safe and not c.changes]
    assert unsaid == []
