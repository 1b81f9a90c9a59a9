"""The webhook receiver as it is served in production: `config.server`, the ASGI intake and its
inbox, which stores the deliveries that arrive together in one transaction (the server runs as a separate
process on the test database)."""

from __future__ import annotations

import concurrent.futures
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
def test_while_runs_queue_up_the_deliveries_are_gathered_longer_and_all_stored(product_server, make_flow,
                                                                             qualtrics_sandbox):
    # No worker runs here: every delivery's run stays queued. Once one run is queued, the inbox
    # gathers each batch for the longest hold before it stores and answers it.
    server = product_server(WEBHOOK_PACE_FROM_RUNS="0", WEBHOOK_PACE_FULL_RUNS="1", WEBHOOK_PACE_MAX_HOLD_MS="1500")
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = server.url + webhook_path(activation)
    http = http_session()

    def timed_post(form, target=url):
        started = time.monotonic()
        answer = http.post(target, data=form, timeout=15)
        return answer.status_code, answer.json()["detail"], time.monotonic() - started

    status, detail, took = timed_post(webhook_form(activation, "R_paced1"))
    assert (status, detail) == (200, "Accepted.") and took < 1.0  # no run was waiting
    time.sleep(0.1)  # the queue is counted at most every 50 ms
    status, detail, took = timed_post(webhook_form(activation, "R_paced2"))
    assert (status, detail) == (200, "Accepted.") and took >= 1.4
    status, detail, took = timed_post(webhook_form(activation, "R_paced2"))  # sent again
    assert (status, detail) == (200, "Already received.") and took >= 1.4

    # Senders posting together while a batch is held are all stored in that batch, and answered with it.
    forms = [webhook_form(activation, f"R_together{index}") for index in range(6)]
    wrong = url.replace(activation.secret, "not-the-secret")
    with concurrent.futures.ThreadPoolExecutor(len(forms) + 1) as pool:
        started = time.monotonic()
        posts = [pool.submit(http_session().post, url, data=form, timeout=15) for form in forms]
        refused = pool.submit(http_session().post, wrong, data=forms[0], timeout=15)
        answers = [post.result() for post in posts]
        took = time.monotonic() - started
    assert [a.json()["detail"] for a in answers] == ["Accepted."] * len(forms)
    assert (refused.result().status_code, refused.result().json()) == (404, {"detail": "Unknown webhook."})
    assert 1.4 <= took < 1.5 * 2  # one hold for them all, not one each
    assert Delivery.objects.filter(flow=flow).count() == 2 + len(forms)
    assert Run.objects.filter(flow=flow, status="queued").count() == 2 + len(forms)


@pytest.mark.scaleout
def test_with_no_longest_hold_nothing_is_held(product_server, make_flow, qualtrics_sandbox):
    server = product_server(WEBHOOK_PACE_FROM_RUNS="0", WEBHOOK_PACE_FULL_RUNS="1", WEBHOOK_PACE_MAX_HOLD_MS="0")
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = server.url + webhook_path(activation)
    http = http_session()
    for index in range(3):
        started = time.monotonic()
        assert http.post(url, data=webhook_form(activation, f"R_unpaced{index}"), timeout=15).status_code == 200
        assert time.monotonic() - started < 1.0
        time.sleep(0.1)
    assert Run.objects.filter(flow=flow, status="queued").count() == 3
