"""End-to-end webhook benchmark: Qualtrics-style deliveries in, completed runs out.

Starts the Qualtrics sandbox (`manage.py qualtrics_sandbox`), the product (`config.server` on
config.asgi with PUBLIC_BASE_URL pointing at it) and its worker(s), which run the scheduler in
a thread, as separate processes on 127.0.0.1, creates a team, a sandbox configuration and an active flow

    New Response -> Create Contact in Mailing List (email and first name from the response)

and then posts webhooks (form fields Topic, MSG, HMAC) at 1, 10 and 50 concurrent senders. Each
delivery names a response recorded in the sandbox beforehand, so the sandbox never delivers
events itself. A share of deliveries is sent twice, as a retrying Qualtrics would.

Embedded default: SQLite + django-tasks-db worker(s). `--scaleout`: a throwaway PostgreSQL and
Redis on loopback ports, Celery workers.

    .venv/bin/python bench/e2e_webhooks.py                 # embedded default
    .venv/bin/python bench/e2e_webhooks.py --scaleout      # PostgreSQL + Redis + Celery
    .venv/bin/python bench/e2e_webhooks.py --phases 50:3000 --profile bench/out

Each phase is bounded: at most --max-send-seconds of sending, then at most --drain-seconds
for the runs to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    NCPU,
    PY,
    ROOT,
    CpuSlice,
    Figure,
    Processes,
    Sampler,
    ThrowawayPostgres,
    ThrowawayRedis,
    base_env,
    cpu_times,
    django_setup,
    free_port,
    http_json,
    load_average,
    percentile,
    steal_share,
    table,
    verdict,
    wait_http,
    work_dir,
    work_dir_done,
)
from bench.profiling import ProfileSession  # noqa: E402

# How scripts/run starts the embedded worker(s); the benchmark mirrors it unless told otherwise.
RUN_SCRIPT_WORKERS = 2
RUN_SCRIPT_WORKER_INTERVAL = 0.1
# The app's default concurrency (config/celery.py).
CELERY_CONCURRENCY = 8
CELERY_POOL = "threads"  # config/celery.py

TARGET_RUNS_PER_S = 300
TARGET_P99_MS = 50
TARGET_RSS_MB = 300


@dataclass
class Delivery:
    index: int
    response_id: str
    email: str
    request: bytes


@dataclass
class Ack:
    index: int
    status: int
    seconds: float
    sent_at: float
    body: bytes


@dataclass
class PhaseResult:
    concurrency: int
    planned: int
    sent: int = 0
    acked: int = 0
    errors: Counter = field(default_factory=Counter)
    accepted: int = 0
    already: int = 0
    expected_runs: int = 0
    completed: int = 0
    succeeded: int = 0
    runs_per_s: float = 0.0
    acks_per_s: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max_ms: float = 0.0
    e2e_p50: float = 0.0
    e2e_p95: float = 0.0
    lost: int = 0
    duplicated: int = 0
    missing_calls: int = 0
    duplicate_calls: int = 0
    peak_rss_mb: float = 0.0
    sandbox_cpu: float = 0.0
    product_cpu: float = 0.0
    infra_cpu: float = 0.0
    bench_cpu: float = 0.0
    wall: float = 0.0
    load: str = ""
    product_cpu_s: float = 0.0
    infra_cpu_s: float = 0.0
    drain_s: float = 0.0
    drained: bool = True
    notes: list[str] = field(default_factory=list)
    process_cpu_s: dict[str, float] = field(default_factory=dict)
    steal: float = 0.0


# Sending -------------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length, chunked, close = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            close = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(parts)
    else:
        body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _send_all(port: int, deliveries: list[Delivery], concurrency: int, deadline: float) -> list[Ack]:
    queue = iter(deliveries)
    acks: list[Ack] = []

    async def connect():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def sender() -> None:
        reader, writer = await connect()
        try:
            for delivery in queue:
                if time.monotonic() > deadline:
                    break
                sent_at = time.time()
                started = time.perf_counter()
                try:
                    writer.write(delivery.request)
                    status, body, close = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
                    status, body, close = 0, b"", True
                acks.append(Ack(delivery.index, status, time.perf_counter() - started, sent_at, body))
                if close:
                    writer.close()
                    reader, writer = await connect()
        finally:
            writer.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return acks


def _form_request(port: int, path: str, form: dict[str, str]) -> bytes:
    body = urlencode(form).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nUser-Agent: qflows-bench\r\n\r\n"
    )
    return head.encode() + body


def record_deliveries(sandbox_url: str, info: dict, port: int, path: str, shared_key: str, phase: int, count: int,
                      dup_every: int) -> list[Delivery]:
    """A fresh sandbox (no subscription, no contacts, empty log) and `count` recorded responses."""
    http_json("POST", f"{sandbox_url}/_sandbox/reset", {"seed": "default"})
    recorded = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    import requests

    session = requests.Session()
    session.trust_env = False
    deliveries = []
    survey_id = info["survey_id"]
    topic = f"{info['brand_id']}.surveyengine.completedResponse.{survey_id}"
    for index in range(count):
        email = f"p{phase}-{index}@bench.example"
        response = session.post(f"{sandbox_url}/_sandbox/responses", json={
            "values": {"recipientEmail": email, "recipientFirstName": f"Ada{index}", "QID1": 1},
            "recorded_date": recorded,
        }, timeout=30)
        response.raise_for_status()
        response_id = response.json()["responseId"]
        msg = json.dumps({"Status": "Complete", "SurveyID": survey_id, "ResponseID": response_id,
                          "CompletedDate": recorded.replace("T", " ").rstrip("Z"), "BrandID": info["brand_id"]},
                         separators=(",", ":"))
        mac = hmac.new(shared_key.encode(), msg.encode(), hashlib.sha512).hexdigest()
        request = _form_request(port, path, {"Topic": topic, "MSG": msg, "HMAC": mac})
        deliveries.append(Delivery(index, response_id, email, request))
    session.close()
    # Every Nth delivery goes out a second time, later, as a retrying sender would.
    if dup_every:
        repeats = [d for d in deliveries if d.index % dup_every == 0]
        for offset, repeat in enumerate(repeats):
            position = min(len(deliveries), repeat.index + 7 + offset)
            deliveries.insert(position, repeat)
    return deliveries


# The sandbox's view of the runs -----------------------------------------------------------------


class ContactCalls:
    """Collects the sandbox's log of POST .../mailinglists/{id}/contacts calls while a phase runs.

    The sandbox keeps its last 5000 API calls; fetching every couple of seconds and merging by
    (time, body) keeps every call while fewer than 5000 arrive between two fetches.
    """

    def __init__(self, sandbox_url: str, interval: float = 2.0):
        self.url = f"{sandbox_url}/_sandbox/requests?path_prefix=directories&method=POST"
        self.interval = interval
        self.seen: dict[tuple[float, str], dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def fetch(self) -> None:
        for entry in http_json("GET", self.url, timeout=60)["requests"]:
            if "/mailinglists/" in entry["api_path"] and entry["api_path"].endswith("/contacts"):
                self.seen[(entry["at"], entry["body"])] = entry

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.fetch()
            except OSError:
                pass

    def start(self) -> ContactCalls:
        self._thread.start()
        return self

    def stop(self) -> Counter:
        self._stop.set()
        self._thread.join(30)
        self.fetch()
        emails = Counter()
        for entry in self.seen.values():
            if entry["status"] and 200 <= entry["status"] < 300:
                emails[json.loads(entry["body"]).get("email")] += 1
        return emails


# The benchmark ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.mode = "scale-out (PostgreSQL + Redis + Celery)" if args.scaleout else "embedded (SQLite + db_worker)"
        self.work = work_dir("qflows-bench-e2e-")
        self.data = self.work / "data"
        self.data.mkdir()
        self.port = free_port()
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.pg: ThrowawayPostgres | None = None
        self._pg_kinds: dict[int, str] = {}
        self.redis: ThrowawayRedis | None = None
        self.procs: Processes | None = None
        self.slices: list[CpuSlice] = []  # --celery-cpu
        self.profile: ProfileSession | None = None

    def longest_hold_ms(self) -> int:
        """The longest hold of a stored delivery's answer while runs queue up (0: never held), as
        the product's settings read it (Django is set up here with the product's environment)."""
        from django.conf import settings

        return max(0, settings.WEBHOOK_PACE_MAX_HOLD_MS)

    # Set-up ----------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        extra = {
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "QUALTRICS_API_BASE": f"{self.sandbox_url}/{{datacenter}}/API/v3/",
            # The benchmark measures the webhook path: no reconciliation poll in the middle of it.
            "RECONCILE_INTERVAL_SECONDS": "3600",
            # Qualtrics allows a brand 3,000 calls a minute (connectors/qualtrics/limits.py): with two
            # calls a run the shared rate limiter holds a flow to 25 runs/s, whatever the product
            # could do. The limiter still takes its tokens for every call; only the figure is lifted.
            "QUALTRICS_RATE_LIMITS": self.args.rate_limits,
        }
        if self.args.pace_max_hold_ms is not None:
            extra["WEBHOOK_PACE_MAX_HOLD_MS"] = str(self.args.pace_max_hold_ms)
        if self.args.scaleout:
            settings = list(self.args.pg_setting)
            if self.args.pg_statements:
                settings += ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_planning=on"]
            self.pg = ThrowawayPostgres(self.work, settings=settings).start()
            self.redis = ThrowawayRedis(self.work).start()
            extra.update(DATABASE_URL=self.pg.url, REDIS_URL=self.redis.url)
        else:
            extra["SQLITE_PATH"] = str(self.data / "db.sqlite3")
        return base_env(self.data, **extra)

    def start(self) -> None:
        env = self.env()
        self.procs = procs = Processes(env, self.work)
        procs.start("sandbox", [PY, "manage.py", "qualtrics_sandbox", "--port", str(self.sandbox_port), "--seed", "default"],
                    product=False)
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        wait_http(f"{self.sandbox_url}/_sandbox/", procs=procs)
        django_setup(env)
        if self.args.pg_statements:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        self.create_flow()
        if self.args.seed_deliveries:
            self.seed_history(self.args.seed_deliveries)
        procs.start("server", [PY, "-m", "config.server", "-b", "127.0.0.1", "-p", str(self.port),
                               "config.asgi:application"])
        workers = self.args.workers
        if self.args.intake_only:
            self.worker_desc = "none (--intake-only: runs stay queued)"
        elif self.args.scaleout:
            concurrency = workers or CELERY_CONCURRENCY
            pool = ["--pool", self.args.celery_pool] if self.args.celery_pool else []
            count = self.args.celery_processes
            for index in range(count):  # the scheduler's thread in the first only, as with db_worker
                name = "celery" if index == 0 else f"celery-{index}"
                proc = procs.start(name, [PY, "-m", "celery", "-A", "config.celery", "worker", "--loglevel", "WARNING",
                                          "--concurrency", str(concurrency), *pool, "--without-gossip",
                                          "--without-mingle", "--hostname", f"bench{index}@%h"],
                                   env={"SCHEDULER_IN_WORKERS": "false"} if index else None)
                if self.args.celery_cpu:  # each process its own slice (all its threads, and what it starts)
                    self.slices.append(CpuSlice(name, self.args.celery_cpu))
                    self.slices[-1].add(proc.pid)
            self.worker_desc = (f"{count} × celery --pool {self.args.celery_pool or CELERY_POOL} "
                                f"--concurrency {concurrency}, scheduler in the first worker"
                                + (f", each held to {self.args.celery_cpu:g} of a core" if self.args.celery_cpu else ""))
        else:
            count = workers or RUN_SCRIPT_WORKERS
            interval = self.args.worker_interval if self.args.worker_interval is not None else RUN_SCRIPT_WORKER_INTERVAL
            for index in range(count):
                procs.start(f"worker-{index}", [PY, "manage.py", "worker", "--queue-name", "*",
                                                "--interval", str(interval), *(["--no-scheduler"] if index else [])])
            self.worker_desc = (f"{count} worker process(es) (db_worker, the first with the scheduler thread), "
                                f"--interval {interval}")
        if self.args.intake_only:
            procs.start("scheduler", [PY, "manage.py", "scheduler"])
        wait_http(self.hook_url, procs=procs)
        self.wait_first_poll()

    def create_flow(self) -> None:
        from django.contrib.auth import get_user_model

        from accounts import services as team_services
        from accounts.models import Configuration, Role
        from designer import services
        from designer.activation import flow_activate

        info = http_json("GET", f"{self.sandbox_url}/_sandbox/")["seed"]
        self.info = info
        user = get_user_model().objects.create_user("bench", password="bench-password-123")
        team = team_services.team_create(name="Bench", owner=user)
        membership = team.memberships.get(role=Role.OWNER)
        configuration = Configuration(team=team, owner=user, connector="qualtrics", name="Sandbox", shared=True)
        configuration.credentials = {"datacenter": info["datacenter"], "api_token": info["token"], "username": ""}
        configuration.save()
        definition = {
            "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration.pk,
                      "options": {"survey_id": info["survey_id"]}},
            "steps": [{
                "id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": configuration.pk,
                "options": {"directory_id": info["directory_id"], "mailing_list_id": info["mailing_list_id"]},
                "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": {"ref": "trigger.recipient_name"}},
            }],
        }
        flow = services.flow_create(membership=membership, name="Newsletter signup")
        services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
        services.flow_publish(membership=membership, flow=flow)
        activation = flow_activate(flow=flow, user=user)
        if activation.status != "active_webhook":
            raise RuntimeError(f"The flow did not activate with a webhook: {activation.reason}")
        from designer.triggers import webhook_url

        self.flow = flow
        self.activation = activation
        self.hook_url = webhook_url(activation)
        self.hook_path = self.hook_url.split(str(self.port), 1)[1]
        self.shared_key = activation.shared_key

    def seed_history(self, count: int) -> None:
        """`count` deliveries of the flow already stored, as after months of webhooks (one statement)."""
        from django.db import connection
        from django.utils import timezone

        from designer.models import Delivery

        table = connection.ops.quote_name(Delivery._meta.db_table)
        at = connection.ops.adapt_datetimefield_value(timezone.now() - timedelta(days=30))
        columns = "flow_id, event_id, topic, source, payload, received_at"
        started = time.monotonic()
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"INSERT INTO {table} ({columns}) SELECT %s, 'R_seed' || i, '', 'webhook', '{{}}'::jsonb, %s "
                               f"FROM generate_series(1, %s) AS i", [self.flow.pk, at, count])
                cursor.execute(f"ANALYZE {table}")
            else:
                cursor.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
                               f"INSERT INTO {table} ({columns}) SELECT %s, 'R_seed' || i, '', 'webhook', '{{}}', %s FROM n",
                               [count, self.flow.pk, at])
                cursor.execute("ANALYZE")
        print(f"  seeded {count} stored deliveries in {time.monotonic() - started:.1f} s", flush=True)

    def wait_first_poll(self) -> None:
        """Activation makes the scheduler reconcile once at once; let that finish first."""
        from designer.models import Activation

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            activation = Activation.objects.get(pk=self.activation.pk)
            if activation.cursor or activation.status == "failing":
                return
            time.sleep(0.2)

    # Phases ----------------------------------------------------------------------------------

    def prepare(self, phase: int, count: int) -> list[Delivery]:
        return record_deliveries(self.sandbox_url, self.info, self.port, self.hook_path, self.shared_key, phase, count,
                                 self.args.dup_every)

    def run_phase(self, phase: int, concurrency: int, count: int, sampler: Sampler) -> PhaseResult:
        from designer.models import Run, RunStatus

        from django.utils import timezone

        result = PhaseResult(concurrency=concurrency, planned=count)
        deliveries = self.prepare(phase, count)
        phase_started = timezone.now()
        watermark = Run.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        calls = ContactCalls(self.sandbox_url).start()
        cpu_before = sampler.cpu_snapshot()
        processes_before = self.per_process_cpu(sampler)
        pg_before = self.pg_cpu_by_kind(sampler) if self.args.pg_statements else {}
        if self.args.pg_statements:
            self.pg_statements_reset()
        machine_before = cpu_times()
        bench_before = time.process_time()
        sampler.reset_peaks()
        if self.profile:
            self.profile.start(self.args.max_send_seconds + self.args.drain_seconds)
        workers = [p for p in self.procs.product() if p.name.startswith(("worker", "celery"))]
        if self.args.workers_after_sending:  # paused with all they started; the drain is theirs alone
            self.signal_tree(workers, signal.SIGSTOP)
        started = time.monotonic()
        deadline = started + self.args.max_send_seconds
        acks = asyncio.run(_send_all(self.port, deliveries, concurrency, deadline))
        send_seconds = time.monotonic() - started
        send_end = time.time()
        if self.args.workers_after_sending:
            workers_cpu = self.per_process_cpu(sampler)
            self.signal_tree(workers, signal.SIGCONT)

        ok = [a for a in acks if a.status == 200]
        result.sent = len(acks)
        result.acked = len(ok)
        result.errors = Counter(a.status for a in acks if a.status != 200)
        result.accepted = sum(b"Accepted" in a.body for a in ok)
        result.already = sum(b"Already" in a.body for a in ok)
        by_index = {d.index: d for d in deliveries}
        expected = {by_index[a.index].response_id for a in ok}
        expected_emails = {by_index[a.index].email for a in ok}
        result.expected_runs = len(expected)
        latencies = [a.seconds * 1000 for a in ok]
        result.p50, result.p95, result.p99 = (percentile(latencies, p) for p in (50, 95, 99))
        result.max_ms = max(latencies) if latencies else 0.0
        result.acks_per_s = len(acks) / send_seconds if send_seconds else 0.0

        # Drain: every accepted delivery's run finishes (or the drain time runs out).
        finished_states = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.ATTENTION]
        drain_deadline = time.monotonic() + self.args.drain_seconds
        while not self.args.intake_only:
            pending = Run.objects.filter(pk__gt=watermark).exclude(status__in=finished_states).count()
            total = Run.objects.filter(pk__gt=watermark).count()
            if (not pending and total >= len(expected)) or time.monotonic() > drain_deadline:
                result.drained = not pending and total >= len(expected)
                break
            time.sleep(0.1)
        result.wall = time.monotonic() - started
        if self.profile:
            self.profile.stop()
        cpu_after = sampler.cpu_snapshot()
        result.steal = steal_share(machine_before, cpu_times())
        result.process_cpu_s = {name: seconds - processes_before.get(name, 0.0)
                                for name, seconds in self.per_process_cpu(sampler).items()}
        if self.args.workers_after_sending:
            result.notes.append(f"workers paused while sending ({send_seconds:.1f} s); drain {result.wall - send_seconds:.1f} s"
                                f" for {len(expected)} runs: " + ", ".join(
                                    f"{name} {seconds - workers_cpu.get(name, 0.0):.2f} s CPU"
                                    for name, seconds in result.process_cpu_s.items() if name.startswith(("worker", "celery"))))
        result.bench_cpu = (time.process_time() - bench_before) / (result.wall * NCPU)
        share = {k: (cpu_after[k] - cpu_before[k]) / (result.wall * NCPU) for k in cpu_after}
        result.sandbox_cpu = share.get("sandbox", 0.0)
        result.product_cpu = share.get("product", 0.0)
        result.infra_cpu = share.get("services", 0.0)
        result.product_cpu_s = cpu_after["product"] - cpu_before["product"]
        result.infra_cpu_s = cpu_after.get("services", 0.0) - cpu_before.get("services", 0.0)
        result.peak_rss_mb = sampler.peak_kb["product"] / 1024
        emails = calls.stop()

        runs = list(Run.objects.filter(pk__gt=watermark).values(
            "status", "delivery__event_id", "delivery__received_at", "finished_at", "error"))
        per_response = Counter(r["delivery__event_id"] for r in runs)
        succeeded = {r["delivery__event_id"] for r in runs if r["status"] == RunStatus.SUCCEEDED}
        finished = [r for r in runs if r["finished_at"] is not None]
        result.completed = len(finished)
        result.succeeded = sum(r["status"] == RunStatus.SUCCEEDED for r in runs)
        failures = Counter(r["error"][:120] for r in runs if r["status"] == RunStatus.FAILED)
        if failures:
            result.notes.append(f"failed runs: {dict(failures)}")
        result.duplicated = sum(n - 1 for n in per_response.values() if n > 1)
        if self.args.intake_only:  # no worker: a delivery is kept when its run is stored
            result.lost = len(expected - set(per_response))
        else:
            result.lost = len(expected - succeeded)
            result.missing_calls = len(expected_emails - set(emails))
        result.duplicate_calls = sum(n - 1 for n in emails.values() if n > 1)
        if finished and acks:
            first_send = min(a.sent_at for a in acks)
            last_finish = max(r["finished_at"].timestamp() for r in finished)
            result.runs_per_s = len(finished) / max(1e-6, last_finish - first_send)
            result.drain_s = max(0.0, last_finish - send_end)
            e2e = [(r["finished_at"] - r["delivery__received_at"]).total_seconds() * 1000 for r in finished]
            result.e2e_p50, result.e2e_p95 = percentile(e2e, 50), percentile(e2e, 95)
        result.load = load_average()
        if self.args.pg_statements and result.completed:
            result.notes.extend(self.pg_report(sampler, pg_before, result.completed))
        if not self.args.scaleout:  # each handing over of a run is a task row of django-tasks-db
            from django_tasks_db.models import DBTaskResult

            tasks = DBTaskResult.objects.filter(enqueued_at__gte=phase_started).count()
            result.notes.append(f"{tasks} task rows for {len(runs)} runs")
        if not result.drained:
            result.notes.append(f"runs still pending after {self.args.drain_seconds:.0f} s of draining")
        if len(acks) < len(deliveries):
            result.notes.append(f"sending stopped at the {self.args.max_send_seconds:.0f} s limit "
                                f"({len(acks)} of {len(deliveries)} deliveries sent)")
        return result

    # Running ---------------------------------------------------------------------------------

    def run(self) -> int:
        args = self.args
        try:
            self.start()
            procs = self.procs
            groups = {
                "product": lambda: [p.pid for p in procs.product()],
                "sandbox": lambda: [procs.named("sandbox").pid],
            }
            if self.pg:
                groups["services"] = lambda: [self._pg_pid(), self.redis.pid]
            if args.profile:
                targets = {p.name: p.pid for p in procs.product() if p.name != "scheduler"}
                self.profile = ProfileSession(Path(args.profile), targets, enabled_for=args.profile_phase,
                                              idle=args.profile_idle, gil=args.profile_gil)
            results = []
            with Sampler(groups, interval=0.2) as sampler:
                for phase, (concurrency, count) in enumerate(args.phases, start=1):
                    if self.profile:
                        self.profile.phase = concurrency
                    procs.check()
                    results.append(self.run_phase(phase, concurrency, count, sampler))
                    self.print_phase(results[-1])
                per_process = self.per_process_peaks(sampler)
            self.report(results, per_process)
            if args.json_out:
                Path(args.json_out).write_text(json.dumps({
                    "mode": self.mode, "workers": self.worker_desc,
                    "phases": [{**vars(r), "errors": dict(r.errors), "cpu_ms_per_run": cpu_ms_per_run(r)}
                               for r in results],
                }))
            if self.profile:
                self.profile.summarize()
            return 0
        finally:
            if self.procs:
                self.procs.stop_all()
            for cpu_slice in self.slices:
                cpu_slice.remove()
            if self.pg:
                self.pg.stop()
            if self.redis:
                self.redis.stop()
            work_dir_done(self.work, args.keep)

    def _pg_pid(self) -> int:
        try:
            return int((self.pg.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def pg_cpu_by_kind(self, sampler: Sampler) -> dict[str, float]:
        """CPU seconds so far of PostgreSQL's processes by kind (client backend, walwriter, …)."""
        from bench.common import descendants

        kinds: dict[str, float] = Counter()
        for pid in descendants(self._pg_pid()):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
            except OSError:
                title = self._pg_kinds.get(pid, "ended")
            kind = title.removeprefix("postgres: ")
            kind = "client backend" if kind.startswith("postgres qflows") else kind.split(" ")[0].rstrip(":")
            self._pg_kinds[pid] = kind
            kinds[kind] += sampler.cpu_seen(pid)
        return kinds

    def pg_statements_reset(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_statements_reset()")

    def pg_report(self, sampler: Sampler, before: dict[str, float], runs: int) -> list[str]:
        """PostgreSQL's CPU per run by process kind, and its statements by total time, per run."""
        from django.db import connection

        after = self.pg_cpu_by_kind(sampler)
        lines = ["PostgreSQL CPU per completed run by process kind (ms): " + ", ".join(
            f"{kind} {1000 * (seconds - before.get(kind, 0.0)) / runs:.2f}"
            for kind, seconds in sorted(after.items(), key=lambda kv: before.get(kv[0], 0.0) - kv[1]))]
        with connection.cursor() as cursor:
            cursor.execute("SELECT calls, total_exec_time + total_plan_time, total_plan_time, regexp_replace(query, '\\s+', ' ', 'g') "
                           "FROM pg_stat_statements WHERE query NOT LIKE '%%pg_stat_statements%%' "
                           "ORDER BY total_exec_time + total_plan_time DESC LIMIT %s", [self.args.pg_statements])
            top = cursor.fetchall()
            cursor.execute("SELECT sum(calls), sum(total_exec_time), sum(total_plan_time) FROM pg_stat_statements")
            calls, executing, planning = cursor.fetchone()
        lines.append(f"PostgreSQL statements: {calls / runs:.1f} per run, {executing / runs:.3f} ms of execution and "
                     f"{planning / runs:.3f} ms of planning per run; the {len(top)} longest in total (calls per run, "
                     f"µs each, ms per run, of which planning, statement):")
        lines.extend(f"  {n / runs:6.2f} {1000 * ms / max(n, 1):8.1f} {ms / runs:7.3f} {plan / runs:7.3f}  {query[:150]}"
                     for n, ms, plan, query in top)
        return lines

    @staticmethod
    def signal_tree(procs: list, signum: int) -> None:
        from bench.common import descendants

        for proc in procs:
            for pid in descendants(proc.pid):
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass

    def per_process_cpu(self, sampler: Sampler) -> dict[str, float]:
        """CPU seconds so far of each product process (with its children), as last sampled."""
        from bench.common import descendants

        return {proc.name: sum(sampler.cpu_seen(pid) for pid in descendants(proc.pid))
                for proc in self.procs.product()}

    def per_process_peaks(self, sampler: Sampler) -> list[tuple[str, float]]:
        from bench.common import descendants

        peaks = []
        for proc in self.procs.product():
            tree = set(descendants(proc.pid))
            kb = sum(v[1] for pid, v in sampler.peak_by_pid.items() if pid in tree)
            peaks.append((proc.name, kb / 1024))
        return peaks

    def print_phase(self, r: PhaseResult) -> None:
        print(f"  c={r.concurrency}: {r.sent} sent, {r.runs_per_s:.1f} runs/s, ack p99 {r.p99:.1f} ms, "
              f"lost {r.lost}, duplicated {r.duplicated}, peak RSS {r.peak_rss_mb:.0f} MB "
              f"(load {load_average()}, CPU stolen by the hypervisor {r.steal:.0%})", flush=True)
        if self.slices:  # whether the held processes were the bound: out of quota in most periods
            print(f"  c={r.concurrency}: Celery processes out of their CPU quota in "
                  + ", ".join(f"{cpu_slice.throttled_share():.0%}" for cpu_slice in self.slices)
                  + f" of {CpuSlice.PERIOD_US // 1000} ms periods so far", flush=True)

    def report(self, results: list[PhaseResult], per_process: list[tuple[str, float]]) -> None:
        print()
        print(f"Mode: {self.mode}; workers: {self.worker_desc}; load average after: {load_average()}")
        headers = ["senders", "deliveries sent (dup)", "acks/s", "completed runs/s", "ack p50 ms", "ack p95 ms",
                   "ack p99 ms", "ack max ms", "run e2e p50/p95 ms", "lost", "duplicated runs",
                   "missing/dup POST contact", "non-200", "peak RSS MB", "CPU product/sandbox/bench"
                   + ("/pg+redis" if self.pg else ""), "product CPU ms/run" + (" (with pg+redis)" if self.pg else ""),
                   "drain s"]
        rows = []
        for r in results:
            cpu = f"{r.product_cpu:.0%}/{r.sandbox_cpu:.0%}/{r.bench_cpu:.0%}" + (f"/{r.infra_cpu:.0%}" if self.pg else "")
            rows.append([
                r.concurrency, f"{r.sent} ({r.already})", r.acks_per_s, r.runs_per_s, r.p50, r.p95, r.p99, r.max_ms,
                f"{r.e2e_p50:.0f}/{r.e2e_p95:.0f}", r.lost, r.duplicated, f"{r.missing_calls}/{r.duplicate_calls}",
                sum(r.errors.values()), r.peak_rss_mb, cpu, cpu_ms_per_run(r), r.drain_s,
            ])
        print(table(headers, rows))
        print("CPU shares are of all", NCPU, "cores over the phase (sending + draining).")
        print("Peak RSS per product process (MB): " + ", ".join(f"{n} {mb:.0f}" for n, mb in per_process))
        for r in results:
            if r.completed:
                print(f"  c={r.concurrency}: CPU per completed run by product process (ms): " + ", ".join(
                    f"{name} {1000 * seconds / r.completed:.2f}" for name, seconds in r.process_cpu_s.items()))
        for r in results:
            for note in r.notes:
                print(f"  c={r.concurrency}: {note}")
        top = max(results, key=lambda r: r.concurrency)
        figures = [
            Figure(f"completed runs/s at c={top.concurrency}", f">= {TARGET_RUNS_PER_S}", f"{top.runs_per_s:.0f}",
                   top.runs_per_s >= TARGET_RUNS_PER_S),
            # While runs queue up, the product holds its answers up to the longest hold on purpose
            # (designer/pacing.py): the target is then the longest hold plus 50 ms.
            Figure(f"ack p99 at c={top.concurrency}", f"<= {TARGET_P99_MS + self.longest_hold_ms()} ms",
                   f"{top.p99:.1f} ms", top.p99 <= TARGET_P99_MS + self.longest_hold_ms()),
            Figure("lost runs (all phases)", "0", str(sum(r.lost for r in results)), all(r.lost == 0 for r in results)),
            Figure("duplicated runs (all phases)", "0", str(sum(r.duplicated + r.duplicate_calls for r in results)),
                   all(r.duplicated == 0 and r.duplicate_calls == 0 for r in results)),
            Figure("peak RSS of product processes", f"<= {TARGET_RSS_MB} MB", f"{max(r.peak_rss_mb for r in results):.0f} MB",
                   max(r.peak_rss_mb for r in results) <= TARGET_RSS_MB),
        ]
        print()
        print(table(["figure", "target", "measured", "verdict", "mode"],
                    [[f.name, f.target, f.measured, verdict(f.ok), self.mode] for f in figures]))


def cpu_ms_per_run(r: PhaseResult) -> float:
    """CPU of the product's processes (PostgreSQL and Redis included) per completed run."""
    return (r.product_cpu_s + r.infra_cpu_s) * 1000 / r.completed if r.completed else float("nan")


def _phases(text: str) -> list[tuple[int, int]]:
    phases = []
    for part in text.split(","):
        concurrency, _, count = part.partition(":")
        phases.append((int(concurrency), int(count)))
    return phases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scaleout", action="store_true", help="PostgreSQL + Redis + Celery instead of SQLite + db_worker")
    parser.add_argument("--phases", type=_phases, default=_phases("1:200,10:1000,50:2000"),
                        help="senders:deliveries for each phase (default 1:200,10:1000,50:2000)")
    parser.add_argument("--workers", type=int, default=0,
                        help=f"worker processes (default {RUN_SCRIPT_WORKERS}, as scripts/run) or Celery concurrency "
                             f"(default {CELERY_CONCURRENCY})")
    parser.add_argument("--worker-interval", type=float, default=None,
                        help=f"worker --interval (default {RUN_SCRIPT_WORKER_INTERVAL}, as scripts/run)")
    parser.add_argument("--celery-processes", type=int, default=1,
                        help="with --scaleout: Celery worker processes (default 1)")
    parser.add_argument("--celery-pool", default=None, help=f"Celery --pool (default the app's, {CELERY_POOL})")
    parser.add_argument("--celery-cpu", type=float, default=0.0, metavar="CORES",
                        help="with --scaleout: hold each Celery process to CORES of a core (a CPU control group; "
                             "root): what a second process adds when the rest of the machine has room")
    parser.add_argument("--pg-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a PostgreSQL setting for --scaleout, e.g. synchronous_commit=off (repeatable; for "
                             "finding what limits a figure, not for reporting it)")
    parser.add_argument("--pg-statements", type=int, default=0, metavar="N",
                        help="with --scaleout: PostgreSQL's CPU per run by process kind and its N statements "
                             "longest in total (pg_stat_statements), per phase")
    parser.add_argument("--pace-max-hold-ms", type=int, default=None, metavar="MS",
                        help="WEBHOOK_PACE_MAX_HOLD_MS for the product (default the product's; 0: answers never held)")
    parser.add_argument("--dup-every", type=int, default=20, help="send every Nth delivery twice (0: never; default 20)")
    parser.add_argument("--max-send-seconds", type=float, default=60.0, help="sending limit per phase (default 60)")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="draining limit per phase (default 120)")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the product processes during one phase; stacks to DIR")
    parser.add_argument("--profile-phase", type=int, default=50, help="the senders count of the phase to profile")
    parser.add_argument("--profile-idle", action="store_true", help="include waiting threads in the profile")
    parser.add_argument("--profile-gil", action="store_true",
                        help="sample only the thread holding the interpreter lock: where a threaded process's "
                             "Python CPU goes (the Celery worker's pool)")
    parser.add_argument("--intake-only", action="store_true",
                        help="start no worker: measure only the webhook intake (acknowledgements); runs stay queued")
    parser.add_argument("--workers-after-sending", action="store_true",
                        help="pause the workers (SIGSTOP) while the senders send and let them run after: the drain "
                             "is the workers alone, without the intake beside them")
    parser.add_argument("--rate-limits", default="brand=6000000", metavar="NAME=PER_MINUTE,...",
                        help="QUALTRICS_RATE_LIMITS for the product (default brand=6000000: the published 3,000 a "
                             "minute would hold the flow to 25 runs/s)")
    parser.add_argument("--seed-deliveries", type=int, default=0, metavar="N",
                        help="store N deliveries of the flow before the phases (a flow with a history)")
    parser.add_argument("--reference", choices=["node-red"],
                        help="also run Node-RED 4 (installed from npm into the temporary directory) with a minimal "
                             "flow doing the same calls, and print the product's figures as ratios to it")
    parser.add_argument("--modes", default=None,
                        help="with --reference: the product's modes to run, comma-separated: embedded,scaleout "
                             "(default: the one --scaleout selects)")
    parser.add_argument("--rounds", type=int, default=1, metavar="N",
                        help="with --reference: run Node-RED and the modes N times, each round starting with the "
                             "next system, then print each figure's and each ratio's median over the rounds")
    parser.add_argument("--node-red-prefix", default=None, metavar="DIR",
                        help="with --reference: install Node-RED into DIR, or use the one already there "
                             "(default: a new temporary directory)")
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args(argv)
    print(f"e2e_webhooks: {len(args.phases)} phase(s) {args.phases}; load average before: {load_average()}", flush=True)
    if args.reference:
        from bench.reference import side_by_side

        return side_by_side(args, argv if argv is not None else sys.argv[1:])
    return Bench(args).run()


if __name__ == "__main__":
    raise SystemExit(main())
