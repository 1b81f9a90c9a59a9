"""Small helpers the Qualtrics card modules share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.coercion import TEXT_TYPES, as_text
from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext


def snake_case(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def qualtrics_card(
    *, name: str, description: str, group: str, kind: str = "action", key: str | None = None, **kw: Any
) -> Card:
    return register(
        Card(
            key=key or f"qualtrics.{snake_case(name)}",
            name=name,
            description=description,
            kind=kind,
            connector="qualtrics",
            group=group,
            needs_configuration=True,
            **kw,
        )
    )


def client_of(ctx: RunContext):
    if ctx.client is None:
        raise CardInputError("Choose a Qualtrics configuration for this card.")
    return ctx.client


def required_text(values: Mapping[str, Any], key: str, label: str) -> str:
    value = values.get(key)
    text = "" if value is None else str(value).strip()
    if not text:
        raise CardInputError(f"{label} is required.")
    return text


def as_object(value: Any, label: str) -> dict[str, Any] | None:
    """An object input: a dict, a JSON object written as text, or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise CardInputError(f'{label} must be a JSON object, like {{"key": "value"}}.') from None
    if not isinstance(value, dict):
        raise CardInputError(f"{label} must be an object (key and value pairs), not {type(value).__name__}.")
    return value


def as_bool(value: Any, label: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    word = str(value).strip().casefold()
    if word in ("true", "yes", "1"):
        return True
    if word in ("false", "no", "0"):
        return False
    raise CardInputError(f"{label} must be true or false, not {value!r}.")


def api_fields(inputs: Mapping[str, Any], api_keys: Mapping[str, str], fields: Iterable[Field]) -> dict[str, Any]:
    """Qualtrics JSON body from the inputs that were given, converted to each field's type.

    Empty inputs are left out, so an update only changes what the flow filled in.
    """
    body: dict[str, Any] = {}
    for field in fields:
        if field.key not in api_keys:
            continue
        value = inputs.get(field.key)
        if field.type == "boolean":
            value = as_bool(value, field.label)
        elif field.type == "object":
            value = as_object(value, field.label)
        elif field.type in TEXT_TYPES:
            # A number mapped into a text field goes out as text: Qualtrics refuses 5 for "5".
            value = as_text(value)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        body[api_keys[field.key]] = value
    return body


def pick(record: Mapping[str, Any] | None, keys: Mapping[str, str]) -> dict[str, Any]:
    """Outputs from a Qualtrics record: {output key: record[api key]} (None when absent)."""
    record = record or {}
    return {out: record.get(api) for out, api in keys.items()}
