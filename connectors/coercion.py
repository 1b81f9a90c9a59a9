"""Values mapped into card inputs, turned into the types the card (and its API) expects.

A flow maps an earlier card's output into an input, and the types need not agree: a number from
a form goes into a text field, or a text answer into a number field. Qualtrics refuses a number
where it wants text (an extRef of 5 is a 400; it must be "5"), so conversion happens before any
request, and what cannot be converted is reported in words the flow author understands.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.specs import Card, CardInputError, Field

TEXT_TYPES = frozenset({"text", "date"})
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def as_text(value: Any) -> Any:
    """Text for a text field: true/false, 5 (not 5.0), JSON for lists and objects; None stays."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def as_number(value: Any, label: str) -> tuple[Any, str | None]:
    """(number or None, problem or None) for a number field."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, f"{label} must be a number, not {'true' if value else 'false'}."
    if isinstance(value, (int, float)):
        return value, None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, None
        if _NUMBER.fullmatch(text):
            number = float(text)
            if math.isfinite(number):
                return (int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number), None
        return None, f"{label} must be a number, not {value!r}."
    return None, f"{label} must be a number, not a {type(value).__name__}."


def as_boolean(value: Any, label: str) -> tuple[Any, str | None]:
    if value is None or isinstance(value, bool):
        return value, None
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value), None
    if isinstance(value, str):
        word = value.strip().casefold()
        if not word:
            return None, None
        if word in _TRUE:
            return True, None
        if word in _FALSE:
            return False, None
    return None, f"{label} must be true or false, not {value!r}."


def coerce_inputs(card: Card, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Each declared input converted to its field's type; keys the card does not declare are
    kept as they are. Returns the converted inputs and one message per value that could not be."""
    coerced = dict(inputs)
    problems: list[str] = []
    for field in card.inputs:
        if field.key not in inputs:
            continue
        value = inputs[field.key]
        if field.type in TEXT_TYPES:
            coerced[field.key] = as_text(value)
        elif field.type == "number":
            coerced[field.key], problem = as_number(value, field.label)
            if problem:
                problems.append(problem)
        elif field.type == "boolean":
            coerced[field.key], problem = as_boolean(value, field.label)
            if problem:
                problems.append(problem)
    return coerced, problems


def is_nothing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict, set)):
        return len(value) == 0
    return False


def require_something(body: Mapping[str, Any], fields: Iterable[Field], *, action: str) -> None:
    """CardInputError "Nothing to send: ..." when every value of `body` is empty, before a
    request that would change nothing (an update) or make an empty record (a create)."""
    if any(not is_nothing(v) for v in body.values()):
        return
    labels = ", ".join(f.label for f in fields)
    raise CardInputError(
        f"Nothing to send: every input of {action} is empty. Fill in at least one of {labels}, or check that "
        "the outputs they are mapped from have values."
    )
