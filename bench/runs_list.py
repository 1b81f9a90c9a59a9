"""The runs list with a million runs: seeds 1,000,000 runs (with their deliveries) in one team,
then times each list and filter query (`designer.selectors.runs_page`, as the page and the API
call it) and whole pages through Django's test client: the runs page, GET /api/runs/ and the
dashboard.

    .venv/bin/python bench/runs_list.py                      # SQLite in a temporary directory
    .venv/bin/python bench/runs_list.py --postgres           # a throwaway PostgreSQL (as scripts/test starts one)
    DATABASE_URL=postgres://… .venv/bin/python bench/runs_list.py   # an empty PostgreSQL database
    .venv/bin/python bench/runs_list.py --runs 200000 --keep

Rows are written with raw multi-row executemany in batches, not through the ORM. Runs are spread
over 90 days (ids in creation order) across 5 flows; 90 % succeeded, 7 % failed, 1 % each
queued, waiting and cancelled; sources 85 % webhook, 10 % poll, 3 % schedule, 1 % test, 1 %
re-run. The newest 20,000 runs get one step each whose outputs hold a response's text (the text
search reads only the newest SEARCH_WINDOW runs that match the other filters). Another team gets
50,000 runs of its own, so every query has to keep to its team.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ThrowawayPostgres,
    base_env,
    django_setup,
    load_average,
    table,
    work_dir,
    work_dir_done,
)

STATUSES = [("succeeded", 90), ("failed", 7), ("queued", 1), ("waiting", 1), ("cancelled", 1)]
SOURCES = [("webhook", 85), ("poll", 10), ("schedule", 3), ("test", 1), ("rerun", 1)]
WORDS = "coffee cold friendly slow quick helpful rude clean noisy price parking staff menu music".split()


def weighted(pairs, rng):
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    return lambda: rng.choices(values, weights)[0]


def seed(team, flows_versions, count: int, *, start_event: int, days: int = 90, steps_for: int = 0,
         batch: int = 20_000) -> None:
    from django.db import connection, transaction

    from designer.models import Delivery, Run, RunStep

    rng = random.Random(17 + team.pk)
    status_of, source_of = weighted(STATUSES, rng), weighted(SOURCES, rng)
    adapt = connection.ops.adapt_datetimefield_value
    quote = connection.ops.quote_name
    now = datetime.now(dt_timezone.utc)
    first = now - timedelta(days=days)
    spacing = (now - first) / count
    d_table, r_table, s_table = (quote(m._meta.db_table) for m in (Delivery, Run, RunStep))
    delivery_sql = (f"INSERT INTO {d_table} (flow_id, event_id, topic, source, payload, received_at) "
                    f"VALUES (%s, %s, '', %s, '{{}}', %s)")
    run_sql = (f"INSERT INTO {r_table} (flow_id, team_id, version_id, delivery_id, status, error, trigger, attempts, "
               f"current_step, waited_seconds, wait_message, yields, created_at, updated_at, started_at, finished_at) "
               f"VALUES (%s, %s, %s, %s, %s, %s, '{{}}', 1, '', 0, '', 0, %s, %s, %s, %s)")
    step_sql = (f"INSERT INTO {s_table} (run_id, position, step_id, card, name, iteration, status, inputs, outputs, "
                f"error, attempts, attempt_log, duration_ms, started_at, resolution) VALUES "
                f"(%s, 1, 'trigger', 'qualtrics.new_response', 'New Response', '', 'succeeded', '{{}}', %s, '', 1, "
                f"'[]', 12, %s, '')")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {d_table}")
        next_delivery = cursor.fetchone()[0] + 1
    done = 0
    while done < count:
        n = min(batch, count - done)
        deliveries, runs = [], []
        for i in range(done, done + n):
            flow, version = flows_versions[i % len(flows_versions)]
            at = first + spacing * i
            source = source_of()
            event = f"R_{start_event + i:09d}"
            deliveries.append((flow.pk, event, source, adapt(at)))
            status = status_of()
            ended = status in ("succeeded", "failed", "cancelled")
            runs.append((flow.pk, team.pk, version.pk, None, status,
                         "“Create Contact” (step_1) failed: the list is gone." if status == "failed" else "",
                         adapt(at), adapt(at), adapt(at), adapt(at + timedelta(milliseconds=40)) if ended else None))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(delivery_sql, deliveries)
            # Deliveries take consecutive ids inside this transaction (nothing else writes).
            runs = [(*r[:3], next_delivery + k, *r[4:]) for k, r in enumerate(runs)]
            next_delivery += n
            cursor.executemany(run_sql, runs)
        done += n
        if done % 200_000 == 0 or done == count:
            print(f"  seeded {done:,} runs of team {team.pk}", flush=True)
    if steps_for:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, created_at FROM {r_table} WHERE team_id = %s ORDER BY id DESC LIMIT %s",
                           [team.pk, steps_for])
            newest = cursor.fetchall()
        rows = []
        for run_id, created in newest:
            text = " ".join(rng.choice(WORDS) for _ in range(8))
            rows.append((run_id, json.dumps({"q.QID1": rng.randint(0, 10), "q.QID2": text,
                                             "recipient_email": f"person{run_id}@example.com"}), created))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(step_sql, rows)


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm: the first call reads pages into the cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--other-team-runs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL for the run")
    args = parser.parse_args()

    import os

    work = work_dir("bench-runs-list-")
    database_url = os.environ.get("DATABASE_URL", "")
    pg = None
    if args.postgres:
        pg = ThrowawayPostgres(work).start()
        database_url = pg.url
    try:
        run(args, work, database_url)
    finally:
        if pg is not None:
            from django.db import connections

            connections.close_all()
            pg.stop()
    work_dir_done(work, args.keep)


def run(args, work: Path, database_url: str) -> None:
    env = base_env(work, **({"DATABASE_URL": database_url} if database_url else {}))
    django_setup(env)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts import services as account_services
    from designer.models import Flow, FlowVersion
    from designer.selectors import RunFilters, dashboard_data, runs_page

    print(f"load average before: {load_average()}; database: {connection.vendor}; work dir {work}")
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    team = account_services.team_create(name="Bench", owner=user)
    other = account_services.team_create(name="Other", owner=get_user_model().objects.create_user("other"))

    def flows_of(t, names):
        made = []
        for name in names:
            flow = Flow.objects.create(team=t, name=name, version=1)
            made.append((flow, FlowVersion.objects.create(flow=flow, number=1, definition={"event": None, "steps": []})))
        return made

    ours = flows_of(team, [f"Flow {i}" for i in range(1, 6)])
    theirs = flows_of(other, ["Their flow"])
    t0 = time.perf_counter()
    seed(team, ours, args.runs, start_event=0, steps_for=20_000)
    seed(other, theirs, args.other_team_runs, start_event=args.runs)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seeded = time.perf_counter() - t0
    print(f"seeded {args.runs + args.other_team_runs:,} runs and deliveries in {seeded:.0f} s")

    flow_id = ours[2][0].pk
    today = datetime.now(dt_timezone.utc).date()
    deep_cursor = runs_page(team=team, filters=RunFilters(), size=5_000).next_cursor
    event = f"R_{args.runs - 1234:09d}"
    cases = [
        ("first page, no filter", {}, None),
        ("page 101 (cursor after 5,000 runs)", {}, deep_cursor),
        ("flow", {"flow": flow_id}, None),
        ("status = failed (7 %)", {"status": "failed"}, None),
        ("status = queued (1 %)", {"status": "queued"}, None),
        ("flow + status = failed", {"flow": flow_id, "status": "failed"}, None),
        ("source = test (1 %)", {"source": "test"}, None),
        ("source = webhook (85 %)", {"source": "webhook"}, None),
        ("last 7 days", {"since": (today - timedelta(days=7)).isoformat()}, None),
        ("last 7 days, from and to", {"since": (today - timedelta(days=7)).isoformat(),
                                      "until": today.isoformat()}, None),
        ("a week 60 days ago", {"since": (today - timedelta(days=67)).isoformat(),
                                "until": (today - timedelta(days=60)).isoformat()}, None),
        ("until 60 days ago", {"until": (today - timedelta(days=60)).isoformat()}, None),
        ("flow + failed, a week 60 days ago", {"flow": flow_id, "status": "failed",
                                               "since": (today - timedelta(days=67)).isoformat(),
                                               "until": (today - timedelta(days=60)).isoformat()}, None),
        ("response id, exact", {"event": event}, None),
        ("response id, prefix", {"event": event[:-2]}, None),
        ("text in outputs (window 5,000)", {"q": "coffee cold"}, None),
        ("status = failed + text", {"status": "failed", "q": "parking"}, None),
    ]
    rows = []
    for name, params, cursor in cases:
        filters = RunFilters.from_query({k: str(v) for k, v in params.items()})
        found = runs_page(team=team, filters=filters, cursor=cursor)
        median, worst = timed(lambda f=filters, c=cursor: runs_page(team=team, filters=f, cursor=c), args.repeat)
        rows.append((name, len(found.runs), median, worst, "yes" if median < 100 else "NO"))
    print()
    print(table(["query (runs_page, 50 a page)", "runs", "median ms", "max ms", "< 100 ms"], rows))

    client = Client()
    client.force_login(user)
    pages = [
        ("/runs/", "/runs/"),
        ("/runs/?status=failed", "/runs/?status=failed"),
        ("/runs/?source=test", "/runs/?source=test"),
        ("/api/runs/ (200 a page)", "/api/runs/"),
        ("/api/runs/?flow=…&status=failed", f"/api/runs/?flow={flow_id}&status=failed"),
        ("/runs/export.csv?status=queued (10,000 rows)", "/runs/export.csv?status=queued"),
        ("/dashboard/ (5 flows, 24 h + 30 days)", "/dashboard/"),
    ]
    page_rows = []
    for name, url in pages:
        def fetch(u=url):
            response = client.get(u)
            assert response.status_code == 200, (u, response.status_code)
            if response.streaming:
                b"".join(response.streaming_content)
        median, worst = timed(fetch, max(3, args.repeat // 2))
        page_rows.append((name, median, worst))
    print()
    print(table(["whole request (Django test client)", "median ms", "max ms"], page_rows))
    from django.core.cache import cache

    cache.clear()
    started = time.perf_counter()
    dashboard_data(team=team)
    cold = (time.perf_counter() - started) * 1000
    warm, _ = timed(lambda: dashboard_data(team=team), args.repeat)
    print(f"\ndashboard queries alone: {cold:.0f} ms with the past days' counts to read, "
          f"{warm:.0f} ms with them cached (median)")
    print(f"load average after: {load_average()}")
    if connection.vendor == "sqlite":
        size = Path(connection.settings_dict["NAME"]).stat().st_size
        print(f"database file: {size / 1e6:.0f} MB")
    connection.close()


if __name__ == "__main__":
    main()
