"""Helpers of the fault-injection tests: worker processes, signed deliveries, a Qualtrics-like
sender that sends again after a 5xx, and counts of what the sandbox received."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from django.db import connection
from django.urls import reverse

from connectors.qualtrics.client import QualtricsClient
from designer.models import Run, RunStatus

ROOT = Path(__file__).resolve().parents[2]
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.ATTENTION)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def read_contacts_step(configuration_id: int, sandbox) -> dict:
    """A step that only reads (lists the mailing list's contacts): safe to repeat."""
    return {
        "id": "step_2",
        "card": "qualtrics.read_mailing_list_contacts",
        "configuration": configuration_id,
        "options": {"directory_id": sandbox.directory_id, "mailing_list_id": sandbox.mailing_list_id},
    }


def webhook_form(activation, response_id: str) -> dict[str, str]:
    """The form Qualtrics posts for a completed response, signed with the subscription's key."""
    msg = json.dumps(
        {
            "Status": "Complete",
            "SurveyID": activation.options["survey_id"],
            "ResponseID": response_id,
            "CompletedDate": "2026-11-30 10:00:00",
            "BrandID": "brand",
        }
    )
    mac = hmac.new(activation.shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()
    return {"Topic": f"brand.surveyengine.completedResponse.{activation.options["survey_id"]}", "MSG": msg, "HMAC": mac}


def webhook_path(activation) -> str:
    return reverse("qualtrics_webhook", args=[activation.pk, activation.secret])


def http_session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # loopback only; a proxy from the environment must not intercept
    return http


class QualtricsSender:
    """Posts deliveries as Qualtrics does: a refusal with 5xx (or no answer) is tried again later."""

    def __init__(self, url: str, *, timeout: float = 30.0, retry_delay: float = 0.5, max_tries: int = 20):
        self.url = url
        self.timeout = timeout
        self.retry_delay = retry_delay
        self.max_tries = max_tries
        self.statuses: list[int | None] = []  # every attempt's answer, None for no answer

    def post(self, form: dict[str, str]) -> int:
        session = http_session()
        for _ in range(self.max_tries):
            try:
                status = session.post(self.url, data=form, timeout=self.timeout).status_code
            except requests.RequestException:
                status = None
            self.statuses.append(status)
            if status is not None and status < 500:
                return status
            time.sleep(self.retry_delay)
        raise AssertionError(f"The receiver never accepted the delivery: {self.statuses[-3:]}")


def finished(flow) -> int:
    return Run.objects.filter(flow=flow, status__in=FINISHED).count()


def contact_emails(sandbox) -> list[str]:
    client = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)
    return sorted(c["email"] for c in client.list_mailing_list_contacts(sandbox.directory_id, sandbox.mailing_list_id))


def contact_posts(sandbox, status: int | None = None) -> list[dict]:
    """Create Contact calls the sandbox received (optionally only those it answered with `status`)."""
    calls = [r for r in sandbox.requests("directories", method="POST") if r["api_path"].endswith("/contacts")]
    return [r for r in calls if status is None or r["status"] == status]


def report(title: str, **figures) -> None:
    """One line of figures per scenario, shown with `pytest -s` / `-rP` (RELIABILITY.md quotes them)."""
    print(f"\n[reliability] {title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@contextmanager
def sqlite_write_lock(path: str, seconds: float):
    """Another connection takes SQLite's write lock (BEGIN EXCLUSIVE) and keeps it for `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            taken.set()
            time.sleep(seconds)
            other.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(30), "could not take the write lock"
    try:
        yield
    finally:
        thread.join(seconds + 30)


def postgresql_connect(settings_dict):
    import psycopg  # only PostgreSQL runs get here; SQLite processes do not load the driver

    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname=settings_dict["NAME"],
        autocommit=True,
    )


@contextmanager
def write_lock(seconds: float):
    """Another connection keeps the deliveries and runs tables from being written for `seconds`:
    SQLite's write lock, or PostgreSQL's ACCESS EXCLUSIVE table locks."""
    if connection.vendor == "sqlite":
        with sqlite_write_lock(connection.settings_dict["NAME"], seconds):
            yield
        return
    taken = threading.Event()

    def hold() -> None:
        with postgresql_connect(connection.settings_dict) as locker, locker.transaction():
            locker.execute("LOCK TABLE designer_delivery, designer_run IN ACCESS EXCLUSIVE MODE")
            taken.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(30), "could not lock the tables"
    try:
        yield
    finally:
        thread.join(seconds + 30)


class ProductServer:
    """`python -m config.server config.asgi:application` (uvicorn with the connection limits) as a
    separate process on the test database, as the product is served: webhook posts reach the
    ASGI intake and its batching inbox."""

    def __init__(self, env: dict[str, str]):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "config.server", "-b", "127.0.0.1", "-p", str(self.port), "-v", "0",
                   "config.asgi:application"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{self.url}/login/", timeout=2)
                break
            except requests.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the product's server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
