"""The shared rate limiter keeps bursts from several threads under Qualtrics' limits: the
sandbox enforces them with 429s and none is served."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

from connectors import ratelimit
from connectors.http import RetryLaterError
from connectors.qualtrics.client import QualtricsClient
from connectors.qualtrics.errors import RateLimitedError

CALLS = 300
THREADS = 6
# Scaled down so the test takes seconds: 50 export polls a second, bursts of 100 (limits.py).
SCALED = {"brand": 60_000, "export-progress": 3000}


def burst(sandbox, *, rate_limiter=ratelimit.RateLimiter) -> tuple[list, list]:
    """CALLS export polls from THREADS threads, one client each; (results, errors)."""
    seed = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token, rate_limiter=None)
    progress_id = seed.start_export(sandbox.survey_id, format="csv")["progressId"]
    seed.close()
    results: list = []
    errors: list = []
    lock = threading.Lock()

    def work(count: int) -> None:
        options = {} if rate_limiter is ratelimit.RateLimiter else {"rate_limiter": rate_limiter}
        client = QualtricsClient(
            datacenter=sandbox.datacenter, token=sandbox.token, max_retries=0, timeout=(5, 10), **options
        )
        try:
            for _ in range(count):
                try:
                    result = client.export_progress(sandbox.survey_id, progress_id)
                except Exception as exc:  # noqa: BLE001 - every failure is counted by the test
                    with lock:
                        errors.append(exc)
                else:
                    with lock:
                        results.append(result)
        finally:
            client.close()
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=work, args=(CALLS // THREADS,)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


def polls(sandbox) -> list[int]:
    return [r["status"] for r in sandbox.requests("surveys", method="GET")]


def test_without_the_limiter_the_sandbox_answers_a_burst_with_429s(settings, qualtrics_sandbox):
    qualtrics_sandbox.set_rate_limits(SCALED)

    results, errors = burst(qualtrics_sandbox, rate_limiter=None)

    assert errors and all(isinstance(e, RateLimitedError) for e in errors)
    assert polls(qualtrics_sandbox).count(429) == len(errors)


@pytest.mark.django_db(transaction=True)
def test_a_burst_through_the_database_limiter_gets_no_429_and_loses_nothing(settings, qualtrics_sandbox):
    settings.QUALTRICS_RATE_LIMIT_BACKEND = "database"
    settings.QUALTRICS_RATE_LIMITS = SCALED
    qualtrics_sandbox.set_rate_limits(SCALED)

    started = time.monotonic()
    results, errors = burst(qualtrics_sandbox)
    elapsed = time.monotonic() - started

    assert errors == []
    assert len(results) == CALLS
    statuses = polls(qualtrics_sandbox)
    assert statuses.count(429) == 0 and len(statuses) == CALLS
    # 90 at once, then 45 a second (the published figure less the client's headroom).
    assert elapsed >= (CALLS - 90) / 45 - 0.5


def test_a_wait_for_room_longer_than_the_inline_limit_sends_nothing(settings, make_client, qualtrics_sandbox):
    settings.QUALTRICS_RATE_LIMITS = {"brand": 60}  # 0.9 calls a second after headroom, bursts of 1.8
    settings.QUALTRICS_MAX_INLINE_WAIT_SECONDS = 0.5
    client = make_client(max_retry_after=None)
    sent = 0

    with pytest.raises(RetryLaterError) as caught:
        for _ in range(5):
            client.whoami()
            sent += 1

    assert sent == 2  # one at once, one after a short wait; the third would wait over a second
    assert isinstance(caught.value, RateLimitedError)
    assert caught.value.retry_after > 0.5
    assert caught.value.attempts == 0
    assert "Qualtrics brand limit, 60/min" in caught.value.message
    assert len(qualtrics_sandbox.requests("whoami")) == sent


def test_a_reservation_given_back_makes_room_for_the_next_caller():
    store = ratelimit.MemoryStore()
    bucket = ratelimit.Bucket("k", per_minute=60, capacity=1)
    limiter = ratelimit.RateLimiter(store, lambda method, url: [bucket])

    assert limiter.reserve("GET", "x").wait == 0
    second = limiter.reserve("GET", "x")
    assert 0.9 < second.wait <= 1.0
    second.cancel()
    assert 0.9 < limiter.reserve("GET", "x").wait <= 1.0


@pytest.fixture
def redis_url():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(5)


def test_the_redis_store_shares_buckets_between_limiters(redis_url):
    bucket = ratelimit.Bucket("qualtrics:test:brand", per_minute=120, capacity=2)
    first = ratelimit.RateLimiter(ratelimit.RedisStore(redis_url), lambda m, u: [bucket])
    second = ratelimit.RateLimiter(ratelimit.RedisStore(redis_url), lambda m, u: [bucket])

    waits = [first.reserve("GET", "x").wait, second.reserve("GET", "x").wait, first.reserve("GET", "x").wait]

    assert waits[:2] == [0, 0]
    assert 0.4 < waits[2] <= 0.5


def test_a_burst_through_the_redis_limiter_gets_no_429(settings, redis_url, qualtrics_sandbox):
    settings.QUALTRICS_RATE_LIMIT_BACKEND = "redis"
    settings.REDIS_URL = redis_url
    settings.QUALTRICS_RATE_LIMITS = SCALED
    qualtrics_sandbox.set_rate_limits(SCALED)

    results, errors = burst(qualtrics_sandbox)

    assert errors == [] and len(results) == CALLS
    assert polls(qualtrics_sandbox).count(429) == 0
