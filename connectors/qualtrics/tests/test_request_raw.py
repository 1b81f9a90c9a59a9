"""Custom API Action: requests confined to the configuration's own API base."""

from __future__ import annotations

import time

import pytest

from connectors.qualtrics.errors import UnsafeRequestError
from connectors.qualtrics.sandbox.listener import RecordingListener

REFUSED_URLS = [
    "http://127.0.0.1:{other}/steal",
    "https://evil.example/API/v3/whoami",
    "HTTP://evil.example/",
    "ftp://evil.example/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "mailto:someone@example.com",
    "//127.0.0.1:{other}/steal",
    "//evil.example/API/v3/whoami",
    "/API/v3/whoami",
    "\\\\evil.example\\share",
    "surveys\\..\\..\\steal",
    "../whoami",
    "../../../{dc}/API/v3/whoami",
    "surveys/../../whoami",
    "surveys/./whoami",
    "surveys/..",
    "%2e%2e/%2e%2e/steal",
    "%2E%2E/steal",
    ".%2e/steal",
    "surveys%2f..%2f..%2fsteal",
    "surveys%2F..",
    "surveys%5c..",
    "%252e%252e/steal",
    "%25252e/steal",
    "surveys/%252f",
    "whoami\r\nX-Injected: 1",
    "whoami\nHost: evil.example",
    "whoami%0d%0aX-Injected:%201",
    "who\x00ami",
    "who\tami",
    "who ami",
    "user:pass@evil.example/",
    "surveys@evil.example",
    "surveys/%40evil.example",
    "127.0.0.1:{other}/steal",
    "127.0.0.1/steal",
    "surveys/10.0.0.1/x",
    "[::1]/steal",
    "surveys/[::1]",
    "evil.example:{other}/steal",
    "surveys#fragment",
    "surveys//whoami",
    "",
    "   ",
    "surveys/SV_é",
]


@pytest.fixture(scope="module")
def bystander_server():
    with RecordingListener() as listener:
        yield listener


@pytest.fixture
def bystander(bystander_server):
    """A listener on another port that must never hear from the client."""
    bystander_server.requests.clear()
    return bystander_server


@pytest.mark.parametrize("template", REFUSED_URLS)
def test_it_refuses_urls_that_leave_the_api_base_and_sends_nothing(template, client, qualtrics_sandbox, bystander):
    relative_url = template.format(other=bystander.port, dc=qualtrics_sandbox.datacenter)

    with pytest.raises(UnsafeRequestError) as caught:
        client.request_raw("GET", relative_url)

    assert "Nothing was sent" in caught.value.message
    time.sleep(0.02)
    assert qualtrics_sandbox.requests() == []
    assert bystander.requests == []


@pytest.mark.parametrize("method", ["PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "get\r\n", ""])
def test_it_refuses_methods_other_than_get_post_put_delete(method, client, qualtrics_sandbox):
    with pytest.raises(UnsafeRequestError, match="GET, POST, PUT or DELETE"):
        client.request_raw(method, "whoami")

    assert qualtrics_sandbox.requests() == []


@pytest.mark.parametrize(
    "header", ["X-API-TOKEN", "x-api-token", "X-Api-Token", "Host", "Authorization", "Cookie", "Content-Length"]
)
def test_it_refuses_headers_the_connector_owns(header, client, qualtrics_sandbox):
    with pytest.raises(UnsafeRequestError, match=f"The header {header} cannot be set"):
        client.request_raw("GET", "whoami", headers={header: "x"})

    assert qualtrics_sandbox.requests() == []


@pytest.mark.parametrize("headers", [{"X-Note": "a\r\nX-Injected: 1"}, {"Bad Name": "x"}, {"X-Note\n": "x"}])
def test_it_refuses_header_injection(headers, client, qualtrics_sandbox):
    with pytest.raises(UnsafeRequestError):
        client.request_raw("GET", "whoami", headers=headers)

    assert qualtrics_sandbox.requests() == []


def test_it_sends_a_get_with_query_and_headers_and_parses_json(client, qualtrics_sandbox):
    response = client.request_raw("GET", "surveys", query={"pageSize": "1"}, headers={"X-Trace": "abc"})

    assert response.status_code == 200
    assert response.body["result"]["elements"][0]["id"] == qualtrics_sandbox.survey_id
    assert response.headers["Content-Type"] == "application/json"
    [entry] = qualtrics_sandbox.requests("surveys")
    assert entry["query"] == {"pageSize": "1"}
    assert entry["headers"]["X-Trace"] == "abc"
    assert entry["has_token"] is True


def test_it_sends_a_json_body_with_post(client, qualtrics_sandbox):
    group_type = next(iter(qualtrics_sandbox.brand.group_types))

    response = client.request_raw("post", "groups", body={"type": group_type, "name": "Raw group"})

    assert response.status_code == 200
    assert response.body["result"]["id"].startswith("GR_")


def test_it_returns_error_statuses_instead_of_raising(client):
    response = client.request_raw("GET", "surveys/SV_missing0000000")

    assert response.status_code == 404
    assert response.body["meta"]["httpStatus"] == "404 - Not Found"


def test_it_accepts_a_query_string_in_the_relative_url(client, qualtrics_sandbox):
    response = client.request_raw("GET", f"directories/{qualtrics_sandbox.directory_id}/contacts?pageSize=5")

    assert response.status_code == 200
    assert qualtrics_sandbox.requests("directories")[0]["query"] == {"pageSize": "5"}


def test_it_retries_429_before_returning(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("whoami", status=429, retry_after=0, count=1)

    assert client.request_raw("GET", "whoami").status_code == 200
    assert len(qualtrics_sandbox.requests("whoami")) == 2
