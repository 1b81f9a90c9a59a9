"""Calls that never repeat a change, wait as long as Qualtrics asks, and report every attempt,
against the sandbox over real HTTP."""

from __future__ import annotations

import json
import time

import pytest

from connectors import registry
from connectors.http import AttemptRecord, RetryLaterError
from connectors.qualtrics.errors import (
    MaybeAppliedError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from connectors.specs import RunContext


def run_card(client, key, options, inputs):
    return registry.get(key).run(RunContext(client=client), options, inputs)


def posts(sandbox, prefix):
    return sandbox.requests(prefix, method="POST")


def list_options(sandbox):
    return {"directory_id": sandbox.directory_id, "mailing_list_id": sandbox.mailing_list_id}


# Each create card with a natural key: (card, options, inputs, POST path, how many exist afterwards).
CREATES = {
    "user": (
        "qualtrics.create_user",
        lambda sb: {},
        lambda sb: {
            "username": "ada@example.com",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "user_type": next(iter(sb.brand.user_types)),
            "password": "S3cret-pass",
        },
        lambda sb: "users",
        lambda sb: [u for u in sb.brand.users.values() if u["username"] == "ada@example.com"],
    ),
    "group": (
        "qualtrics.create_group",
        lambda sb: {},
        lambda sb: {"name": "Analysts", "type": next(iter(sb.brand.group_types))},
        lambda sb: "groups",
        lambda sb: [g for g in sb.brand.groups.values() if g["name"] == "Analysts"],
    ),
    "contact": (
        "qualtrics.create_contact",
        lambda sb: {"directory_id": sb.directory_id},
        lambda sb: {"email": "ada@example.com", "first_name": "Ada"},
        lambda sb: f"directories/{sb.directory_id}/contacts",
        lambda sb: [
            c for c in sb.brand.directories[sb.directory_id].contacts.values() if c["email"] == "ada@example.com"
        ],
    ),
    "contact-by-extref": (
        "qualtrics.create_contact",
        lambda sb: {"directory_id": sb.directory_id},
        lambda sb: {"external_reference": "crm-1815", "first_name": "Ada"},
        lambda sb: f"directories/{sb.directory_id}/contacts",
        lambda sb: [c for c in sb.brand.directories[sb.directory_id].contacts.values() if c["extRef"] == "crm-1815"],
    ),
    "mailing-list-contact": (
        "qualtrics.create_contact_in_mailing_list",
        list_options,
        lambda sb: {"email": "ada@example.com", "first_name": "Ada"},
        lambda sb: f"directories/{sb.directory_id}/mailinglists/{sb.mailing_list_id}/contacts",
        lambda sb: [
            cid
            for cid, c in sb.brand.directories[sb.directory_id].contacts.items()
            if c["email"] == "ada@example.com"
            and cid in sb.brand.directories[sb.directory_id].mailing_lists[sb.mailing_list_id].members
        ],
    ),
}


@pytest.mark.parametrize("status", [500, 502])
@pytest.mark.parametrize("case", list(CREATES))
def test_a_create_applied_before_a_5xx_continues_with_the_one_record_made(case, status, client, qualtrics_sandbox):
    key, options, inputs, path, existing = CREATES[case]
    sandbox = qualtrics_sandbox
    sandbox.inject_fault(path(sandbox), status, method="POST", apply=True)

    outputs = run_card(client, key, options(sandbox), inputs(sandbox))

    found = existing(sandbox)
    assert len(found) == 1
    assert len(posts(sandbox, path(sandbox))) == 1
    [record] = found
    record_id = record if isinstance(record, str) else record.get("id") or record.get("contactId")
    assert next(iter(outputs.values())) == record_id
    fresh = registry.get(key).outputs
    assert set(outputs) == {f.key for f in fresh}


@pytest.mark.parametrize("case", list(CREATES))
def test_a_create_answered_500_without_effect_is_sent_once_and_needs_a_person(case, client, qualtrics_sandbox):
    key, options, inputs, path, existing = CREATES[case]
    sandbox = qualtrics_sandbox
    sandbox.inject_fault(path(sandbox), 500, method="POST", count=100)

    with pytest.raises(MaybeAppliedError) as caught:
        run_card(client, key, options(sandbox), inputs(sandbox))

    assert existing(sandbox) == []
    assert len(posts(sandbox, path(sandbox))) == 1
    error = caught.value
    assert (error.retryable, error.status, error.attempts) == (False, 500, 1)
    assert "may have applied the change, so it was not sent again" in error.message
    assert "check Qualtrics, then re-run" in error.message


def test_a_subscription_applied_before_a_502_is_found_by_its_publication_url(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("eventsubscriptions", 502, method="POST", apply=True)

    subscription_id = client.create_event_subscription(
        topics="surveyengine.completedResponse.SV_1", publication_url="https://flows.example.com/hooks/1", shared_key="k"
    )

    assert list(qualtrics_sandbox.brand.subscriptions) == [subscription_id]
    assert len(posts(qualtrics_sandbox, "eventsubscriptions")) == 1


def test_a_group_found_twice_by_name_is_not_guessed(client, qualtrics_sandbox):
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    client.create_group(type=group_type, name="Twins")
    qualtrics_sandbox.inject_fault("groups", 500, method="POST", apply=True)

    with pytest.raises(MaybeAppliedError):
        client.create_group(type=group_type, name="Twins")

    assert len(qualtrics_sandbox.brand.groups) == 2


def test_a_read_answered_503_with_retry_after_1_waits_a_second_and_succeeds(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("surveys", 503, retry_after=1, method="GET")

    started = time.monotonic()
    surveys = client.list_surveys()
    elapsed = time.monotonic() - started

    assert [s["id"] for s in surveys] == [qualtrics_sandbox.survey_id]
    assert 1.0 <= elapsed < 2.0
    assert [r["status"] for r in qualtrics_sandbox.requests("surveys")] == [503, 200]


def test_a_read_answered_503_with_retry_after_30_raises_retry_later_without_sleeping(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("surveys", 503, retry_after=30, method="GET")

    started = time.monotonic()
    with pytest.raises(RetryLaterError) as caught:
        client.list_surveys()

    assert time.monotonic() - started < 0.5
    error = caught.value
    assert isinstance(error, TransientError)
    assert (error.retry_after, error.retryable, error.status, error.attempts) == (30, True, 503, 1)
    assert "asked to wait 30 s" in error.message


def test_a_429_with_retry_after_120_on_a_create_raises_retry_later_and_creates_nothing(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("groups", 429, retry_after=120, method="POST")
    group_type = next(iter(qualtrics_sandbox.brand.group_types))

    with pytest.raises(RetryLaterError) as caught:
        client.create_group(type=group_type, name="Later")

    assert isinstance(caught.value, RateLimitedError)
    assert caught.value.retry_after == 120
    assert qualtrics_sandbox.brand.groups == {}
    assert len(posts(qualtrics_sandbox, "groups")) == 1


def test_a_429_with_a_short_retry_after_on_a_create_is_waited_out_and_sent_again(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("groups", 429, retry_after=0.2, method="POST")
    group_type = next(iter(qualtrics_sandbox.brand.group_types))

    client.create_group(type=group_type, name="After a 429")

    assert [r["status"] for r in posts(qualtrics_sandbox, "groups")] == [429, 200]
    assert len(qualtrics_sandbox.brand.groups) == 1


def test_the_inline_wait_limit_comes_from_settings(settings, make_client, qualtrics_sandbox):
    settings.QUALTRICS_MAX_INLINE_WAIT_SECONDS = 1
    qualtrics_sandbox.inject_fault("whoami", 429, retry_after=2)

    with pytest.raises(RetryLaterError):
        make_client().whoami()


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_an_idempotent_change_answered_500_is_sent_again(method, client, qualtrics_sandbox):
    group_type = next(iter(qualtrics_sandbox.brand.group_types))
    group_id = client.create_group(type=group_type, name="Repeatable")
    qualtrics_sandbox.inject_fault(f"groups/{group_id}", 500, method=method, count=1, apply=True)

    if method == "PUT":
        client.update_group(group_id, name="Renamed")
        assert qualtrics_sandbox.brand.groups[group_id]["name"] == "Renamed"
    else:
        # The second DELETE finds it gone, which is what was asked.
        client.delete_group(group_id)
        assert group_id not in qualtrics_sandbox.brand.groups
    assert [r["status"] for r in qualtrics_sandbox.requests(f"groups/{group_id}", method=method)] == [
        500,
        200 if method == "PUT" else 404,
    ]


def test_a_delete_of_something_never_there_is_still_not_found(client, qualtrics_sandbox):
    with pytest.raises(NotFoundError):
        client.delete_group("GR_missing0000001")


def test_an_unanswered_export_start_is_sent_again(client, qualtrics_sandbox):
    qualtrics_sandbox.inject_fault("surveys", 500, method="POST", count=1)

    started = client.start_export(qualtrics_sandbox.survey_id, format="csv")

    assert started["progressId"]
    assert [r["status"] for r in posts(qualtrics_sandbox, "surveys")] == [500, 200]


def test_every_attempt_is_reported_and_the_error_counts_them(make_client, qualtrics_sandbox):
    records: list[AttemptRecord] = []
    client = make_client(on_attempt=records.append, max_retries=2)
    qualtrics_sandbox.inject_fault("whoami", 500, count=10)

    with pytest.raises(TransientError) as caught:
        client.whoami()

    assert [(r.number, r.method, r.path, r.status, r.error) for r in records] == [
        (1, "GET", "whoami", 500, "TransientError"),
        (2, "GET", "whoami", 500, "TransientError"),
        (3, "GET", "whoami", 500, "TransientError"),
    ]
    assert records[0].wait_seconds == 0 and records[1].wait_seconds > 0
    assert all(r.duration_ms >= 0 and r.started_at > 0 for r in records)
    assert caught.value.attempts == len(records) == 3
    assert caught.value.attempt_records == records
    assert "Gave up after 3 attempts" in caught.value.message
    json.dumps([r.to_dict() for r in records])


def test_a_successful_call_reports_its_one_attempt(make_client, qualtrics_sandbox):
    records: list[AttemptRecord] = []
    client = make_client()
    client.on_attempt = records.append

    client.whoami()

    [record] = records
    assert (record.method, record.path, record.status, record.error, record.retry_after) == (
        "GET",
        "whoami",
        200,
        None,
        None,
    )


def test_a_number_mapped_into_the_external_reference_is_sent_as_text(client, qualtrics_sandbox):
    from connectors.coercion import coerce_inputs

    card = registry.get("qualtrics.create_contact")
    inputs, problems = coerce_inputs(card, {"external_reference": 5, "first_name": "Ada", "unsubscribed": "no"})
    assert problems == []

    run_card(client, card.key, {"directory_id": qualtrics_sandbox.directory_id}, inputs)
    # The card sends text even when the engine did not convert first.
    run_card(client, card.key, {"directory_id": qualtrics_sandbox.directory_id}, {"external_reference": 6})

    bodies = [json.loads(r["body"]) for r in posts(qualtrics_sandbox, "directories")]
    assert bodies == [{"firstName": "Ada", "extRef": "5", "unsubscribed": False}, {"extRef": "6"}]
