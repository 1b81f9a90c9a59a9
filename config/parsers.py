"""Request parsers of the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any flow definition (cards nest at most 6 levels), far below Python's
# recursion limit, which both decoding and saving a JSON document run into.
MAX_JSON_DEPTH = 100


def json_depth_ok(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


class JSONObjectParser(JSONParser):
    """JSON whose top level is an object: every API body here is one, and views read it with
    `.get()`, so `null`, a list or a bare value is refused with a 400 up front, as is a
    document nested deeper than MAX_JSON_DEPTH."""

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = f"The request body is nested more than {MAX_JSON_DEPTH} levels deep."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep) from None
        if not json_depth_ok(data):
            raise ParseError(too_deep)
        if not isinstance(data, dict):
            raise ParseError("The request body must be a JSON object.")
        return data
