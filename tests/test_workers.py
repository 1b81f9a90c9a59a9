"""Real worker processes: the django-tasks-db worker on the embedded default, Celery on Redis.

The suite runs these twice: on SQLite with the database worker, and (marked `scaleout`) on
PostgreSQL + Redis with a Celery worker, both started as separate processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse

from accounts.models import Configuration, Role
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.activation import flow_activate
from designer.models import Run, RunStatus

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


def _database_env() -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(db["NAME"])}
    return {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


class Worker:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        if django_settings.REDIS_URL:
            command = [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "--pool", "solo",
                       "--concurrency", "1", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]
        else:
            command = [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.1", "--no-startup-delay"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_env(settings, live_server, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.RUN_LEASE_SECONDS = 2
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "DATABASE_URL")}
    env.update(_database_env())
    env.update({
        "QUALTRICS_API_BASE": qualtrics_sandbox.api_base_template,
        "PUBLIC_BASE_URL": live_server.url,
        "RUN_LEASE_SECONDS": "2",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    })
    return env


@pytest.fixture
def workers(worker_env):
    started: list[Worker] = []

    def start() -> Worker:
        worker = Worker(worker_env).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def flow(team, qualtrics_sandbox):
    membership = team.memberships.get(role=Role.OWNER)
    configuration = Configuration(team=team, owner=membership.user, name="Sandbox", datacenter=qualtrics_sandbox.datacenter, shared=True)
    configuration.api_token = qualtrics_sandbox.token
    configuration.save()
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
    return item


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("Timed out waiting")


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
        msg = json.dumps({"Status": "Complete", "SurveyID": activation.survey_id, "ResponseID": response_id})
        mac = hmac.new(activation.shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()
        form = {"Topic": f"b.surveyengine.completedResponse.{activation.survey_id}", "MSG": msg, "HMAC": mac}
        for _ in range(1 + (index % 3 == 0)):  # every third one twice, as a retrying sender would
            assert session.post(url, data=form, timeout=10).status_code == 200
    wait_for(lambda: finished_runs(flow) == total, timeout=120)
    assert Run.objects.filter(flow=flow).count() == total
    assert Run.objects.filter(flow=flow, status=RunStatus.SUCCEEDED).count() == total
    assert len(contacts(qualtrics_sandbox)) == total
