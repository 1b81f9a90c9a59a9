"""Ids read from a request: ASCII digits within the database's integer range, or None.

`str.isdigit()` also accepts digits such as "²" that int() refuses, and an id past 64 bits
overflows the query on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any

MAX_ROW_ID = 2**63 - 1


def row_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        if not (text.isascii() and text.isdigit()):
            return None
        number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None
