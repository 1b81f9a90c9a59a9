"""Function cards (If/Else, Continue If, For Each, Compose) and the pure helpers the engine calls.

The engine owns control flow: it evaluates If/Else and Continue If with `evaluate_condition`,
iterates For Each over `iterate_list(...)`, and renders Compose with `render_template`. The run()
functions here do the same for a single step, so a function card can also be run like any other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext, choices

OPERATORS = choices(
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("greater_than", "is greater than"),
    ("less_than", "is less than"),
    ("is_empty", "is empty"),
    ("is_not_empty", "is not empty"),
    ("is_true", "is true"),
    ("is_false", "is false"),
)
UNARY_OPERATORS = frozenset({"is_empty", "is_not_empty", "is_true", "is_false"})
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", ""})

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+)\s*\}\}")


class ConditionError(CardInputError):
    pass


# Conditions ---------------------------------------------------------------------------------


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        # Compare naive and aware values on the same footing (Qualtrics dates are UTC).
        return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def as_text(value: Any) -> str:
    """How a value reads inside text: no 'None', JSON for objects and lists, 3 rather than 3.0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict), default=str)
    return str(value)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _as_bool(left) is not None and _as_bool(left) == _as_bool(right)
    left_n, right_n = _as_number(left), _as_number(right)
    if left_n is not None and right_n is not None:
        return left_n == right_n
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        if isinstance(right, str) and not isinstance(left, str):
            try:
                right = json.loads(right)
            except ValueError:
                return False
        return left == right
    left_d, right_d = _as_datetime(left), _as_datetime(right)
    if left_d is not None and right_d is not None:
        return left_d == right_d  # "…T10:00:00Z" and "…T12:00:00+02:00" are the same moment
    return as_text(left) == as_text(right)


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, (list, tuple)):
        return any(_equal(item, right) for item in left)
    if isinstance(left, dict):
        return as_text(right) in left
    return as_text(right) in as_text(left)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return len(value) == 0
    return False


def _compare(left: Any, right: Any, operator: str) -> bool:
    left_n, right_n = _as_number(left), _as_number(right)
    if left_n is not None and right_n is not None:
        return left_n > right_n if operator == "greater_than" else left_n < right_n
    left_d, right_d = _as_datetime(left), _as_datetime(right)
    if left_d is not None and right_d is not None:
        return left_d > right_d if operator == "greater_than" else left_d < right_d
    # Text that is neither a number nor a date (a free-text answer like "six") has no order:
    # it is neither greater nor less, rather than a failed run.
    return False


# The operators that hold when their positive counterpart does not.
NEGATED = {"not_equals": "equals", "not_contains": "contains"}


def evaluate_condition(left: Any, operator: str, right: Any = None) -> bool:
    """True when `left <operator> right` holds. Only an unknown operator raises ConditionError.

    Missing, empty and skipped values are values: `is empty` holds for None, blank text, [] and {};
    a comparison with an empty side is false (and its negation, does not equal / does not contain,
    true), because a skipped NPS question is neither 0 nor equal to anything. Numbers compare as
    numbers even when one side is text ("6" equals 6), dates in text compare as moments, true/false
    compare as booleans ("True" equals True), and `contains` looks inside lists and text.
    Greater than and less than hold only between two numbers or two dates.
    """
    if operator in NEGATED:
        return not evaluate_condition(left, NEGATED[operator], right)
    if operator == "is_empty":
        return _is_empty(left)
    if operator == "is_not_empty":
        return not _is_empty(left)
    if operator == "is_true":
        return _as_bool(left) is True
    if operator == "is_false":
        return _as_bool(left) is False
    if operator not in ("equals", "contains", "greater_than", "less_than"):
        known = ", ".join(c.value for c in OPERATORS)
        raise ConditionError(f"Unknown operator '{operator}'. Use one of: {known}.")
    if _is_empty(left) or _is_empty(right):
        return False
    if operator == "equals":
        return _equal(left, right)
    if operator == "contains":
        return _contains(left, right)
    return _compare(left, right, operator)


# Templates and lists ------------------------------------------------------------------------


def template_refs(template: str) -> list[str]:
    """The `step_id.output_key` references a template uses, in order (for flow validation)."""
    return PLACEHOLDER_RE.findall(template or "")


def render_template(template: str, resolve: Callable[[str], Any]) -> str:
    """Replace each `{{step_id.output_key}}` with `resolve("step_id.output_key")` as text.

    Whatever `resolve` raises (an unknown reference, say) propagates to the caller.
    """
    if template is None:
        return ""
    return PLACEHOLDER_RE.sub(lambda m: as_text(resolve(m.group(1))), str(template))


def iterate_list(value: Any) -> list[Any]:
    """The items For Each walks: a list, a JSON list in text, or nothing for an empty value."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    raise CardInputError(f"For Each needs a list, not {type(value).__name__} {as_text(value)[:60]!r}.")


# Cards --------------------------------------------------------------------------------------


def _condition_inputs() -> tuple[Field, ...]:
    return (
        Field("left", "Value", required=True, help="The value to test, usually an output of an earlier card."),
        Field("operator", "Operator", required=True, default="equals", choices=OPERATORS),
        Field(
            "right",
            "Compare with",
            help="Not used by is empty, is not empty, is true and is false. Numbers compare as numbers.",
        ),
    )


def _run_condition(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {"result": evaluate_condition(inputs.get("left"), inputs.get("operator") or "equals", inputs.get("right"))}


def _run_compose(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    template = inputs.get("template") or ""
    if ctx.resolve is None:
        if template_refs(template):
            raise CardInputError("Compose needs the flow's outputs to fill in its placeholders.")
        return {"text": str(template)}
    return {"text": render_template(template, ctx.resolve)}


def _run_for_each(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    items = iterate_list(inputs.get("list"))
    return {"item": items[0] if items else None, "index": 0 if items else None}


RESULT = Field("result", "Result", type="boolean", help="Whether the condition held.")

IF_ELSE = register(
    Card(
        key="core.if_else",
        name="If/Else",
        description="Run one set of steps when a condition holds and another when it does not.",
        kind="function",
        connector="core",
        group="Logic",
        inputs=_condition_inputs(),
        outputs=(RESULT,),
        run=_run_condition,
    )
)

CONTINUE_IF = register(
    Card(
        key="core.continue_if",
        name="Continue If",
        description="Stop the run here, successfully, unless a condition holds.",
        kind="function",
        connector="core",
        group="Logic",
        inputs=_condition_inputs(),
        outputs=(RESULT,),
        run=_run_condition,
    )
)

FOR_EACH = register(
    Card(
        key="core.for_each",
        name="For Each",
        description="Run the steps inside once for every item of a list.",
        kind="function",
        connector="core",
        group="Logic",
        inputs=(Field("list", "List", type="list", required=True, help="A list output of an earlier card."),),
        outputs=(
            Field("item", "Item", type="object", help="The current item."),
            Field("index", "Index", type="number", help="The position of the current item, from 0."),
        ),
        run=_run_for_each,
    )
)

COMPOSE = register(
    Card(
        key="core.compose",
        name="Compose",
        description="Build text from fixed words and earlier outputs.",
        kind="function",
        connector="core",
        group="Text",
        inputs=(
            Field(
                "template",
                "Template",
                required=True,
                help="Text with placeholders such as {{trigger.recipient_name}} (step id, a dot, output key).",
            ),
        ),
        outputs=(Field("text", "Text"),),
        run=_run_compose,
    )
)
