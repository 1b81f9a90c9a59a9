"""`{{step.output}}` placeholders in the text inputs of cards that send things out.

The engine resolves an input mapped to an output, but text typed around placeholders (the way
Compose takes it) is filled in by the card itself, with `render_template` and the run's `resolve`.
Outside a run (no `resolve`) text is left as typed.

A JSON body or card is filled in without breaking its syntax: the template is read as JSON first and
each placeholder is filled in inside the strings that hold it (a string that is only a placeholder
takes the value itself, a number or an object); only a template that is not JSON until filled in
(`{"n": {{step_1.count}}}`) is filled in as text and then read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.functions import PLACEHOLDER_RE, render_template
from connectors.specs import CardInputError, RunContext


def fill(ctx: RunContext, value: Any) -> Any:
    """Text with its placeholders filled in; anything else as it is."""
    if isinstance(value, str) and ctx.resolve is not None and "{{" in value:
        return render_template(value, ctx.resolve)
    return value


def _fill_json(node: Any, resolve: Callable[[str], Any]) -> Any:
    if isinstance(node, str):
        whole = PLACEHOLDER_RE.fullmatch(node.strip())
        if whole:
            return resolve(whole.group(1))
        return render_template(node, resolve) if "{{" in node else node
    if isinstance(node, list):
        return [_fill_json(item, resolve) for item in node]
    if isinstance(node, dict):
        return {_fill_json(key, resolve) if isinstance(key, str) else key: _fill_json(item, resolve)
                for key, item in node.items()}
    return node


def fill_json(ctx: RunContext, value: Any, *, what: str) -> Any:
    """A JSON value from an input: an object or list as given, or JSON text with placeholders."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return _fill_json(value, ctx.resolve) if ctx.resolve is not None else value
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    else:
        return _fill_json(parsed, ctx.resolve) if ctx.resolve is not None else parsed
    text = fill(ctx, value)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise CardInputError(f"{what} is not valid JSON{' once its placeholders are filled in' if text != value else ''}: "
                             f"{exc}") from None
