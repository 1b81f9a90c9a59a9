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
        (None, "equals", "", True),
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


def test_comparing_text_with_a_number_says_why_it_cannot():
    with pytest.raises(ConditionError, match="both sides must be numbers, or both dates"):
        evaluate_condition("abc", "greater_than", 3)


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
