"""The database store of the shared rate limiter takes from its buckets exactly as `take` says,
and a busy process takes room from it in blocks without ever going past a limit; on SQLite and
(in the PostgreSQL pass) on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.models import RateLimitBucket
from connectors.ratelimit import Bucket, DatabaseStore, HeldStore, MemoryStore

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db]


def test_the_database_store_counts_down_waits_and_gives_back():
    store = DatabaseStore()
    brand = Bucket("qualtrics:brand:test", per_minute=60, capacity=2)  # one token a second
    endpoint = Bucket("qualtrics:export:test", per_minute=6, capacity=1)
    assert store.take([brand], 1) == [0.0]
    assert store.take([brand], 1) == [0.0]
    (wait,) = store.take([brand], 1)  # empty: the token is taken anyway, a second's wait
    assert 0.9 < wait <= 1.0
    (wait,) = store.take([brand], -1)  # given back
    assert wait < 0.05
    waits = store.take([endpoint, brand], 1)  # both buckets at once, in the order asked
    assert waits[0] == 0.0 and 0.9 < waits[1] <= 1.0
    rows = dict(RateLimitBucket.objects.values_list("key", "tokens"))
    assert rows[endpoint.key] == pytest.approx(0.0, abs=0.01)
    assert rows[brand.key] == pytest.approx(-1.0, abs=0.05)


def test_a_bucket_refills_up_to_its_capacity():
    store = DatabaseStore()
    bucket = Bucket("qualtrics:brand:refill", per_minute=60, capacity=2)
    store.take([bucket], 1)
    RateLimitBucket.objects.filter(key=bucket.key).update(updated=0.0)  # long ago
    assert store.take([bucket], 1) == [0.0]
    assert RateLimitBucket.objects.get(key=bucket.key).tokens == pytest.approx(1.0)


def updates(queries) -> int:
    return sum(1 for q in queries if q["sql"].lstrip().upper().startswith("UPDATE"))


def test_a_busy_process_takes_room_for_its_next_calls_in_blocks():
    store = HeldStore(DatabaseStore())
    bucket = Bucket("qualtrics:brand:busy", per_minute=600_000, capacity=100_000)  # room for 1,000 in 0.1 s
    with CaptureQueriesContext(connection) as seen:
        waits = [store.take([bucket], 1) for _ in range(200)]
    assert waits == [[0.0]] * 200
    assert updates(seen.captured_queries) <= 40  # a statement every few calls, not one per call
    taken = bucket.capacity - RateLimitBucket.objects.get(key=bucket.key).tokens
    assert 200 <= taken + bucket.rate * 5 and taken <= 200 + 40  # what was spent, and what is held


def test_held_room_never_lets_calls_past_the_limit():
    store = HeldStore(DatabaseStore())
    bucket = Bucket("qualtrics:brand:tight", per_minute=6000, capacity=5)  # 100 a second, bursts of 5
    started = time.monotonic()
    free = sum(1 for _ in range(40) if store.take([bucket], 1) == [0.0])
    elapsed = time.monotonic() - started
    assert free <= bucket.capacity + bucket.rate * elapsed
    assert store.take([bucket], 1)[0] > 0  # the bucket is short, and the call is told to wait


def test_room_held_too_long_is_dropped_not_spent():
    store = HeldStore(DatabaseStore(), hold_seconds=0.05)
    bucket = Bucket("qualtrics:brand:stale", per_minute=600_000, capacity=100_000)
    store.take([bucket], 1)
    store.take([bucket], 1)  # spends the room held by the first take
    store.take([bucket], 1)  # takes more room for the next call
    time.sleep(0.1)
    with CaptureQueriesContext(connection) as seen:
        assert store.take([bucket], 1) == [0.0]
    assert updates(seen.captured_queries) == 1  # asked the shared bucket again



class Recording:
    """A store (the database's by default), with the cost of every take written down; `round_trip`
    seconds pass in each take, as they do on Redis or a database server."""

    def __init__(self, store=None, round_trip: float = 0.0) -> None:
        self.store, self.costs, self.round_trip = store or DatabaseStore(), [], round_trip

    def take(self, buckets, cost):
        self.costs.append(cost)
        if self.round_trip:
            time.sleep(self.round_trip)
        return self.store.take(buckets, cost)


def test_a_block_gone_stale_is_followed_by_one_as_large_as_its_calls_not_again_by_one():
    shared = Recording()
    store = HeldStore(shared, hold_seconds=0.3)
    bucket = Bucket("qualtrics:brand:steady", per_minute=600_000, capacity=100_000)
    for _ in range(9):  # blocks of 1, 2 and 3 calls, each spent at once
        store.take([bucket], 1)
    assert shared.costs == [2, 3, 4]
    time.sleep(0.4)  # the last block is stale: dropped, but its three calls say what the next needs
    store.take([bucket], 1)
    assert shared.costs[-1] == 1 + 4
    time.sleep(0.7)  # idle longer than two holds: from one again
    store.take([bucket], 1)
    assert shared.costs[-1] == 1 + 1


def test_the_threads_of_a_busy_process_spend_one_block_instead_of_each_taking_its_own():
    shared = Recording(MemoryStore(), round_trip=0.0005)
    store = HeldStore(shared)
    bucket = Bucket("qualtrics:brand:threads", per_minute=600_000, capacity=100_000)  # 1,000 in 0.1 s
    free = []

    def calls() -> None:  # a worker thread's runs: a call, then the run's other work
        for _ in range(100):
            free.append(store.take([bucket], 1) == [0.0])
            time.sleep(0.001)

    threads = [threading.Thread(target=calls) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(free) and len(free) == 800
    # About a take from the shared store every few dozen calls (each thread taking its own block
    # made it one every two or three calls), and never less room taken than spent.
    assert len(shared.costs) <= 80, len(shared.costs)
    assert sum(shared.costs) >= 800
