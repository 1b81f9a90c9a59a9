"""Export Responses of 100,000 responses: time and peak memory of the product process.

The sandbox runs in its own process (this script started with --serve-sandbox), where it
records the responses in-process before serving, so its memory is not counted. This process
then runs a flow "New Response -> Export Responses" with `designer.engine.run_execute`, exactly
as a worker does: the client starts the export, polls it, streams the zip to disk and unpacks
it into the run's files directory. Measured for each format:

  time          wall time of the run (the export polls every second, as the card does)
  RSS peak      this process's resident memory, sampled every 10 ms, and its growth over the
                baseline before the run
  tracemalloc   peak of Python allocations during a second run of the same export

    .venv/bin/python bench/export_memory.py                       # 100,000 responses, csv
    .venv/bin/python bench/export_memory.py --responses 20000 --formats csv,json,ndjson
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    PY,
    Processes,
    base_env,
    django_setup,
    free_port,
    http_json,
    load_average,
    rss_kb,
    table,
    verdict,
    wait_http,
    work_dir,
    work_dir_done,
)

TARGET_PEAK_MB = 150


def serve_sandbox(port: int, responses: int) -> None:
    """The sandbox with `responses` recorded responses, served on 127.0.0.1:port (a subprocess)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from connectors.qualtrics.sandbox import Sandbox

    sandbox = Sandbox(port=port, seed="default")
    first = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret"]
    for index in range(responses):
        sandbox.record_response(values={
            "recipientEmail": f"r{index}@bench.example", "recipientFirstName": first[index % len(first)],
            "recipientLastName": f"Respondent {index}", "QID1": 1 + index % 5, "QID2": f"Answer number {index}",
            "QID3": index % 11,
        }, notify=False)
    print(f"sandbox ready with {responses} responses", flush=True)
    sandbox.serve_forever()


class RssPeak:
    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssPeak:
        self.peak = rss_kb(os.getpid())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kb(os.getpid()))


def export_flow(info: dict, fmt: str):
    from django.contrib.auth import get_user_model

    from accounts import services as team_services
    from accounts.models import Configuration, Role
    from designer import services

    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_user("bench", password="bench-password-123")
        team = team_services.team_create(name="Bench", owner=user)
        configuration = Configuration(team=team, owner=user, connector="qualtrics", name="Sandbox", shared=True)
        configuration.credentials = {"datacenter": info["datacenter"], "api_token": info["token"], "username": ""}
        configuration.save()
    membership = user.memberships.get(role=Role.OWNER)
    configuration = Configuration.objects.get(team=membership.team)
    definition = {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration.pk,
                  "options": {"survey_id": info["survey_id"]}},
        "steps": [{"id": "step_1", "card": "qualtrics.export_responses", "configuration": configuration.pk,
                   "options": {"survey_id": info["survey_id"], "format": fmt}, "inputs": {}}],
    }
    flow = services.flow_create(membership=membership, name=f"Export {fmt}")
    services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
    services.flow_publish(membership=membership, flow=flow)
    flow.refresh_from_db()
    return flow


def one_export(flow, response_id: str, survey_id: str) -> tuple[float, dict]:
    from designer.engine import run_execute
    from designer.models import Delivery, DeliverySource, Run

    delivery = Delivery.objects.create(flow=flow, event_id=response_id, payload={"response_id": response_id}, source=DeliverySource.TEST)
    run = Run.objects.create(flow=flow, team_id=flow.team_id, version=flow.versions.first(), delivery=delivery)
    started = time.perf_counter()
    status = run_execute(run.pk)
    elapsed = time.perf_counter() - started
    run.refresh_from_db()
    if status != "succeeded":
        raise RuntimeError(f"The export run ended {status}: {run.error}")
    return elapsed, run.steps.get(step_id="step_1").outputs["file"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--responses", type=int, default=100_000, help="responses in the survey (default 100000)")
    parser.add_argument("--formats", default="csv", help="comma-separated: csv, json, ndjson (default csv)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the second, traced run")
    parser.add_argument("--serve-sandbox", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox, args.responses)
        return 0

    print(f"export_memory: {args.responses} responses; load average before: {load_average()}", flush=True)
    work = work_dir("qflows-bench-export-")
    data = work / "data"
    data.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(data, SQLITE_PATH=str(data / "db.sqlite3"), QUALTRICS_API_BASE=f"{url}/{{datacenter}}/API/v3/")
    procs = Processes(env, work)
    try:
        seeded = time.monotonic()
        procs.start("sandbox", [PY, str(Path(__file__).resolve()), "--serve-sandbox", str(port),
                                "--responses", str(args.responses)], product=False)
        wait_http(f"{url}/_sandbox/", timeout=600, procs=procs)
        print(f"  sandbox seeded in {time.monotonic() - seeded:.0f} s", flush=True)
        django_setup(env)
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        info = http_json("GET", f"{url}/_sandbox/")["seed"]
        response_id = http_json("POST", f"{url}/_sandbox/responses", {"values": {"recipientEmail": "t@bench.example"}})[
            "responseId"]
        rows = []
        figures = []
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            flow = export_flow(info, fmt)
            gc.collect()
            with RssPeak() as rss:
                baseline = rss.peak
                elapsed, file_value = one_export(flow, response_id, info["survey_id"])
            size = (Path(settings.MEDIA_ROOT) / file_value["path"]).stat().st_size
            traced = None
            if not args.no_tracemalloc:
                gc.collect()
                tracemalloc.start()
                one_export(flow, response_id, info["survey_id"])
                traced = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
            peak_mb = rss.peak / 1024
            rows.append([fmt, args.responses, f"{size / 2**20:.1f}", f"{elapsed:.1f}", f"{baseline / 1024:.0f}",
                         f"{peak_mb:.0f}", f"{(rss.peak - baseline) / 1024:.1f}",
                         f"{traced:.1f}" if traced is not None else "-"])
            figures.append([f"Export Responses {args.responses:,} ({fmt}): peak RSS of the process", f"< {TARGET_PEAK_MB} MB",
                            f"{peak_mb:.0f} MB (+{(rss.peak - baseline) / 1024:.1f} MB; tracemalloc peak "
                            f"{traced:.1f} MB)" if traced is not None else f"{peak_mb:.0f} MB",
                            verdict(peak_mb < TARGET_PEAK_MB), "embedded (SQLite), in-process run_execute"])
        print()
        print(table(["format", "responses", "file MB", "run s", "RSS before MB", "RSS peak MB", "RSS growth MB",
                     "tracemalloc peak MB"], rows))
        print()
        print(table(["figure", "target", "measured", "verdict", "mode"], figures))
        print(f"load average after: {load_average()}")
        return 0
    finally:
        procs.stop_all()
        work_dir_done(work, args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
