"""Request parsers of the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any flow definition (cards nest at most 6 levels), far below Python's
# recursion limit, which both decoding and saving a JSON document run into.
MAX_JSON_DEPTH = 100
TOO_DEEP = f"is nested more than {MAX_JSON_DEPTH} levels deep"
# PostgreSQL refuses NUL in text and jsonb, so such a document would fail when saved.
HAS_NUL = "contains a NUL (\\u0000) character, which cannot be stored"


def json_problem(data: Any, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON document cannot be stored (TOO_DEEP, HAS_NUL), or None."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return HAS_NUL
        elif isinstance(node, dict | list):
            if depth > limit:
                return TOO_DEEP
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node)
                stack.extend((value, depth + 1) for value in node.values())
            else:
                stack.extend((value, depth + 1) for value in node)
    return None


class JSONObjectParser(JSONParser):
    """JSON whose top level is an object: every API body here is one, and views read it with
    `.get()`, so `null`, a list or a bare value is refused with a 400 up front, as is a
    document json_problem() finds fault with."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The request body {TOO_DEEP}.") from None
        problem = json_problem(data)
        if problem:
            raise ParseError(f"The request body {problem}.")
        if not isinstance(data, dict):
            raise ParseError("The request body must be a JSON object.")
        return data
