"""Typed errors, pagination, retries and timeouts, against the sandbox over real HTTP."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from connectors.qualtrics.errors import (
    AuthenticationError,
    MaybeAppliedError,
    NotFoundError,
    PermissionDeniedError,
    QualtricsError,
    RateLimitedError,
    TransientError,
    UnsafeRequestError,
    ValidationError,
)
from connectors.qualtrics.sandbox.listener import RecordingListener


def assert_request_id(error: QualtricsError) -> None:
    assert error.request_id is not None
    uuid.UUID(error.request_id)
    assert error.request_id in str(error)


def test_it_raises_authentication_error_for_an_unknown_token(make_client):
    client = make_client(token="not-a-real-token")

    with pytest.raises(AuthenticationError) as caught:
        client.whoami()

    assert caught.value.status == 401
    assert caught.value.message == "Qualtrics refused the API token (401). Check the token and the data center ID."
    assert caught.value.retryable is False
    assert_request_id(caught.value)


def test_it_raises_authentication_error_for_a_token_on_another_datacenter(make_client):
    client = make_client(datacenter="fra1")

    with pytest.raises(AuthenticationError):
        client.whoami()


def test_it_raises_permission_denied_for_a_token_without_api_access(make_client, qualtrics_sandbox):
    qualtrics_sandbox.add_token("no-api-token", api_access=False)

    with pytest.raises(PermissionDeniedError) as caught:
        make_client(token="no-api-token").list_surveys()

    assert caught.value.status == 403
    assert "GET surveys" in caught.value.message
    assert_request_id(caught.value)


def test_it_raises_permission_denied_when_a_non_admin_lists_users(make_client, qualtrics_sandbox):
    qualtrics_sandbox.add_token("member-token", brand_admin=False)

    with pytest.raises(PermissionDeniedError):
        make_client(token="member-token").list_users()


def test_it_raises_not_found_with_the_request_id(client):
    with pytest.raises(NotFoundError) as caught:
        client.get_survey("SV_doesNotExist000")

    assert caught.value.status == 404
    assert "GET surveys/SV_doesNotExist000" in caught.value.message
    assert_request_id(caught.value)


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda c, sb: c.create_user(firstName="No", lastName="Username"), "username"),
        (lambda c, sb: c.create_group(name="No type"), "type"),
        (lambda c, sb: c.create_group(type=next(iter(sb.brand.group_types))), "name"),
        (lambda c, sb: c.create_contact(sb.directory_id), "at least one of"),
        (lambda c, sb: c.create_contact(sb.directory_id, externalDataRef="x"), "Unrecognized field"),
        (lambda c, sb: c.create_response(sb.survey_id, {"QID1": 99}), "not a choice of QID1"),
        (lambda c, sb: c.start_export(sb.survey_id, format="pdf"), "pdf"),
    ],
    ids=[
        "user-without-username",
        "group-without-type",
        "group-without-name",
        "empty-contact",
        "legacy-field-name",
        "unknown-choice",
        "unknown-format",
    ],
)
def test_it_raises_validation_error_with_qualtrics_message(call, said, client, qualtrics_sandbox):
    with pytest.raises(ValidationError) as caught:
        call(client, qualtrics_sandbox)

    assert caught.value.status == 400
    assert said in caught.value.message
    assert_request_id(caught.value)


def test_it_refuses_an_id_that_would_change_the_path_without_sending(client, qualtrics_sandbox):
    with pytest.raises(ValidationError):
        client.get_survey("../users")

    assert qualtrics_sandbox.requests() == []


def test_it_follows_next_page_across_three_pages(client, qualtrics_sandbox):
    qualtrics_sandbox.set_page_size(2)
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    created = [client.create_group(type=group_type, name=f"Group {i}") for i in range(5)]

    groups = client.list_groups()

    assert [g["id"] for g in groups] == created
    pages = qualtrics_sandbox.requests("groups", method="GET")
    assert len(pages) == 3
    assert [p["query"].get("offset") for p in pages] == [None, "2", "4"]


def test_it_follows_skip_token_pages_of_directory_contacts(client, qualtrics_sandbox):
    qualtrics_sandbox.set_page_size(2)
    for i in range(5):
        client.create_contact(qualtrics_sandbox.directory_id, email=f"person{i}@example.com")

    contacts = client.list_contacts(qualtrics_sandbox.directory_id)

    assert len(contacts) == 5
    pages = qualtrics_sandbox.requests(f"directories/{qualtrics_sandbox.directory_id}/contacts", method="GET")
    assert len(pages) == 3
    assert "skipToken" in pages[1]["query"]


def test_it_refuses_a_next_page_on_another_host_and_sends_it_nothing(client, qualtrics_sandbox):
    qualtrics_sandbox.set_page_size(1)
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    for i in range(2):
        client.create_group(type=group_type, name=f"Group {i}")
    with RecordingListener() as elsewhere:
        qualtrics_sandbox.set_next_page_base(elsewhere.url)

        with pytest.raises(UnsafeRequestError) as caught:
            client.list_groups()

        time.sleep(0.05)
        assert elsewhere.requests == []
    assert elsewhere.url in caught.value.message
    assert len(qualtrics_sandbox.requests("groups", method="GET")) == 1


def test_it_waits_for_retry_after_on_429_then_succeeds(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("surveys", status=429, retry_after=1, count=1)

    started = time.monotonic()
    surveys = client.list_surveys()
    elapsed = time.monotonic() - started

    assert [s["id"] for s in surveys] == [qualtrics_sandbox.survey_id]
    assert elapsed >= 1.0
    assert [r["status"] for r in qualtrics_sandbox.requests("surveys")] == [429, 200]


def test_it_gives_up_at_once_when_retry_after_exceeds_the_cap(make_client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("whoami", status=429, retry_after=120, count=1)
    client = make_client(max_retry_after=30)

    started = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        client.whoami()

    assert time.monotonic() - started < 0.5
    assert caught.value.retry_after == 120
    assert caught.value.retryable is True
    assert "120 s" in caught.value.message


def test_it_retries_a_500_and_succeeds(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("whoami", status=500, count=2)

    assert client.whoami()["userId"]
    assert [r["status"] for r in qualtrics_sandbox.requests("whoami")] == [500, 500, 200]


def test_it_gives_up_on_repeated_500s_with_a_clear_error_in_bounded_time(make_client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("whoami", status=500, count=100)
    client = make_client(max_retries=3)

    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        client.whoami()

    assert time.monotonic() - started < 1.0
    assert len(qualtrics_sandbox.requests("whoami")) == 4
    assert caught.value.status == 500
    assert caught.value.attempts == 4
    assert "temporary problem with GET whoami (500 - Internal Server Error)" in caught.value.message
    assert "Gave up after 4 attempts" in caught.value.message
    assert_request_id(caught.value)


def test_it_stops_retrying_when_the_total_time_budget_is_spent(make_client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("whoami", status=503, count=100)
    client = make_client(max_retries=50, backoff_base=0.1, backoff_max=0.1, max_retry_seconds=0.35)

    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        client.whoami()

    # Each wait is 0.05-0.1 s (jitter), and no wait may end past the 0.35 s budget: so time, not
    # the 50 allowed retries, stopped it, after between 2 and 1 + 0.35 / 0.05 = 8 attempts.
    assert time.monotonic() - started < 1.0
    attempts = len(qualtrics_sandbox.requests("whoami"))
    assert 2 <= attempts <= 8
    assert caught.value.attempts == attempts
    assert f"Gave up after {attempts} attempts" in caught.value.message


def test_it_does_not_repeat_a_create_after_a_read_timeout(make_client, qualtrics_sandbox):
    qualtrics_sandbox.add_latency(0.5, "groups", method="POST")
    client = make_client(timeout=(2, 0.2))
    group_type = next(iter(qualtrics_sandbox.brand.group_types))

    with pytest.raises(MaybeAppliedError) as caught:
        client.create_group(type=group_type, name="Only once")

    assert "did not answer POST groups in time" in caught.value.message
    assert "may have applied the change, so it was not sent again" in caught.value.message
    assert (caught.value.retryable, caught.value.attempts, caught.value.action) == (False, 1, "POST groups")
    time.sleep(0.5)
    assert len(qualtrics_sandbox.requests("groups", method="POST")) == 1
    # The server did apply it: exactly why the client must not send it again.
    assert [g["name"] for g in qualtrics_sandbox.brand.groups.values()] == ["Only once"]


def test_it_repeats_a_read_after_a_read_timeout(make_client, qualtrics_sandbox):
    qualtrics_sandbox.add_latency(0.5, "whoami", count=1)
    client = make_client(timeout=(2, 0.2))

    assert client.whoami()["userId"]
    assert len(qualtrics_sandbox.requests("whoami")) == 2


def test_a_create_answered_503_is_not_sent_again_and_asks_a_person_when_nothing_was_made(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("groups", status=503, method="POST", count=1)
    group_type = next(iter(qualtrics_sandbox.brand.group_types))

    with pytest.raises(MaybeAppliedError) as caught:
        client.create_group(type=group_type, name="After a 503")

    assert [r["status"] for r in qualtrics_sandbox.requests("groups", method="POST")] == [503]
    assert len(qualtrics_sandbox.brand.groups) == 0
    assert caught.value.status == 503
    assert "No such group 'After a 503' was found: check Qualtrics, then re-run." in caught.value.message


class CountingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def request(self, *args, **kwargs):
        self.calls += 1
        return super().request(*args, **kwargs)


def test_it_repeats_a_create_when_the_connection_was_refused(make_client, unused_port):
    session = CountingSession()
    client = make_client(base_url=f"http://127.0.0.1:{unused_port}/{{datacenter}}/API/v3/", session=session)

    with pytest.raises(TransientError) as caught:
        client.create_group(type="GT_x", name="Never arrives")

    assert session.calls == 4
    assert "Could not reach Qualtrics" in caught.value.message


def test_it_does_not_follow_a_redirect_with_the_token(make_client):
    with RecordingListener(status=302) as redirector, RecordingListener() as target:
        redirector.extra_headers = {"Location": f"{target.url}/steal"}
        client = make_client(base_url=f"{redirector.url}/{{datacenter}}/API/v3/")

        with pytest.raises(QualtricsError):
            client.whoami()

        time.sleep(0.05)
        assert target.requests == []
