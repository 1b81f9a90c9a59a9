"""Real worker processes: the django-tasks-db worker on the embedded default, Celery on Redis.

The suite runs these twice: on SQLite with the database worker (`manage.py worker`), and (marked `scaleout`) on
PostgreSQL + Redis with a Celery worker, both started as separate processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
import requests
from django.urls import reverse

from accounts.models import Role
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.activation import flow_activate
from designer.models import Run, RunStatus
from tests.processes import wait_for

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def flow(team, sandbox_configuration, qualtrics_sandbox):
    membership = team.memberships.get(role=Role.OWNER)
    configuration = sandbox_configuration
    definition = {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration.pk,
                  "options": {"survey_id": qualtrics_sandbox.survey_id}},
        "steps": [{
            "id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": configuration.pk,
            "options": {"directory_id": qualtrics_sandbox.directory_id, "mailing_list_id": qualtrics_sandbox.mailing_list_id},
            "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"},
        }],
    }
    item = services.flow_create(membership=membership, name="Newsletter")
    services.flow_save(membership=membership, flow=item, definition=definition, base_version=0)
    services.flow_publish(membership=membership, flow=item)
    return item


def finished_runs(flow) -> int:
    return Run.objects.filter(flow=flow, status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]).count()


def contacts(sandbox) -> list[dict]:
    client = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)
    return client.list_mailing_list_contacts(sandbox.directory_id, sandbox.mailing_list_id)


def test_a_webhook_run_completes_on_a_real_worker(workers, flow, qualtrics_sandbox):
    workers()
    activation = flow_activate(flow=flow)
    assert activation.status == "active_webhook"
    qualtrics_sandbox.record_response(values={"recipientEmail": "worker@example.com"})
    wait_for(lambda: finished_runs(flow) == 1)
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert [c["email"] for c in contacts(qualtrics_sandbox)] == ["worker@example.com"]


def test_a_worker_killed_mid_run_leaves_a_run_that_completes_after_restart(workers, flow, qualtrics_sandbox):
    from django.core.management import call_command

    first = workers()
    activation = flow_activate(flow=flow)
    qualtrics_sandbox.add_latency(4.0, "surveys", method="GET", count=1)  # the response fetch hangs
    qualtrics_sandbox.record_response(values={"recipientEmail": "survivor@example.com"})
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING).exists())
    first.kill()
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.RUNNING
    workers()
    time.sleep(2.5)  # the dead worker's lease runs out
    call_command("scheduler", "--once")
    wait_for(lambda: finished_runs(flow) == 1)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    assert [c["email"] for c in contacts(qualtrics_sandbox)] == ["survivor@example.com"]
    assert activation.pk


def test_a_burst_of_deliveries_is_drained_once_each(workers, flow, qualtrics_sandbox, live_server):
    workers()
    activation = flow_activate(flow=flow)
    qualtrics_sandbox.drop_deliveries(10_000)  # this test posts the deliveries itself
    url = live_server.url + reverse("qualtrics_webhook", args=[activation.pk, activation.secret])
    session = requests.Session()
    total = 150
    for index in range(total):
        response_id = qualtrics_sandbox.record_response(values={"recipientEmail": f"b{index}@example.com"}, notify=False)
        msg = json.dumps({"Status": "Complete", "SurveyID": activation.options["survey_id"], "ResponseID": response_id})
        mac = hmac.new(activation.shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()
        form = {"Topic": f"b.surveyengine.completedResponse.{activation.options["survey_id"]}", "MSG": msg, "HMAC": mac}
        for _ in range(1 + (index % 3 == 0)):  # every third one twice, as a retrying sender would
            assert session.post(url, data=form, timeout=10).status_code == 200
    wait_for(lambda: finished_runs(flow) == total, timeout=120)
    assert Run.objects.filter(flow=flow).count() == total
    assert Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == total
    assert len(contacts(qualtrics_sandbox)) == total


def test_a_workers_scheduler_thread_takes_up_a_run_whose_worker_died(workers, flow, qualtrics_sandbox):
    """No `manage.py scheduler` runs: the new worker's own scheduler thread finds the stalled run."""
    first = workers()
    flow_activate(flow=flow)
    qualtrics_sandbox.add_latency(4.0, "surveys", method="GET", count=1)  # the response fetch hangs
    qualtrics_sandbox.record_response(values={"recipientEmail": "taken-up@example.com"})
    wait_for(lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING).exists())
    first.kill()
    workers(scheduler_interval=1)
    wait_for(lambda: finished_runs(flow) == 1)
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    assert [c["email"] for c in contacts(qualtrics_sandbox)] == ["taken-up@example.com"]


def test_a_workers_scheduler_thread_polls_a_flow_without_a_webhook(workers, flow, qualtrics_sandbox, settings):
    """A flow on polling runs its responses with only a worker process started."""
    settings.PUBLIC_BASE_URL = ""  # no address Qualtrics could reach: the flow polls
    activation = flow_activate(flow=flow)
    assert activation.status == "active_polling"
    qualtrics_sandbox.record_response(values={"recipientEmail": "polled@example.com"})
    workers(scheduler_interval=1)
    wait_for(lambda: finished_runs(flow) == 1, timeout=60)
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert [c["email"] for c in contacts(qualtrics_sandbox)] == ["polled@example.com"]
