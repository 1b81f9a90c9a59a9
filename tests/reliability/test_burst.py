"""A burst of 10,000 webhook deliveries, a tenth of them sent twice, over HTTP to the receiver as
it is served in production (`config.server`, the ASGI intake and its batching inbox).

Eight senders post at once, so a duplicate may arrive while its first copy is being stored. No
worker runs during the burst: each run's task is a row next to it, so the intake is counted
exactly. Then two database workers drain the queue for a few seconds, and every run they finished
is checked.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db.models import Count
from django_tasks_db.models import DBTaskResult

from designer.activation import flow_activate
from designer.models import Delivery, Run, RunStatus
from tests.processes import wait_for
from tests.reliability.support import (
    contact_posts,
    http_session,
    report,
    webhook_form,
    webhook_path,
)

pytestmark = [pytest.mark.slow, pytest.mark.scaleout]

TOTAL = 10_000
DUPLICATE_EVERY = 10
SENDERS = 8
SAMPLE = 100


def test_a_burst_of_10000_deliveries_with_duplicates_gives_exactly_10000_deliveries_runs_and_tasks(
    product_server, workers, make_flow, qualtrics_sandbox
):
    server = product_server()
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = server.url + webhook_path(activation)
    emails = {}
    for index in range(TOTAL):
        email = f"burst-{index}@example.com"
        emails[qualtrics_sandbox.record_response(values={"recipientEmail": email}, notify=False)] = email
    response_ids = list(emails)
    posts = response_ids + response_ids[::DUPLICATE_EVERY]
    random.Random(7).shuffle(posts)
    forms = {response_id: webhook_form(activation, response_id) for response_id in response_ids}

    def send(share: list[str]) -> Counter:
        http = http_session()
        answers: Counter = Counter()
        for response_id in share:
            answer = http.post(url, data=forms[response_id], timeout=60)
            answers[(answer.status_code, answer.json()["detail"])] += 1
        return answers

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        answers = sum(pool.map(send, [posts[index::SENDERS] for index in range(SENDERS)]), Counter())
    intake_seconds = time.monotonic() - started

    duplicates = len(posts) - TOTAL
    assert answers == {(200, "Accepted."): TOTAL, (200, "Already received."): duplicates}
    assert Delivery.objects.filter(flow=flow).count() == TOTAL
    assert Delivery.objects.filter(flow=flow).values("event_id").distinct().count() == TOTAL
    assert not Delivery.objects.annotate(n=Count("runs")).exclude(n=1).exists(), "a delivery without exactly one run"
    assert Run.objects.filter(flow=flow, status=RunStatus.QUEUED).count() == TOTAL
    assert DBTaskResult.objects.count() == TOTAL  # one task per run

    drained = workers(database_tasks=True), workers(database_tasks=True)
    drain_started = time.monotonic()
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() >= SAMPLE, timeout=120)
    for worker in drained:
        worker.stop()  # each finishes the run it holds
    drain_seconds = time.monotonic() - drain_started

    done = list(Run.objects.filter(flow=flow).exclude(status=RunStatus.QUEUED).select_related("delivery"))
    assert {(run.status, run.attempts) for run in done} == {(RunStatus.SUCCEEDED, 1)}
    assert Run.objects.filter(flow=flow, status=RunStatus.QUEUED).count() == TOTAL - len(done)
    created = sorted(call["body"] for call in contact_posts(qualtrics_sandbox, 200))
    assert len(created) == len(done), "a create was sent twice"
    assert all(any(emails[run.delivery.event_id] in body for body in created) for run in done)
    report(
        "burst through the product's server",
        posts=len(posts),
        duplicates=duplicates,
        senders=SENDERS,
        deliveries=TOTAL,
        runs=TOTAL,
        tasks=TOTAL,
        intake_seconds=f"{intake_seconds:.1f}",
        per_second=f"{len(posts) / intake_seconds:.0f}",
        drained=len(done),
        drain_seconds=f"{drain_seconds:.1f}",
    )
