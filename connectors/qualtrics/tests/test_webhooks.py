"""Event subscriptions: the sandbox delivers completedResponse events like Qualtrics does."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest

from connectors.qualtrics.errors import MaybeAppliedError


def subscribe(client, listener, topics="surveyengine.completedResponse.*", key="s3cret-shared-key"):
    return client.create_event_subscription(topics=topics, publication_url=f"{listener.url}/hook", shared_key=key)


def test_a_recorded_response_is_delivered_form_encoded_with_a_valid_hmac(client, qualtrics_sandbox, recording_listener):
    subscribe(client, recording_listener)
    survey_id = qualtrics_sandbox.survey_id

    response_id = client.create_response(survey_id, {"QID1": 1})

    [request] = recording_listener.wait_for(1)
    assert request["method"] == "POST"
    assert request["path"] == "/hook"
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    form = request["form"]
    brand_id = qualtrics_sandbox.info.brand_id
    assert form["Topic"] == f"{brand_id}.surveyengine.completedResponse.{survey_id}"
    message = json.loads(form["MSG"])
    assert message["Status"] == "Complete"
    assert (message["SurveyID"], message["ResponseID"], message["BrandID"]) == (survey_id, response_id, brand_id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", message["CompletedDate"])
    expected = hmac.new(b"s3cret-shared-key", form["MSG"].encode(), hashlib.sha512).hexdigest()
    assert len(form["HMAC"]) == 128
    assert hmac.compare_digest(form["HMAC"], expected)


def test_delivery_attempts_are_recorded_with_their_status(client, qualtrics_sandbox, recording_listener):
    subscription_id = subscribe(client, recording_listener)

    qualtrics_sandbox.record_response(values={"QID1": 2})

    [delivery] = qualtrics_sandbox.wait_for_deliveries(1)
    assert (delivery["subscription_id"], delivery["status"], delivery["dropped"]) == (subscription_id, 200, False)
    assert delivery["url"] == f"{recording_listener.url}/hook"
    assert client.get_event_subscription(subscription_id)["successfulPublications"] == 1


@pytest.mark.parametrize(
    ("topics", "delivered"),
    [
        ("surveyengine.completedResponse.{survey}", True),
        ("surveyengine.completedResponse.*", True),
        ("*", True),
        ("surveyengine.*", True),
        ("surveyengine.completedResponse.SV_other000000000", False),
        ("controlpanel.activateSurvey", False),
    ],
)
def test_only_subscriptions_whose_topic_matches_receive_the_event(
    topics, delivered, client, qualtrics_sandbox, recording_listener
):
    subscribe(client, recording_listener, topics=topics.format(survey=qualtrics_sandbox.survey_id))

    qualtrics_sandbox.record_response(values={"QID1": 3})

    if delivered:
        assert len(recording_listener.wait_for(1)) == 1
    else:
        time.sleep(0.1)
        assert recording_listener.requests == []


def test_unfinished_responses_are_not_delivered(client, qualtrics_sandbox, recording_listener):
    subscribe(client, recording_listener)

    qualtrics_sandbox.record_response(values={"QID1": 3, "finished": 0, "progress": 40})

    time.sleep(0.1)
    assert recording_listener.requests == []


def test_dropped_deliveries_never_arrive_but_are_recorded(client, qualtrics_sandbox, recording_listener):
    subscribe(client, recording_listener)
    qualtrics_sandbox.drop_deliveries(1)

    lost = qualtrics_sandbox.record_response(values={"QID1": 1})
    kept = qualtrics_sandbox.record_response(values={"QID1": 2})

    [request] = recording_listener.wait_for(1)
    assert json.loads(request["form"]["MSG"])["ResponseID"] == kept
    deliveries = qualtrics_sandbox.wait_for_deliveries(2)
    dropped = [d for d in deliveries if d["dropped"]]
    assert [json.loads(d["msg"])["ResponseID"] for d in dropped] == [lost]


def test_a_failing_receiver_is_recorded_with_its_status(client, qualtrics_sandbox, recording_listener):
    recording_listener.status = 500
    subscribe(client, recording_listener)

    qualtrics_sandbox.record_response(values={"QID1": 1})

    [delivery] = qualtrics_sandbox.wait_for_deliveries(1)
    assert delivery["status"] == 500


def test_subscription_creation_can_be_made_to_fail_and_is_sent_once(client, qualtrics_sandbox, recording_listener):
    qualtrics_sandbox.fail_subscription_creation(count=10, status=500)

    with pytest.raises(MaybeAppliedError):
        subscribe(client, recording_listener)

    assert qualtrics_sandbox.brand.subscriptions == {}
    assert len(qualtrics_sandbox.requests("eventsubscriptions", method="POST")) == 1


def test_a_subscription_without_a_shared_key_sends_no_hmac(client, qualtrics_sandbox, recording_listener):
    client.create_event_subscription(topics="*", publication_url=recording_listener.url, shared_key="")

    qualtrics_sandbox.record_response(values={"QID1": 1})

    [request] = recording_listener.wait_for(1)
    assert "HMAC" not in request["form"]
