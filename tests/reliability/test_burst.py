"""A burst of 10,000 webhook deliveries, a tenth of them sent twice, through the real receiver.

Three senders post at once (so a duplicate may arrive while its first copy is being stored).
Intake is counted with Django's dummy task backend (runs are stored and enqueued, not executed);
then a sample of the stored runs is drained by a real worker process.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import Count
from django.tasks import task_backends
from django.test import Client

from designer.activation import flow_activate
from designer.models import Delivery, Run, RunStatus
from designer.tasks import execute_run
from tests.reliability.support import contact_emails, contact_posts, report, wait_for, webhook_form, webhook_path

pytestmark = [pytest.mark.slow, pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]

TOTAL = 10_000
DUPLICATE_EVERY = 10
SAMPLE = 100
SENDERS = 3


def send(path: str, forms: dict, response_ids: list[str]) -> Counter:
    """One sender (its own client, database connection and task backend) posting its share."""
    client = Client()
    answers: Counter = Counter()
    try:
        for response_id in response_ids:
            response = client.post(path, forms[response_id])
            answers[(response.status_code, response.json()["detail"])] += 1
        answers["tasks enqueued"] = len(task_backends["default"].results)
    finally:
        connection.close()
    return answers


def test_a_burst_of_10000_deliveries_with_duplicates_gives_exactly_10000_deliveries_and_runs(
    settings, workers, make_flow, qualtrics_sandbox
):
    real_tasks = settings.TASKS
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    activation = flow_activate(flow=flow)
    sample_emails = [f"burst-{index}@example.com" for index in range(SAMPLE)]
    sample_ids = [qualtrics_sandbox.record_response(values={"recipientEmail": e}, notify=False) for e in sample_emails]
    response_ids = sample_ids + [f"R_burst{index:06d}" for index in range(TOTAL - SAMPLE)]
    posts = response_ids + response_ids[::DUPLICATE_EVERY]
    random.Random(7).shuffle(posts)
    forms = {response_id: webhook_form(activation, response_id) for response_id in response_ids}
    path = webhook_path(activation)

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        answers = sum(
            pool.map(send, [path] * SENDERS, [forms] * SENDERS, [posts[index::SENDERS] for index in range(SENDERS)]),
            Counter(),
        )
    intake_seconds = time.monotonic() - started

    duplicates = len(posts) - TOTAL
    assert answers == {(200, "Accepted."): TOTAL, (200, "Already received."): duplicates, "tasks enqueued": TOTAL}
    assert Delivery.objects.filter(flow=flow).count() == TOTAL
    assert Delivery.objects.filter(flow=flow).values("response_id").distinct().count() == TOTAL
    assert Run.objects.filter(flow=flow, status=RunStatus.QUEUED).count() == TOTAL
    assert not Delivery.objects.annotate(n=Count("runs")).exclude(n=1).exists(), "a delivery without exactly one run"

    settings.TASKS = real_tasks
    sample = list(Run.objects.filter(flow=flow, delivery__response_id__in=sample_ids).values_list("pk", flat=True))
    workers()
    drain_started = time.monotonic()
    for run_id in sample:
        execute_run.enqueue(run_id)
    wait_for(
        lambda: Run.objects.filter(pk__in=sample, status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]).count() == SAMPLE,
        timeout=120,
    )
    drain_seconds = time.monotonic() - drain_started

    assert Run.objects.filter(pk__in=sample, status=RunStatus.SUCCEEDED, attempts=1).count() == SAMPLE
    assert Run.objects.filter(flow=flow, status=RunStatus.QUEUED).count() == TOTAL - SAMPLE
    assert len(contact_posts(qualtrics_sandbox)) == SAMPLE
    assert contact_emails(qualtrics_sandbox) == sorted(sample_emails)
    report(
        "burst",
        posts=len(posts),
        duplicates=duplicates,
        deliveries=TOTAL,
        runs=TOTAL,
        intake_seconds=f"{intake_seconds:.1f}",
        per_second=f"{len(posts) / intake_seconds:.0f}",
        sample_drained=SAMPLE,
        drain_seconds=f"{drain_seconds:.1f}",
    )
