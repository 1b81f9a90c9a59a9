"""The webhook receiver as it is served in production: `config.server`, the ASGI intake and its
inbox, which stores the deliveries that arrive together in one transaction (the server runs as a separate
process on the test database)."""

from __future__ import annotations

import time

import pytest
import requests

from designer.activation import flow_activate
from designer.models import Delivery, Run
from tests.reliability.support import http_session, webhook_form, webhook_path, write_lock


@pytest.mark.scaleout
def test_a_delivery_whose_sender_gave_up_while_the_database_was_locked_leaves_the_receiver_answering(
    product_server, make_flow, qualtrics_sandbox
):
    server = product_server()
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = server.url + webhook_path(activation)
    forms = [webhook_form(activation, f"R_intake{index}") for index in range(3)]
    http = http_session()
    assert http.post(url, data=forms[0], timeout=10).json() == {"detail": "Accepted."}

    with write_lock(seconds=4):
        with pytest.raises(requests.Timeout):
            http.post(url, data=forms[1], timeout=0.5)  # the sender stops waiting and hangs up
        time.sleep(2)

    started = time.monotonic()
    answer = http.post(url, data=forms[2], timeout=15)
    assert (answer.status_code, answer.json()) == (200, {"detail": "Accepted."})
    assert time.monotonic() - started < 5
    again = http.post(url, data=forms[1], timeout=15)  # the abandoned delivery, sent again
    assert again.status_code == 200 and again.json()["detail"] in ("Accepted.", "Already received.")
    assert Delivery.objects.filter(flow=flow).count() == 3
    assert Run.objects.filter(flow=flow).count() == 3


@pytest.mark.scaleout
def test_while_runs_queue_up_the_answers_are_held_after_the_deliveries_are_stored(product_server, make_flow,
                                                                                    qualtrics_sandbox):
    # No worker runs here: every delivery's run stays queued. From the second queued run on, the
    # answer of a stored delivery is held the longest hold; an answer that stores nothing is not.
    server = product_server(WEBHOOK_PACE_FROM_RUNS="1", WEBHOOK_PACE_FULL_RUNS="2", WEBHOOK_PACE_MAX_HOLD_MS="1500")
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = server.url + webhook_path(activation)
    http = http_session()

    def timed_post(form, target=url):
        started = time.monotonic()
        answer = http.post(target, data=form, timeout=15)
        return answer.status_code, answer.json()["detail"], time.monotonic() - started

    status, detail, took = timed_post(webhook_form(activation, "R_paced1"))
    assert (status, detail) == (200, "Accepted.") and took < 1.0
    time.sleep(0.1)  # the queue is counted at most every 50 ms
    status, detail, took = timed_post(webhook_form(activation, "R_paced2"))
    assert (status, detail) == (200, "Accepted.") and took >= 1.5
    assert Run.objects.filter(flow=flow, status="queued").count() == 2
    status, detail, took = timed_post(webhook_form(activation, "R_paced2"))  # sent again: held as well
    assert (status, detail) == (200, "Already received.") and took >= 1.5
    status, detail, took = timed_post({**webhook_form(activation, "R_paced3"), "MSG": "{}"})  # signature fails
    assert status == 403 and took < 1.0
    wrong = url.replace(activation.secret, "not-the-secret")
    status, detail, took = timed_post(webhook_form(activation, "R_paced4"), wrong)
    assert (status, detail) == (404, "Unknown webhook.") and took < 1.0
    assert Delivery.objects.filter(flow=flow).count() == 2
