"""Qualtrics' published rate limits and which calls count against which limit.

The figures and their sources are in docs/qualtrics-api.md, section "Rate limits". The client's
shared rate limiter and the sandbox's enforcement both read them from here, so they agree on
what a limit covers. `settings.QUALTRICS_RATE_LIMITS` replaces any figure by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

BRAND = "brand"
# Qualtrics counts every call of a brand against 3000 a minute (docs/qualtrics-api.md).
BRAND_PER_MINUTE = 3000
# How many seconds' worth of calls may go out at once. Qualtrics does not publish its burst
# allowance; two seconds' worth keeps bursts small whichever window it uses.
BURST_SECONDS = 2.0


@dataclass(frozen=True)
class EndpointLimit:
    name: str
    method: str
    pattern: re.Pattern[str]
    per_minute: int


def _limit(name: str, method: str, pattern: str, per_minute: int) -> EndpointLimit:
    return EndpointLimit(name, method, re.compile(pattern + r"\Z"), per_minute)


# Endpoints with a published limit lower than the brand's (docs/qualtrics-api.md). The most
# specific pattern comes first: a call counts against the first one it matches.
ENDPOINT_LIMITS = (
    _limit("export-file", "GET", r"surveys/[^/]+/export-responses/[^/]+/file", 100),
    _limit("export-progress", "GET", r"surveys/[^/]+/export-responses/[^/]+", 1000),
    _limit("export-start", "POST", r"surveys/[^/]+/export-responses", 100),
)


def limits_for(method: str, api_path: str, overrides: Mapping[str, int] | None = None) -> list[tuple[str, int]]:
    """(limit name, requests per minute) for each limit a call counts against: the brand's, and
    its endpoint's when that has one. `api_path` is relative to /API/v3/, without a query."""
    overrides = overrides or {}
    found = [(BRAND, int(overrides.get(BRAND, BRAND_PER_MINUTE)))]
    path = api_path.strip("/")
    for limit in ENDPOINT_LIMITS:
        if limit.method == method.upper() and limit.pattern.match(path):
            found.append((limit.name, int(overrides.get(limit.name, limit.per_minute))))
            break
    return found
