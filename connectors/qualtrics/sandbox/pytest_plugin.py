"""Pytest fixtures for the Qualtrics sandbox (listed in the root conftest's pytest_plugins).

One sandbox server runs for the whole session; `qualtrics_sandbox` resets its state before each
test and points settings.QUALTRICS_API_BASE at it, so a client built with the sandbox's
`datacenter` and `token` talks to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors import ratelimit
from connectors.qualtrics.sandbox.listener import RecordingListener
from connectors.qualtrics.sandbox.server import Sandbox


@pytest.fixture(scope="session")
def qualtrics_sandbox_server() -> Iterator[Sandbox]:
    sandbox = Sandbox(seed="default").start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def qualtrics_sandbox(qualtrics_sandbox_server: Sandbox, settings) -> Iterator[Sandbox]:
    """The session's sandbox with fresh `default` seed data (datacenter `sandbox1`, token
    `TEST_TOKEN`, one survey, one directory with one mailing list)."""
    sandbox = qualtrics_sandbox_server
    sandbox.reset("default")
    settings.QUALTRICS_API_BASE = sandbox.api_base_template
    # Clients in the test process share an in-memory rate limiter, so tests without database
    # access can make calls; tests of the shared backends choose them explicitly.
    settings.QUALTRICS_RATE_LIMIT_BACKEND = "memory"
    ratelimit.memory_store().clear()
    yield sandbox
    sandbox.reset("default")


@pytest.fixture
def recording_listener() -> Iterator[RecordingListener]:
    """An HTTP listener on a free port that records what it receives (a webhook receiver)."""
    with RecordingListener() as listener:
        yield listener
