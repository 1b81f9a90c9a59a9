"""In-memory state of the sandbox: brands, tokens, their data, faults and what was recorded.

One `SandboxState` holds everything behind one re-entrant lock; the HTTP handlers take the lock
for each call, so the state is consistent while the server answers from many threads.
"""

from __future__ import annotations

import random
import string
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 15) -> str:
    """Qualtrics-looking ids: a type prefix and 15 letters or digits (SV_, R_, UR_, CID_...)."""
    return prefix + "".join(random.choices(_ALPHABET, k=length))


def new_request_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime, *, millis: bool = False) -> str:
    """Qualtrics writes UTC timestamps as 2023-05-03T15:23:28Z (recordedDate with milliseconds)."""
    moment = moment.astimezone(UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(moment: datetime) -> int:
    """XM Directory dates are epoch milliseconds (qualtrics-api.md §8)."""
    return int(moment.timestamp() * 1000)


def parse_iso(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass
class Token:
    token: str
    brand_id: str
    user_id: str
    datacenter: str
    api_access: bool = True
    brand_admin: bool = True


@dataclass
class Response:
    response_id: str
    values: dict[str, Any]
    labels: dict[str, Any]
    displayed_fields: list[str]
    displayed_values: dict[str, list[Any]]
    recorded_at: datetime
    seq: int

    def as_result(self) -> dict[str, Any]:
        return {
            "responseId": self.response_id,
            "values": dict(self.values),
            "labels": dict(self.labels),
            "displayedFields": list(self.displayed_fields),
            "displayedValues": {k: list(v) for k, v in self.displayed_values.items()},
        }


@dataclass
class Survey:
    survey_id: str
    name: str
    owner_id: str
    questions: dict[str, dict[str, Any]]
    embedded_data: list[str] = field(default_factory=list)
    is_active: bool = True
    created_at: datetime = field(default_factory=now)
    modified_at: datetime = field(default_factory=now)
    expiration: dict[str, Any] = field(default_factory=lambda: {"startDate": None, "endDate": None})
    responses: dict[str, Response] = field(default_factory=dict)
    seq: int = 0
    deleted_responses: int = 0


@dataclass
class MailingList:
    mailing_list_id: str
    name: str
    owner_id: str
    created_at: datetime = field(default_factory=now)
    modified_at: datetime = field(default_factory=now)
    # contact id -> {"contactLookupId", "unsubscribed"}
    members: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Directory:
    directory_id: str
    name: str
    is_default: bool = True
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    mailing_lists: dict[str, MailingList] = field(default_factory=dict)
    dedupe_on_email: bool = True
    # Lower-case email -> the first contact with it (`api.contact_by_email`); None when a change
    # of a contact's email, or a deletion, means it must be built again.
    email_index: dict[str, str] | None = field(default=None, repr=False, compare=False)


@dataclass
class Export:
    progress_id: str
    survey_id: str
    file_format: str
    options: dict[str, Any]
    responses: list[Response]
    polls: int = 0
    status: str = "inProgress"
    file_id: str | None = None
    continuation_token: str | None = None
    issue_token: bool = False
    watermark: int = 0
    fail: bool = False


@dataclass
class Brand:
    brand_id: str
    datacenter: str
    admin_user_id: str = ""
    user_types: dict[str, str] = field(default_factory=dict)  # UT_ id -> name
    group_types: dict[str, str] = field(default_factory=dict)  # GT_ id -> name
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    surveys: dict[str, Survey] = field(default_factory=dict)
    directories: dict[str, Directory] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    exports: dict[str, Export] = field(default_factory=dict)
    export_files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)  # id -> (survey, body, type)
    continuation_tokens: dict[str, tuple[str, int]] = field(default_factory=dict)  # token -> (survey, seq)


@dataclass
class Fault:
    """The next `remaining` calls under `path_prefix` get `status` instead of being served."""

    path_prefix: str
    status: int
    remaining: int
    retry_after: float | None = None
    method: str | None = None
    message: str | None = None
    # Serve the call (and keep its change) first, then answer `status`: a server or proxy that
    # failed after applying a write.
    apply: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and path.startswith(self.path_prefix) and self.method in (None, method)


@dataclass
class Latency:
    path_prefix: str
    seconds: float
    method: str | None = None
    remaining: int | None = None  # None: every matching call

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and path.startswith(self.path_prefix)
            and self.method in (None, method)
        )


