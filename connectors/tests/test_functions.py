from __future__ import annotations

import pytest

from connectors import registry
from connectors.functions import (
    ConditionError,
    evaluate_condition,
    iterate_list,
    render_template,
    template_refs,
)
from connectors.specs import CardInputError, RunContext


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        ("Ada", "equals", "Ada", True),
        ("Ada", "equals", "ada", False),
        (1, "equals", "1", True),
        ("1.0", "equals", 1, True),
        (True, "equals", "true", True),
        ("True", "equals", True, True),
        (False, "equals", "yes", False),
        (None, "equals", "", False),
        ({"a": 1}, "equals", '{"a": 1}', True),
        ("Ada", "not_equals", "Grace", True),
        (2, "not_equals", "2", False),
        ("automation platform", "contains", "platform", True),
        (["a", "b"], "contains", "b", True),
        ([1, 2], "contains", "2", True),
        ({"plan": "gold"}, "contains", "plan", True),
        ("abc", "not_contains", "z", True),
        (10, "greater_than", "9", True),
        ("9", "greater_than", 10, False),
        (3, "less_than", 4.5, True),
        ("2026-01-02", "greater_than", "2026-01-01T23:00:00Z", True),
        ("2026-01-01T10:00:00+02:00", "less_than", "2026-01-01T09:00:00Z", True),
        (None, "is_empty", None, True),
        ("  ", "is_empty", None, True),
        ([], "is_empty", None, True),
        ({}, "is_empty", None, True),
        (0, "is_empty", None, False),
        ("x", "is_not_empty", None, True),
        (True, "is_true", None, True),
        ("Yes", "is_true", None, True),
        (1, "is_true", None, True),
        ("maybe", "is_true", None, False),
        ("false", "is_false", None, True),
        (0, "is_false", None, True),
        (None, "is_false", None, True),
        ("maybe", "is_false", None, False),
    ],
)
def test_evaluate_condition(left, operator, right, expected):
    assert evaluate_condition(left, operator, right) is expected


BINARY_OPERATORS = ["equals", "not_equals", "contains", "not_contains", "greater_than", "less_than"]
EMPTY_VALUES = [None, "", "   ", [], {}]


@pytest.mark.parametrize("operator", BINARY_OPERATORS)
@pytest.mark.parametrize("empty", EMPTY_VALUES, ids=repr)
def test_a_comparison_with_a_missing_or_empty_side_is_false_and_its_negation_true(operator, empty):
    expected = operator.startswith("not_")
    for left, right in ((empty, 6), (6, empty), (empty, "6"), ("Ada", empty), (empty, empty)):
        assert evaluate_condition(left, operator, right) is expected, (left, right)


@pytest.mark.parametrize(
    ("operator", "expected"),
    [("is_empty", True), ("is_not_empty", False), ("is_true", False), ("is_false", True)],
)
@pytest.mark.parametrize("empty", [None, "", " \t\n"], ids=repr)
def test_a_skipped_answer_is_empty_and_false(operator, expected, empty):
    assert evaluate_condition(empty, operator) is expected


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        (6, "equals", "6", True),
        ("6", "equals", 6.0, True),
        (" 6 ", "equals", 6, True),
        (6, "not_equals", "6", False),
        (6, "greater_than", "5", True),
        ("6", "greater_than", 10, False),
        ("6", "less_than", 10, True),
        (6, "contains", "6", True),
        (["6", "7"], "contains", 6, True),
        ([6, 7], "not_contains", "8", True),
        ("2026-03-05", "equals", "2026-03-05", True),
        ("2026-03-05T10:00:00Z", "equals", "2026-03-05T12:00:00+02:00", True),
        ("2026-03-05T10:00:00Z", "not_equals", "2026-03-05T10:00:01Z", True),
        ("2026-03-05", "less_than", "2026-03-05T00:00:01Z", True),
        ("2026-03-06T00:00:00Z", "greater_than", "2026-03-05", True),
        ("six", "greater_than", 5, False),
        ("six", "less_than", 5, False),
        ("Ada", "greater_than", "Grace", False),
        (True, "greater_than", 0, False),
        ("2026-03-05", "greater_than", 5, False),
        ({"a": 1}, "less_than", 2, False),
        (True, "equals", 1, True),
        (0, "is_empty", None, False),
        (0, "equals", "", False),
    ],
)
def test_mixed_types_compare_by_what_they_hold_and_never_raise(left, operator, right, expected):
    assert evaluate_condition(left, operator, right) is expected


