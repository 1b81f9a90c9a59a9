"""The sandbox keeps a bounded log of its event deliveries and still counts every attempt."""

from __future__ import annotations

from connectors.qualtrics.sandbox.state import SandboxState


def test_the_delivery_log_keeps_the_last_attempts_and_counts_them_all(qualtrics_sandbox, monkeypatch):
    monkeypatch.setattr(SandboxState, "DELIVERY_LOG_SIZE", 3)
    qualtrics_sandbox.reset("default")  # the log is made again with the smaller size
    qualtrics_sandbox.state.brands[qualtrics_sandbox.info.brand_id].subscriptions["SUB_x"] = {
        "id": "SUB_x",
        "topics": "*",
        "publicationUrl": "http://127.0.0.1:9/hook",
        "successfulPublications": 0,
        "sharedKey": None,
    }
    qualtrics_sandbox.drop_deliveries(5)

    response_ids = [qualtrics_sandbox.record_response(values={"QID1": 1}) for _ in range(5)]

    deliveries = qualtrics_sandbox.wait_for_deliveries(5, timeout=1)
    assert len(deliveries) == 3
    assert [d["dropped"] for d in deliveries] == [True, True, True]
    assert [response_id in d["msg"] for d, response_id in zip(deliveries, response_ids[2:], strict=True)] == [True] * 3
    assert qualtrics_sandbox.state.delivery_count == 5
