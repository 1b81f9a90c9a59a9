"""The generic pieces of connectors/http.py that the Qualtrics client relies on."""

from __future__ import annotations

import email.utils
import time

import pytest
import requests

from connectors.http import ConnectorError, HttpClient, failed_before_sending, parse_retry_after


@pytest.mark.parametrize(
    ("value", "expected"), [("3", 3.0), ("0", 0.0), ("1.5", 1.5), ("-2", 0.0), ("", None), (None, None), ("soon", None)]
)
def test_it_reads_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_it_reads_retry_after_as_an_http_date():
    later = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert 28 <= parse_retry_after(later) <= 30


def test_a_refused_connection_counts_as_not_sent(unused_port):
    with pytest.raises(requests.ConnectionError) as caught:
        requests.post(f"http://127.0.0.1:{unused_port}/", timeout=1)

    assert failed_before_sending(caught.value) is True


def test_a_read_timeout_counts_as_possibly_sent(qualtrics_sandbox):
    qualtrics_sandbox.add_latency(0.3, "whoami")
    with pytest.raises(requests.ReadTimeout) as caught:
        requests.get(f"{qualtrics_sandbox.api_base}whoami", timeout=(1, 0.05))

    assert failed_before_sending(caught.value) is False


def test_the_error_text_includes_the_request_id():
    error = ConnectorError("It broke.", status=500, request_id="abc-123", retryable=True)

    assert str(error) == "It broke. (request id abc-123)"
    assert (error.status, error.retryable, error.attempts) == (500, True, 1)


def test_the_base_client_raises_after_bounded_attempts(qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("whoami", status=502, count=10)
    client = HttpClient(max_retries=2, backoff_base=0.01, backoff_max=0.02)

    with pytest.raises(ConnectorError) as caught:
        client.send("GET", f"{qualtrics_sandbox.api_base}whoami")

    assert caught.value.status == 502
    assert caught.value.attempts == 3
    assert "Gave up after 3 attempts" in caught.value.message


def test_the_base_client_can_return_the_last_error_response(qualtrics_sandbox):
    client = HttpClient(max_retries=0)

    response = client.send("GET", f"{qualtrics_sandbox.api_base}whoami", raise_for_status=False)

    assert response.status_code == 401