def test_an_if_else_on_a_skipped_nps_answer_takes_the_else_branch():
    card = registry.get("core.if_else")
    assert card.run(RunContext(), {}, {"left": None, "operator": "greater_than", "right": 8}) == {"result": False}
    assert card.run(RunContext(), {}, {"left": None, "operator": "is_empty"}) == {"result": True}


def test_an_unknown_operator_lists_the_known_ones():
    with pytest.raises(ConditionError, match="Unknown operator 'matches'. Use one of: equals, not_equals"):
        evaluate_condition("a", "matches", "a")


def test_render_template_fills_placeholders_with_text():
    values = {
        "trigger.recipient_name": "Ada",
        "trigger.q.QID1": 4.0,
        "step_1.contacts": [{"id": 1}],
        "trigger.finished": True,
    }
    text = render_template(
        "Hi {{trigger.recipient_name}}, score {{ trigger.q.QID1 }}, {{step_1.contacts}}, done={{trigger.finished}}",
        values.__getitem__,
    )
    assert text == 'Hi Ada, score 4, [{"id": 1}], done=true'


def test_render_template_writes_nothing_for_an_empty_value_and_leaves_other_braces():
    assert render_template("[{{a.b}}] {not} {{ nope }}", lambda ref: None) == "[] {not} {{ nope }}"


def test_render_template_lets_an_unknown_reference_fail():
    with pytest.raises(KeyError):
        render_template("{{step_9.x}}", {}.__getitem__)


def test_template_refs_lists_the_references():
    assert template_refs("{{trigger.q.QID1}} and {{ step_2.text }}") == ["trigger.q.QID1", "step_2.text"]


def test_iterate_list_accepts_lists_json_lists_and_empty_values():
    assert iterate_list([1, 2]) == [1, 2]
    assert iterate_list('["a", "b"]') == ["a", "b"]
    assert iterate_list(None) == []
    with pytest.raises(CardInputError, match="For Each needs a list"):
        iterate_list({"a": 1})


def test_function_cards_are_declared_with_their_inputs_and_outputs():
    if_else = registry.get("core.if_else")
    assert if_else.kind == "function" and if_else.connector == "core" and not if_else.needs_configuration
    assert [f.key for f in if_else.inputs] == ["left", "operator", "right"]
    assert [c.value for c in if_else.input("operator").choices] == [
        "equals",
        "not_equals",
        "contains",
        "not_contains",
        "greater_than",
        "less_than",
        "is_empty",
        "is_not_empty",
        "is_true",
        "is_false",
    ]
    assert [f.key for f in registry.get("core.continue_if").inputs] == ["left", "operator", "right"]
    for_each = registry.get("core.for_each")
    assert [f.key for f in for_each.inputs] == ["list"] and for_each.input("list").type == "list"
    assert [f.key for f in for_each.outputs] == ["item", "index"]
    compose = registry.get("core.compose")
    assert [f.key for f in compose.inputs] == ["template"]
    assert [(f.key, f.type) for f in compose.outputs] == [("text", "text")]


def test_function_cards_run_on_their_own():
    ctx = RunContext(resolve={"trigger.recipient_name": "Ada"}.__getitem__)
    assert registry.get("core.if_else").run(ctx, {}, {"left": "3", "operator": "less_than", "right": 10}) == {
        "result": True
    }
    assert registry.get("core.compose").run(ctx, {}, {"template": "Hi {{trigger.recipient_name}}"}) == {
        "text": "Hi Ada"
    }
    assert registry.get("core.for_each").run(ctx, {}, {"list": ["x", "y"]}) == {"item": "x", "index": 0}
