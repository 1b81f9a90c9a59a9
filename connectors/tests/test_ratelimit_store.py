"""The database store of the shared rate limiter takes from its buckets exactly as `take` says,
on SQLite and (in the PostgreSQL pass) on PostgreSQL."""

from __future__ import annotations

import pytest

from connectors.models import RateLimitBucket
from connectors.ratelimit import Bucket, DatabaseStore

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
