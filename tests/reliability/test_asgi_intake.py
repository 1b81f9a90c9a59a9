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
