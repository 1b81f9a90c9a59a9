"""Values mapped into card inputs become the types the card's fields declare."""

from __future__ import annotations

import pytest

from connectors import registry
from connectors.coercion import coerce_inputs, require_something
from connectors.specs import CardInputError, RunContext


def create_contact():
    return registry.get("qualtrics.create_contact")


@pytest.mark.parametrize(
    ("value", "sent"),
    [(5, "5"), (5.0, "5"), (2.5, "2.5"), (True, "true"), (False, "false"), ("crm-1", "crm-1"), (None, None)],
)
def test_numbers_and_booleans_into_a_text_field_become_text(value, sent):
    coerced, problems = coerce_inputs(create_contact(), {"external_reference": value})

    assert coerced["external_reference"] == sent
    assert problems == []


def test_lists_and_objects_into_a_text_field_become_json_text():
    coerced, _ = coerce_inputs(create_contact(), {"first_name": ["Ada", "B"], "last_name": {"a": 1}})

    assert (coerced["first_name"], coerced["last_name"]) == ('["Ada","B"]', '{"a":1}')


@pytest.mark.parametrize(("value", "number"), [("12", 12), (" 1.5 ", 1.5), ("-3", -3), ("", None), (7, 7)])
def test_text_into_a_number_field_is_parsed(value, number):
    from connectors.specs import Card, Field

    card = Card(key="t.n", name="N", description="", kind="action", connector="t", group="t",
                inputs=(Field("limit", "Limit", type="number"),))
    coerced, problems = coerce_inputs(card, {"limit": value})

    assert coerced["limit"] == number
    assert problems == []


@pytest.mark.parametrize("value", ["twelve", "1,5", True, [1]])
def test_text_that_is_not_a_number_is_refused_with_the_field_label(value):
    from connectors.specs import Card, Field

    card = Card(key="t.n", name="N", description="", kind="action", connector="t", group="t",
                inputs=(Field("limit", "Limit", type="number"),))
    coerced, problems = coerce_inputs(card, {"limit": value})

    assert coerced["limit"] is None
    assert len(problems) == 1 and problems[0].startswith("Limit must be a number, not ")


@pytest.mark.parametrize(("value", "flag"), [("yes", True), ("false", False), (1, True), (0, False), ("", None)])
def test_text_and_0_or_1_into_a_boolean_field_become_true_or_false(value, flag):
    coerced, problems = coerce_inputs(create_contact(), {"unsubscribed": value})

    assert (coerced["unsubscribed"], problems) == (flag, [])


def test_a_boolean_field_refuses_other_words():
    _, problems = coerce_inputs(create_contact(), {"unsubscribed": "maybe"})

    assert problems == ["Unsubscribed must be true or false, not 'maybe'."]


def test_inputs_the_card_does_not_declare_are_kept():
    coerced, _ = coerce_inputs(create_contact(), {"extra": 5})

    assert coerced == {"extra": 5}


def test_an_all_empty_body_has_nothing_to_send():
    with pytest.raises(CardInputError) as caught:
        require_something({"name": "", "type": None, "tags": []}, create_contact().inputs[:2], action="Update Group")

    assert str(caught.value).startswith("Nothing to send: every input of Update Group is empty. Fill in at least one of")


@pytest.mark.parametrize(
    ("key", "options", "inputs"),
    [
        ("qualtrics.create_contact", {"directory_id": "POOL_1"}, {"first_name": "  ", "embedded_data": {}}),
        ("qualtrics.update_contact", {"directory_id": "POOL_1"}, {"contact_id": "CID_1"}),
        ("qualtrics.create_contact_in_mailing_list", {"directory_id": "POOL_1", "mailing_list_id": "CG_1"}, {}),
        ("qualtrics.update_contact_in_mailing_list", {"directory_id": "POOL_1", "mailing_list_id": "CG_1"},
         {"contact_id": "CID_1", "email": None}),
        ("qualtrics.update_user", {}, {"user_id": "UR_1", "email": ""}),
        ("qualtrics.update_group", {}, {"group_id": "GR_1", "name": " "}),
        ("qualtrics.update_survey", {}, {"survey_id": "SV_1", "name": ""}),
    ],
)
def test_a_write_whose_inputs_all_resolve_to_nothing_is_refused_before_any_request(key, options, inputs):
    class NoCalls:
        def __getattr__(self, name):
            raise AssertionError(f"{name} was called")

    with pytest.raises(CardInputError) as caught:
        registry.get(key).run(RunContext(client=NoCalls()), options, inputs)

    assert str(caught.value).startswith("Nothing to send:")