class SandboxState:
    """Everything the sandbox knows. Take `lock` around reads and writes."""

    REQUEST_LOG_SIZE = 5000
    DELIVERY_LOG_SIZE = 1000  # the last attempts kept; `delivery_count` counts all of them
    EXPORT_FILES_KEPT = 50

    def __init__(self, *, page_size: int = 100, export_polls: int = 3) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.default_page_size = page_size
        self.default_export_polls = export_polls
        self.generation = 0
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.brands: dict[str, Brand] = {}
            self.tokens: dict[str, Token] = {}
            self.faults: list[Fault] = []
            self.latencies: list[Latency] = []
            self.request_log: deque[dict[str, Any]] = deque(maxlen=self.REQUEST_LOG_SIZE)
            self.deliveries: deque[dict[str, Any]] = deque(maxlen=self.DELIVERY_LOG_SIZE)
            self.delivery_count = 0
            self.drop_deliveries = 0
            self.failing_exports = 0
            self.page_size = self.default_page_size
            self.export_polls = self.default_export_polls
            self.next_page_base: str | None = None
            # Requests per minute by limit name (connectors/qualtrics/limits.py); empty: no limits.
            self.rate_limits: dict[str, int] = {}
            self.rate_buckets: dict[tuple[str, str], tuple[float, float]] = {}
            self.changed.notify_all()

    # Brands and tokens ------------------------------------------------------------------------

    def add_brand(self, brand_id: str, datacenter: str) -> Brand:
        with self.lock:
            brand = self.brands.get(brand_id)
            if brand is None:
                brand = Brand(brand_id=brand_id, datacenter=datacenter)
                self.brands[brand_id] = brand
            return brand

    def add_token(
        self,
        token: str,
        *,
        brand_id: str,
        datacenter: str | None = None,
        user_id: str | None = None,
        api_access: bool = True,
        brand_admin: bool = True,
    ) -> Token:
        with self.lock:
            brand = self.brands.get(brand_id) or self.add_brand(brand_id, datacenter or "sandbox1")
            entry = Token(
                token=token,
                brand_id=brand.brand_id,
                user_id=user_id or brand.admin_user_id,
                datacenter=datacenter or brand.datacenter,
                api_access=api_access,
                brand_admin=brand_admin,
            )
            self.tokens[token] = entry
            return entry

    # Faults -----------------------------------------------------------------------------------

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
            self.faults = [f for f in self.faults if f.remaining > 0]
            return None

    def take_rate_limit(self, brand_id: str, method: str, path: str) -> float | None:
        """None when the brand's limits leave room for the call (it is counted), else the
        seconds until they do (the call is refused and not counted)."""
        from connectors.qualtrics import limits

        with self.lock:
            if not self.rate_limits:
                return None
            now = time.monotonic()
            counted = [
                (name, per_minute)
                for name, per_minute in limits.limits_for(method, path, self.rate_limits)
                if name in self.rate_limits
            ]
            updates, longest = [], 0.0
            for name, per_minute in counted:
                rate = per_minute / 60.0
                capacity = max(1.0, per_minute * limits.BURST_SECONDS / 60.0)
                tokens, updated = self.rate_buckets.get((brand_id, name), (capacity, now))
                tokens = min(capacity, tokens + (now - updated) * rate)
                if tokens < 1:
                    longest = max(longest, (1 - tokens) / rate)
                updates.append(((brand_id, name), tokens))
            if longest > 0:
                for key, tokens in updates:
                    self.rate_buckets[key] = (tokens, now)
                return longest
            for key, tokens in updates:
                self.rate_buckets[key] = (tokens - 1, now)
            return None

    def take_latency(self, method: str, path: str) -> float:
        with self.lock:
            for latency in self.latencies:
                if latency.matches(method, path):
                    if latency.remaining is not None:
                        latency.remaining -= 1
                    return latency.seconds
            return 0.0

    # Records ----------------------------------------------------------------------------------

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.request_log.append(entry)

    def record_delivery(self, entry: dict[str, Any], generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return  # the state was reset while this delivery was in flight
            self.deliveries.append(entry)
            self.delivery_count += 1
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True
