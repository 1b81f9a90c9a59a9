"""The database briefly unavailable while webhooks arrive and runs are in flight.

SQLite (the embedded default): another connection holds the write lock. Shorter than the busy
timeout (20 s), writers wait and carry on; longer, the webhook refuses with 503 so Qualtrics sends
the delivery again (these two go through the Django view). PostgreSQL (only with DATABASE_URL):
every other connection to the database is terminated, repeatedly, while deliveries arrive at
the server's intake and database workers' runs call Qualtrics; or the tables are locked while
deliveries arrive through the Django view and Celery workers run.

A delivery is either stored with its run (200) or refused with a retryable status (503), never
lost and never half-stored, and every run completes once the database is back.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection

from designer.activation import flow_activate
from designer.models import Delivery, Run, RunStatus
from tests.processes import wait_for
from tests.reliability.support import (
    QualtricsSender,
    contact_emails,
    contact_posts,
    finished,
    is_postgresql,
    postgresql_connect,
    report,
    sqlite_write_lock,
    webhook_form,
    webhook_path,
)


@pytest.fixture
def sqlite_database():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock; this run uses PostgreSQL")
    return connection.settings_dict["NAME"]


@pytest.fixture
def postgresql_database():
    if not is_postgresql():
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    return connection.settings_dict


def terminate_other_connections(settings_dict) -> int:
    """pg_terminate_backend on every connection to the test database but this test's own: the
    workers', the live server's (the webhook receiver) and the scheduler's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (own,) = cursor.fetchone()
    with postgresql_connect(settings_dict) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND pid <> %s AND backend_type = 'client backend'",
            [own],
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def assert_stored_once_and_completed(flow, sandbox, emails: list[str]) -> None:
    assert Delivery.objects.filter(flow=flow).count() == len(emails)
    assert Run.objects.filter(flow=flow).count() == len(emails)
    assert not Delivery.objects.filter(flow=flow, runs__isnull=True).exists(), "a delivery was stored without its run"
    statuses = list(Run.objects.filter(flow=flow).values_list("status", "error"))
    assert statuses == [(RunStatus.SUCCEEDED, "")] * len(emails), statuses
    assert len(contact_posts(sandbox, 200)) == len(emails), "a create was sent twice"
    assert contact_emails(sandbox) == sorted(emails)


def post_all(url: str, forms: list[dict], *, threads: int = 8) -> QualtricsSender:
    sender = QualtricsSender(url, retry_delay=0.5)
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(sender.post, forms))
    assert answers == [200] * len(forms)
    return sender


def run_scheduler_until_finished(flow, total: int, timeout: float = 120) -> None:
    """The scheduler's stalled-run pass, every 2.5 s, until every run has ended."""
    deadline = time.monotonic() + timeout
    while finished(flow) < total:
        assert time.monotonic() < deadline, f"{finished(flow)} of {total} runs ended"
        call_command("scheduler", "--once")
        time.sleep(2.5)


# SQLite --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_webhook_that_cannot_get_the_sqlite_write_lock_answers_503_and_is_stored_once_when_sent_again(
    sqlite_database, client, make_flow, qualtrics_sandbox, settings
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    activation = flow_activate(flow=flow)
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "locked@example.com"}, notify=False)
    form = webhook_form(activation, response_id)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 300")  # this connection gives up after 0.3 s instead of 20 s
    try:
        with sqlite_write_lock(sqlite_database, seconds=2):
            refused = client.post(webhook_path(activation), form)
            assert Delivery.objects.count() == 0 and Run.objects.count() == 0  # nothing half-stored
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 20000")
    assert refused.status_code == 503
    assert refused["Retry-After"]
    assert "again" in refused.json()["detail"]

    accepted = client.post(webhook_path(activation), form)  # Qualtrics sends it again
    again = client.post(webhook_path(activation), form)
    assert (accepted.status_code, again.status_code) == (200, 200)
    assert again.json()["detail"] == "Already received."
    assert Delivery.objects.filter(flow=flow, event_id=response_id).count() == 1
    assert Run.objects.filter(flow=flow, delivery__event_id=response_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_webhooks_and_runs_wait_out_a_sqlite_write_lock_and_everything_is_stored_and_run_once(
    sqlite_database, workers, live_server, make_flow, qualtrics_sandbox
):
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = live_server.url + webhook_path(activation)
    workers()
    workers()
    qualtrics_sandbox.add_latency(0.15, "")  # runs spend their time waiting on Qualtrics
    emails = [f"lock-{index}@example.com" for index in range(20)]
    forms = [
        webhook_form(activation, qualtrics_sandbox.record_response(values={"recipientEmail": e}, notify=False))
        for e in emails
    ]

    post_all(url, forms[:6])
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING).exists(), timeout=30)
    started = time.monotonic()
    with sqlite_write_lock(sqlite_database, seconds=3):
        sender = post_all(url, forms[6:])
    lock_seconds = time.monotonic() - started
    wait_for(lambda: finished(flow) == len(emails), timeout=120)

    assert_stored_once_and_completed(flow, qualtrics_sandbox, emails)
    report(
        "SQLite write lock held 3 s",
        deliveries=len(emails),
        posted_during_lock=len(forms) - 6,
        attempts=len(sender.statuses),
        refused=sum(1 for s in sender.statuses if s != 200),
        intake_seconds=f"{lock_seconds:.1f}",
        runs_succeeded=len(emails),
    )


# PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.scaleout
@pytest.mark.django_db(transaction=True)
def test_deliveries_and_runs_survive_postgresql_terminating_every_connection_again_and_again(
    postgresql_database, settings, product_server, workers, make_flow, qualtrics_sandbox
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # as the server and the workers
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = product_server().url + webhook_path(activation)
    workers(database_tasks=True)
    workers(database_tasks=True)
    qualtrics_sandbox.add_latency(1.5, "directories", method="POST")  # creates in flight when connections drop
    qualtrics_sandbox.add_latency(0.3, "")
    emails = [f"terminated-{index}@example.com" for index in range(12)]
    forms = [
        webhook_form(activation, qualtrics_sandbox.record_response(values={"recipientEmail": e}, notify=False))
        for e in emails
    ]

    sender = QualtricsSender(url, retry_delay=0.5)

    def deliver_slowly() -> None:  # deliveries keep arriving while connections are cut
        for form in forms:
            assert sender.post(form) == 200
            time.sleep(0.3)

    intake = threading.Thread(target=deliver_slowly)
    intake.start()
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING).exists(), timeout=30)
    terminated = 0
    for _ in range(5):
        terminated += terminate_other_connections(postgresql_database)
        time.sleep(0.8)
    intake.join(120)
    run_scheduler_until_finished(flow, len(emails))

    assert_stored_once_and_completed(flow, qualtrics_sandbox, emails)
    attempts = list(Run.objects.filter(flow=flow).values_list("attempts", flat=True))
    report(
        "PostgreSQL connections terminated 5 times",
        deliveries=len(emails),
        connections_terminated=terminated,
        webhook_attempts=len(sender.statuses),
        refused=sum(1 for s in sender.statuses if s != 200),
        runs_resumed=sum(1 for a in attempts if a > 1),
        runs_succeeded=len(emails),
    )


@pytest.mark.slow
@pytest.mark.scaleout
@pytest.mark.django_db(transaction=True)
def test_webhooks_and_runs_wait_out_locked_postgresql_tables_and_everything_is_stored_and_run_once(
    postgresql_database, workers, live_server, make_flow, qualtrics_sandbox
):
    flow = make_flow()
    activation = flow_activate(flow=flow)
    url = live_server.url + webhook_path(activation)
    workers()
    workers()
    qualtrics_sandbox.add_latency(0.15, "")
    emails = [f"pglock-{index}@example.com" for index in range(20)]
    forms = [
        webhook_form(activation, qualtrics_sandbox.record_response(values={"recipientEmail": e}, notify=False))
        for e in emails
    ]

    post_all(url, forms[:5])
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING).exists(), timeout=30)
    senders: list[QualtricsSender] = []
    with postgresql_connect(postgresql_database) as locker, locker.transaction():
        locker.execute("LOCK TABLE designer_delivery, designer_run, designer_runstep IN ACCESS EXCLUSIVE MODE")
        intake = threading.Thread(target=lambda: senders.append(post_all(url, forms[5:])))
        intake.start()
        time.sleep(3)
        assert intake.is_alive()  # the deliveries wait for the lock
    intake.join(60)
    assert senders, "the deliveries were not all accepted"
    wait_for(lambda: finished(flow) == len(emails), timeout=120)

    assert_stored_once_and_completed(flow, qualtrics_sandbox, emails)
    report(
        "PostgreSQL tables locked 3 s",
        deliveries=len(emails),
        posted_during_lock=len(forms) - 5,
        runs_succeeded=len(emails),
    )
