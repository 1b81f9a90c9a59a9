from __future__ import annotations

import pytest

from connectors.qualtrics.client import QualtricsClient


@pytest.fixture
def make_client(qualtrics_sandbox):
    """make_client(**overrides) -> a client for the sandbox brand, with tiny retry delays."""
    clients: list[QualtricsClient] = []

    def make(**overrides) -> QualtricsClient:
        options = {
            "datacenter": qualtrics_sandbox.datacenter,
            "token": qualtrics_sandbox.token,
            "timeout": (2, 5),
            "max_retries": 3,
            "max_retry_seconds": 5,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
        }
        options.update(overrides)
        client = QualtricsClient(**options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client) -> QualtricsClient:
    return make_client()


@pytest.fixture
def unused_port() -> int:
    """A port with nothing listening on it (bound once, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
