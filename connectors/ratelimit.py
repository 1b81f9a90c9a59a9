"""A rate limiter shared by every worker: token buckets in the database or in Redis.

Each limit is a bucket that refills at `per_minute / 60` tokens a second up to `capacity`. A call
takes one token from each bucket it counts against; when a bucket is empty the token is taken
anyway (the count goes below zero) and the caller is told how long to wait, so callers queue up
in order instead of racing. A caller that will not wait that long gives its tokens back.

Backends: `DatabaseStore` (the embedded default, one row per bucket updated in a transaction),
`RedisStore` (one Lua script per call, with Redis' clock), `MemoryStore` (one process). The shared
ones are taken from through `HeldStore`, which lets a busy process take room for its next few
calls at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bucket:
    key: str
    per_minute: float
    capacity: float
    label: str = ""

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0


def take(tokens: float, updated: float, now: float, bucket: Bucket, cost: float) -> tuple[float, float]:
    """The bucket's tokens after taking `cost` at `now`, and the seconds until they are back to 0."""
    tokens = min(bucket.capacity, tokens + max(0.0, now - updated) * bucket.rate) - cost
    wait = 0.0 if tokens >= 0 else -tokens / bucket.rate
    return tokens, wait


class Store(Protocol):
    def take(self, buckets: Sequence[Bucket], cost: float) -> list[float]:
        """Take `cost` tokens from each bucket (a negative cost gives them back); the waits."""


