from __future__ import annotations

import copy

import pytest

from designer.validation import definition_validate


def problems(defn, allowed):
    return [(p.step, p.field, p.message) for p in definition_validate(defn, allowed_configurations=allowed)]


@pytest.fixture
def valid(definition, configuration):
    return definition(), {configuration.pk}


def test_a_complete_flow_is_valid(valid):
    defn, allowed = valid
    assert problems(defn, allowed) == []


def test_an_unknown_card_is_reported_on_its_step(valid):
    defn, allowed = valid
    defn["steps"][0]["card"] = "qualtrics.summon_unicorn"
    [(step, field, message)] = problems(defn, allowed)
    assert step == "step_1" and field is None and "no card" in message


def test_a_missing_required_input_names_the_field(valid):
    defn, allowed = valid
    del defn["steps"][1]["then"][0]["inputs"]["user_id"]
    found = problems(defn, allowed)
    assert [(s, f) for s, f, _ in found] == [("step_3", "user_id")]


def test_a_missing_required_option_names_the_option(valid):
    defn, allowed = valid
    defn["event"]["options"] = {}
    assert ("trigger", "survey_id") in [(s, f) for s, f, _ in problems(defn, allowed)]


def test_a_reference_to_a_later_card_is_refused(valid):
    defn, allowed = valid
    defn["steps"][0]["inputs"]["first_name"] = {"ref": "step_2.result"}
    [(step, field, message)] = problems(defn, allowed)
    assert (step, field) == ("step_1", "first_name") and "not an earlier card" in message


def test_a_reference_to_an_undeclared_output_is_refused(valid):
    defn, allowed = valid
    defn["steps"][0]["inputs"]["first_name"] = {"ref": "trigger.favourite_colour"}
    [(step, field, message)] = problems(defn, allowed)
    assert field == "first_name" and "does not output" in message


def test_a_reference_to_a_missing_card_is_refused(valid):
    defn, allowed = valid
    defn["steps"][0]["inputs"]["first_name"] = {"ref": "step_99.name"}
    assert [f for _, f, _ in problems(defn, allowed)] == ["first_name"]


def test_a_type_mismatch_is_reported(valid):
    defn, allowed = valid
    # a boolean output into a list input
    defn["steps"].append({"id": "step_4", "card": "core.for_each", "inputs": {"list": {"ref": "trigger.finished"}}, "steps": []})
    [(step, field, message)] = problems(defn, allowed)
    assert (step, field) == ("step_4", "list") and "takes list" in message


def test_a_configuration_from_another_team_is_refused(valid):
    defn, allowed = valid
    assert ("step_1", "configuration") in [(s, f) for s, f, _ in problems(defn, set())]


def test_a_card_without_a_configuration_is_reported(valid):
    defn, allowed = valid
    defn["steps"][0]["configuration"] = None
    [(step, field, message)] = problems(defn, allowed)
    assert (step, field) == ("step_1", "configuration")


def test_outputs_inside_a_branch_are_not_visible_after_it(valid):
    defn, allowed = valid
    defn["steps"].append({"id": "step_5", "card": "core.compose", "inputs": {"template": {"ref": "step_3.added"}}})
    assert ("step_5", "template") in [(s, f) for s, f, _ in problems(defn, allowed)]


def test_for_each_items_are_visible_only_inside_the_loop(valid):
    defn, allowed = valid
    loop = {"id": "step_6", "card": "core.for_each", "inputs": {"list": {"ref": "step_1.contact_id"}}, "steps": [
        {"id": "step_7", "card": "core.compose", "inputs": {"template": "Hi {{step_6.item.name}}"}},
    ]}
    defn["steps"].append(loop)
    defn["steps"].append({"id": "step_8", "card": "core.compose", "inputs": {"template": "{{step_6.item}}"}})
    found = problems(defn, allowed)
    assert ("step_8", "template") in [(s, f) for s, f, _ in found]
    assert "step_7" not in [s for s, _, _ in found]


def test_compose_placeholders_are_checked(valid):
    defn, allowed = valid
    defn["steps"].append({"id": "step_9", "card": "core.compose", "inputs": {"template": "Hi {{step_42.name}}"}})
    assert [(s, f) for s, f, _ in problems(defn, allowed)] == [("step_9", "template")]


def test_duplicate_step_ids_are_refused(valid):
    defn, allowed = valid
    defn["steps"].append(copy.deepcopy(defn["steps"][0]))
    assert any("share the id" in m for _, _, m in problems(defn, allowed))


def test_the_flow_must_start_with_an_event(valid):
    defn, allowed = valid
    defn["event"] = None
    assert problems(defn, allowed)[0][0] == "trigger"


def test_an_event_card_cannot_be_a_step(valid):
    defn, allowed = valid
    defn["steps"].append({"id": "step_10", "card": "qualtrics.new_response", "configuration": defn["event"]["configuration"],
                          "options": {"survey_id": "SV_1"}})
    assert ("step_10", None) in [(s, f) for s, f, _ in problems(defn, allowed)]


def test_a_literal_of_the_wrong_type_is_refused(valid):
    defn, allowed = valid
    defn["steps"].append({"id": "step_11", "card": "core.for_each", "inputs": {"list": "not a list"}, "steps": []})
    assert [(s, f) for s, f, _ in problems(defn, allowed)] == [("step_11", "list")]


def test_a_non_object_definition_is_refused():
    assert problems(["nope"], set())[0][0] == "flow"


def http_step(configuration=None) -> dict:
    step = {"id": "step_9", "card": "http.request", "options": {"method": "GET"},
            "inputs": {"url": "https://api.example.com/items"}}
    if configuration is not None:
        step["configuration"] = configuration
    return step


def test_a_card_whose_connection_is_optional_may_have_none(valid):
    defn, allowed = valid
    defn["steps"].append(http_step())
    defn["steps"].append({**http_step(None), "id": "step_10", "configuration": None})
    assert problems(defn, allowed) == []


def test_an_optional_connection_that_is_given_is_checked_like_a_required_one(valid):
    defn, allowed = valid
    defn["steps"].append(http_step(12345))
    [(step, field, message)] = problems(defn, allowed)
    assert (step, field) == ("step_9", "configuration") and "does not exist in your team" in message
    defn["steps"][-1]["configuration"] = "12"
    assert [(s, f) for s, f, _ in problems(defn, allowed)] == [("step_9", "configuration")]


def test_an_optional_connection_must_be_of_the_cards_connector(valid):
    defn, _ = valid
    qualtrics_id = defn["steps"][0]["configuration"]
    defn["steps"].append(http_step(qualtrics_id))
    [(step, field, message)] = problems(defn, {qualtrics_id: "qualtrics"})
    assert (step, field) == ("step_9", "configuration") and "is not a HTTP Request connection" in message
    defn["steps"][-1]["configuration"] = 77
    assert problems(defn, {qualtrics_id: "qualtrics", 77: "http"}) == []
