"""Live updates on a server channel layer (Redis) are handed to the process's publisher thread:
a run never waits for Redis, and a burst about one run sends its newest state last."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from channels.layers import channel_layers

from designer import live

PUBLISH_TIMEOUT = live.PUBLISH_TIMEOUT_SECONDS + 1


@pytest.fixture
def silent_redis(settings):
    """A channel layer whose Redis accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    use_layer(settings, {"hosts": [f"redis://127.0.0.1:{port}/0"]})
    yield
    publisher = forget_publisher()
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()
    if publisher is not None:
        assert publisher.wait_idle(PUBLISH_TIMEOUT), "the publisher did not recover from a closed connection"
    channel_layers.backends.clear()


def use_layer(settings, config: dict) -> None:
    """Points the channel layer at a Redis, with a publisher of the test's own."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    channel_layers.backends.clear()
    live._publisher = None


def forget_publisher():
    """The test's publisher, no longer the process's (one stuck on a server is not reused)."""
    used, live._publisher = live._publisher, None
    return used


class FakeRun:
    pk = 7
    flow_id = 3
    team_id = 5


def test_a_run_does_not_wait_for_a_channel_layer_that_does_not_answer(silent_redis):
    built = []
    started = time.monotonic()
    for n in range(20):
        live._send(["flow_3", "team_5_runs"], lambda n=n: built.append(n) or {"type": "live.event", "n": n},
                   key=("run", FakeRun.pk))
    took = time.monotonic() - started
    # Each message is built at once (the run's state as it is now), and none is waited for.
    assert built == list(range(20))
    assert took < 1.0, f"publishing 20 updates took {took:.2f} s"
    publisher = live.publisher()
    # While the loop is stuck on Redis, the updates of one run wait as one: the newest.
    with publisher.lock:
        waiting = [message["n"] for key, (_, _, message) in publisher.waiting.items() if key == ("run", 7)]
    assert waiting in ([19], [])  # [] only if the loop took the last one already
    assert not publisher.wait_idle(0.2)


@pytest.fixture
def redis_layer(settings):
    import os

    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs Redis (REDIS_URL)")
    use_layer(settings, {"hosts": [url], "prefix": "test-unheard"})
    yield
    publisher = forget_publisher()
    if publisher is not None:
        assert publisher.wait_idle(PUBLISH_TIMEOUT)
    channel_layers.backends.clear()


def test_a_message_to_groups_found_empty_is_not_even_built(redis_layer):
    built = []

    def send(n):
        live._send(["flow_3", "team_5_runs"], lambda: built.append(n) or {"type": "live.event", "n": n},
                   key=("run", FakeRun.pk))

    send(1)  # nobody has looked at the groups yet: built and handed over; the publisher finds them empty
    assert live.publisher().wait_idle(PUBLISH_TIMEOUT)
    send(2)
    send(3)
    assert built == [1]  # taken as empty: the run's thread built nothing
    publisher = live.publisher()
    publisher.empty_until = {}  # as when LISTENERS_CACHE_SECONDS have passed
    send(4)
    assert built == [1, 4]  # looked at again


def test_a_waiting_message_is_dropped_with_a_newer_one_to_groups_found_empty(redis_layer):
    publisher = live.publisher()
    later = time.monotonic() + 60
    with publisher.lock:  # a message handed over before the groups were found empty, still waiting
        publisher.waiting[("run", 7)] = (None, ["flow_3"], {"n": 1})
    publisher.empty_until = {"flow_3": later, "team_5_runs": later}
    live._send(["flow_3", "team_5_runs"], lambda: {"n": 2}, key=("run", 7))
    with publisher.lock:
        assert ("run", 7) not in publisher.waiting  # not sent after the newer one was dropped