class MemoryStore:
    """Buckets in this process only: for tests and single-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, buckets: Sequence[Bucket], cost: float) -> list[float]:
        now = time.time()
        waits = []
        with self._lock:
            for bucket in buckets:
                tokens, updated = self._state.get(bucket.key, (bucket.capacity, now))
                tokens, wait = take(tokens, updated, now, bucket, cost)
                self._state[bucket.key] = (tokens, now)
                waits.append(wait)
        return waits

    def clear(self) -> None:
        with self._lock:
            self._state.clear()


class DatabaseStore:
    """Buckets as `connectors.RateLimitBucket` rows, all of a call's buckets in one transaction
    (row locks on PostgreSQL; SQLite's IMMEDIATE transactions serialize writers). Each bucket is
    taken from with one `UPDATE ... RETURNING` that computes what `take` does, so reading the row
    and writing it back are one statement, written once rather than built by the ORM per call."""

    def take(self, buckets: Sequence[Bucket], cost: float) -> list[float]:
        from django.db import connection, transaction

        from connectors.models import RateLimitBucket

        ordered = sorted(buckets, key=lambda b: b.key)  # one lock order, so no deadlock
        waits: dict[str, float] = {}
        least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
        table = connection.ops.quote_name(RateLimitBucket._meta.db_table)
        update = (f"UPDATE {table} SET tokens = {least}(%s, tokens + {greatest}(0, %s - updated) * %s) - %s, "
                  f"updated = {greatest}(updated, %s) WHERE {connection.ops.quote_name('key')} = %s RETURNING tokens")
        with transaction.atomic(), connection.cursor() as cursor:
            for bucket in ordered:
                now = time.time()
                cursor.execute(update, [bucket.capacity, now, bucket.rate, cost, now, bucket.key])
                row = cursor.fetchone()
                if row is None:
                    # First use of a bucket: another worker may be creating it at the same moment.
                    RateLimitBucket.objects.bulk_create(
                        [RateLimitBucket(key=bucket.key, tokens=bucket.capacity, updated=now)], ignore_conflicts=True
                    )
                    cursor.execute(update, [bucket.capacity, now, bucket.rate, cost, now, bucket.key])
                    row = cursor.fetchone()
                tokens = float(row[0])
                waits[bucket.key] = 0.0 if tokens >= 0 else -tokens / bucket.rate
        return [waits[b.key] for b in buckets]


class HeldStore:
    """A shared store taken from in blocks by a busy process, so that most of its calls cost no
    statement or round trip.

    When a call needs the shared store, a process that made calls on the same buckets with the
    room it took last (within the last two `hold_seconds`) also takes room for about as many more
    (never more than `hold_seconds` of the slowest bucket's rate), and spends it on its next calls
    without asking again. Nothing is lent ahead of the limit: room is held only when the shared
    buckets had it (a take that has to wait gives the extra back at once), and room still held
    `hold_seconds` after it was taken is dropped, not spent, so the calls of any interval stay
    within what the buckets allow. Room not yet spent is given back with the next take. Under a
    limit too slow to hold a whole token for `hold_seconds`, every call goes to the shared store
    as before.
    """

    def __init__(self, store: Store, *, hold_seconds: float = 0.1) -> None:
        self.store = store
        self.hold_seconds = hold_seconds
        self._lock = threading.Lock()
        # Per set of buckets: [room held, when it was taken (monotonic), calls since then].
        self._held: dict[tuple[str, ...], list[float]] = {}
        # Per set of buckets: taken while one of the process's threads takes from the shared store.
        self._taking: dict[tuple[str, ...], threading.Lock] = {}

    def take(self, buckets: Sequence[Bucket], cost: float) -> list[float]:
        if cost <= 0:  # a give-back goes straight to the shared buckets
            return self.store.take(buckets, cost)
        key = tuple(bucket.key for bucket in buckets)
        if self._spend(key, cost):
            return [0.0] * len(buckets)
        with self._lock:
            taking = self._taking.setdefault(key, threading.Lock())
        # One thread at a time takes a block for these buckets; the others wait for it and spend
        # from it. Each taking its own would find no block held, take room for one call, and
        # replace the block of the thread before: with eight threads, half the calls went to the
        # shared store instead of one in twenty.
        with taking:
            if self._spend(key, cost):
                return [0.0] * len(buckets)
            now = time.monotonic()
            with self._lock:
                held = self._held.pop(key, None)
            fresh = held is not None and now - held[1] < self.hold_seconds
            returned = held[0] if fresh else 0.0  # dropped when stale: it was taken too long ago
            # The calls made on the last block, if it is recent, tell how many the next one needs:
            # a steady caller asks once or twice per `hold_seconds`, not again from one.
            recent = held[2] + 1 if held is not None and now - held[1] < 2 * self.hold_seconds else 1
            most = int(min(bucket.rate for bucket in buckets) * self.hold_seconds)
            extra = float(min(most, recent))
            waits = self.store.take(buckets, cost + extra - returned)
            if extra and max(waits) > 0:
                # The buckets are short of room: hold none; this call waits its turn as any other.
                waits = self.store.take(buckets, -extra)
                extra = 0.0
            if extra:
                with self._lock:
                    self._held[key] = [extra, time.monotonic(), 0]
            return waits

    def _spend(self, key: tuple[str, ...], cost: float) -> bool:
        """Spends `cost` from the block held for `key` if it is fresh and has the room."""
        with self._lock:
            held = self._held.get(key)
            if held is not None and held[0] >= cost and time.monotonic() - held[1] < self.hold_seconds:
                held[0] -= cost
                held[2] += 1
                return True
        return False


# KEYS: bucket keys. ARGV: cost, then per_minute and capacity of each bucket. Redis' own clock
# is used so that workers on several machines agree on the time.
_REDIS_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local cost = tonumber(ARGV[1])
local waits = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i]) / 60
  local capacity = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', key, 'tokens', 'updated')
  local tokens = tonumber(state[1]) or capacity
  local updated = tonumber(state[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate) - cost
  redis.call('HSET', key, 'tokens', tostring(tokens), 'updated', tostring(now))
  redis.call('EXPIRE', key, math.ceil(capacity / rate) + 60)
  local wait = 0
  if tokens < 0 then wait = -tokens / rate end
  waits[i] = tostring(wait)
end
return waits
"""


class RedisStore:
    def __init__(self, url: str, *, client: Any = None) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url)
        self.client = client
        self._script = client.register_script(_REDIS_TAKE)

    def take(self, buckets: Sequence[Bucket], cost: float) -> list[float]:
        args: list[Any] = [cost]
        for bucket in buckets:
            args += [bucket.per_minute, bucket.capacity]
        waits = self._script(keys=[b.key for b in buckets], args=args)
        return [float(w) for w in waits]


@dataclass
class Reservation:
    """Room reserved for one call: wait `wait` seconds before sending, or `cancel()`."""

    wait: float
    limit: str = ""
    _give_back: Callable[[], None] | None = field(default=None, repr=False)

    def cancel(self) -> None:
        if self._give_back is not None:
            self._give_back()
            self._give_back = None


class RateLimiter:
    """Reserves room for a call in every bucket `buckets_for(method, url)` names."""

    def __init__(self, store: Store, buckets_for: Callable[[str, str], Sequence[Bucket]]) -> None:
        self.store = store
        self.buckets_for = buckets_for

    def reserve(self, method: str, url: str) -> Reservation:
        buckets = list(self.buckets_for(method, url))
        if not buckets:
            return Reservation(0.0)
        waits = self.store.take(buckets, 1.0)
        longest = max(range(len(buckets)), key=lambda i: waits[i])
        return Reservation(
            waits[longest],
            buckets[longest].label or buckets[longest].key,
            lambda: self.store.take(buckets, -1.0),
        )


def connection_key(*parts: str) -> str:
    """A short stable name for a connection (a token, say) that does not reveal it."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:20]


_memory = MemoryStore()
_stores: dict[str, Store] = {}


def memory_store() -> MemoryStore:
    """The process's memory store (tests empty it between cases)."""
    return _memory

_stores_lock = threading.Lock()


def store_for(backend: str, *, redis_url: str = "") -> Store | None:
    """The store for a backend name ("redis", "database", "memory", "off"); one per process."""
    backend = (backend or "").strip().lower()
    if backend in ("off", "none", ""):
        return None
    if backend == "memory":
        return _memory
    if backend == "database":
        return _stores.setdefault("database", HeldStore(DatabaseStore()))
    if backend == "redis":
        if not redis_url:
            raise ValueError("The redis rate limit backend needs REDIS_URL.")
        with _stores_lock:
            key = f"redis:{redis_url}"
            if key not in _stores:
                _stores[key] = HeldStore(RedisStore(redis_url))
            return _stores[key]
    raise ValueError(f"Unknown rate limit backend {backend!r}: use redis, database, memory or off.")
