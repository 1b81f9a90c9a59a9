"""Editor load: time until a 20-card flow is interactive in headless Chromium, and the catalog's size.

Starts the Qualtrics sandbox and the product (`config.server` on config.asgi) on 127.0.0.1 with their own
database, saves a flow of 20 cards (New Response, 10 Create Contact in Mailing List, 9 Compose),
signs a browser in and opens /flows/<id>/edit/ repeatedly. The editor adds the class `ready` to
#editor once the catalog, the flow and the configurations are loaded and every card is rendered
(static/js/editor/main.js); the figure is performance.now() at that moment, i.e. from the start
of the navigation. After one unmeasured visit that warms the server, the first measured load
has an empty browser cache (cold), the others reuse it (warm). The new tab is left alone for
--settle seconds before the cold load, so that Chromium's own set-up of the tab is not measured.

    .venv/bin/python bench/editor_load.py
    .venv/bin/python bench/editor_load.py --loads 20 --chromium /usr/bin/chromium
    .venv/bin/python bench/editor_load.py --detail   # also every file of the cold load, when it started and ended
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import urllib.request
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
    percentile,
    table,
    verdict,
    wait_http,
    work_dir,
    work_dir_done,
)

TARGET_MS = 500
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
READY_SCRIPT = """
window.__qflowsReady = null;
new MutationObserver((_, observer) => {
  const editor = document.getElementById("editor");
  if (editor && editor.classList.contains("ready")) {
    window.__qflowsReady = performance.now();
    observer.disconnect();
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["class"] });
"""


def make_flow(info: dict, cards: int):
    from django.contrib.auth import get_user_model

    from accounts import services as team_services
    from accounts.models import Configuration, Role
    from designer import services

    user = get_user_model().objects.create_user("bench", password="bench-password-123")
    team = team_services.team_create(name="Bench", owner=user)
    membership = team.memberships.get(role=Role.OWNER)
    configuration = Configuration(team=team, owner=user, connector="qualtrics", name="Sandbox", shared=True)
    configuration.credentials = {"datacenter": info["datacenter"], "api_token": info["token"], "username": ""}
    configuration.save()
    steps = []
    contacts = (cards - 1 + 1) // 2
    for index in range(1, cards):
        if index <= contacts:
            steps.append({"id": f"step_{index}", "card": "qualtrics.create_contact_in_mailing_list",
                          "configuration": configuration.pk,
                          "options": {"directory_id": info["directory_id"], "mailing_list_id": info["mailing_list_id"]},
                          "inputs": {"email": {"ref": "trigger.recipient_email"},
                                     "first_name": {"ref": "trigger.recipient_name"}}})
        else:
            steps.append({"id": f"step_{index}", "card": "core.compose",
                          "inputs": {"template": f"Hello {{{{trigger.recipient_name}}}}, contact {{{{step_1.contact_id}}}} #{index}"}})
    definition = {
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": configuration.pk,
                  "options": {"survey_id": info["survey_id"]}},
        "steps": steps,
    }
    flow = services.flow_create(membership=membership, name="Twenty cards")
    services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
    services.flow_publish(membership=membership, flow=flow)
    return user, flow


def session_cookie(user) -> tuple[str, str]:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return settings.SESSION_COOKIE_NAME, session.session_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loads", type=int, default=11, help="page loads: one cold, the rest warm (default 11)")
    parser.add_argument("--cards", type=int, default=20, help="cards in the flow, event included (default 20)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable (default /usr/bin/chromium)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one load (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds the new tab is left to finish its own set-up before the cold load (default 2; "
                             "0 measures the cold load while Chromium still builds the tab)")
    parser.add_argument("--detail", action="store_true", help="print every file of the cold load with its start and duration")
    args = parser.parse_args(argv)
    print(f"editor_load: load average before: {load_average()}", flush=True)

    work = work_dir("qflows-bench-editor-")
    data = work / "data"
    data.mkdir()
    port, sandbox_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = base_env(data, SQLITE_PATH=str(data / "db.sqlite3"), QUALTRICS_API_BASE=f"{sandbox_url}/{{datacenter}}/API/v3/")
    procs = Processes(env, work)
    try:
        procs.start("sandbox", [PY, "manage.py", "qualtrics_sandbox", "--port", str(sandbox_port), "--seed", "default"],
                    product=False)
        import subprocess

        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=Path(__file__).resolve().parent.parent,
                       env=env, check=True)
        wait_http(f"{sandbox_url}/_sandbox/", procs=procs)
        django_setup(env)
        info = http_json("GET", f"{sandbox_url}/_sandbox/")["seed"]
        user, flow = make_flow(info, args.cards)
        cookie_name, cookie_value = session_cookie(user)
        procs.start("server", [PY, "-m", "config.server", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"])
        wait_http(f"{base}/login/", procs=procs)

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{base}/api/catalog/", headers={"Cookie": f"{cookie_name}={cookie_value}",
                                                                          "Accept-Encoding": "identity"})
        with opener.open(request, timeout=30) as response:
            catalog = response.read()
            catalog_encoding = response.headers.get("Content-Encoding") or "none"

        from playwright.sync_api import sync_playwright

        url = f"{base}/flows/{flow.pk}/edit/"
        loads, cards_seen, errors = [], set(), []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            # A first visit in a throwaway context warms the server (imports, first queries), so that
            # the cold load below measures an empty browser cache against a running server.
            warmup = browser.new_context()
            warmup.add_cookies([{"name": cookie_name, "value": cookie_value, "url": base}])
            warmup.new_page().goto(url, wait_until="load", timeout=args.timeout * 1000)
            warmup.close()
            context = browser.new_context()
            context.add_cookies([{"name": cookie_name, "value": cookie_value, "url": base}])
            context.add_init_script(READY_SCRIPT)
            page = context.new_page()
            # A new tab keeps Chromium busy for a while (its top-chrome WebUI renderer takes about a
            # core for most of a second on this machine): the cold load should meet an empty cache
            # in a running browser, not compete with the browser building its tab.
            if args.settle > 0:
                page.goto("about:blank")
                time.sleep(args.settle)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            failed = []
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            breakdown = None
            for _ in range(args.loads):
                page.goto(url, wait_until="commit", timeout=args.timeout * 1000)
                # Polled from here: the page's CSP (no 'unsafe-eval') refuses wait_for_function's predicate.
                deadline = time.monotonic() + args.timeout
                ready = None
                while ready is None:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"The editor did not become ready within {args.timeout} s: {errors[:3]}")
                    time.sleep(0.01)
                    ready = page.evaluate("window.__qflowsReady")
                loads.append(ready)
                if breakdown is None:  # the cold load: what the browser fetched, and how long each took
                    breakdown = page.evaluate("""() => performance.getEntriesByType("resource").map(e => ({
                        name: e.name.replace(location.origin, ""), start: e.startTime, duration: e.duration,
                        type: e.initiatorType}))""")
                    nav = page.evaluate("""() => { const n = performance.getEntriesByType("navigation")[0];
                        return {requestStart: n.requestStart, responseStart: n.responseStart, responseEnd: n.responseEnd,
                                domInteractive: n.domInteractive, domContentLoaded: n.domContentLoadedEventEnd}; }""")
                cards_seen.add(page.evaluate("document.querySelectorAll('#canvas [data-step]').length"))
                time.sleep(0.2)
            browser.close()

        cold, warm = loads[0], loads[1:]
        warm_median = statistics.median(warm) if warm else float("nan")
        warm_p95 = percentile(warm, 95) if warm else float("nan")
        print()
        print(f"{len(loads)} loads of {url}; cards rendered: {sorted(cards_seen)}; load average {load_average()}")
        print(table(["load", "ms to interactive"], [["cold (first)", cold], *([["warm median", warm_median],
                                                                              ["warm p95", warm_p95],
                                                                              ["warm max", max(warm)]] if warm else [])]))
        if breakdown:
            # What the browser asked for before the editor was ready (the option pickers it renders start their own calls).
            scripts = [e for e in breakdown if e["name"].startswith("/static/") and e["start"] < cold]
            api = [e for e in breakdown if e["name"].startswith("/api/") and e["start"] < cold]
            print(f"cold load: page HTML by {nav['responseEnd']:.0f} ms, DOMContentLoaded {nav['domContentLoaded']:.0f} ms; "
                  f"{len(scripts)} static files (slowest {max((e['duration'] for e in scripts), default=0):.0f} ms, "
                  f"last done at {max((e['start'] + e['duration'] for e in scripts), default=0):.0f} ms); API calls started before ready: "
                  + (", ".join(f"{e['name'].split('?')[0]} {e['duration']:.0f} ms" for e in api) or "none"))
        if breakdown and args.detail:
            print("cold load: navigation " + ", ".join(f"{key} {value:.0f}" for key, value in nav.items()))
            print(table(["cold load: resource", "type", "start ms", "duration ms", "end ms"],
                        [[e["name"], e["type"], e["start"], e["duration"], e["start"] + e["duration"]]
                         for e in sorted(breakdown, key=lambda e: e["start"])]))
        if errors or failed:
            print("browser errors: " + "; ".join(sorted(set(errors + failed))[:5]))
        print()
        gz = len(gzip.compress(catalog, 6))
        print(table(["figure", "target", "measured", "verdict", "mode"], [
            [f"editor interactive, {args.cards}-card flow (cold)", f"<= {TARGET_MS} ms", f"{cold:.0f} ms",
             verdict(cold <= TARGET_MS), "headless Chromium, config.server, SQLite"],
            [f"editor interactive, {args.cards}-card flow (warm median / p95)", f"<= {TARGET_MS} ms",
             f"{warm_median:.0f} / {warm_p95:.0f} ms", verdict(warm_p95 <= TARGET_MS), "headless Chromium, config.server, SQLite"],
            ["catalog JSON (/api/catalog/)", "-", f"{len(catalog) / 1024:.1f} KiB (sent {catalog_encoding}; "
             f"{gz / 1024:.1f} KiB gzipped)", "-", "config.server"],
        ]))
        return 0
    finally:
        procs.stop_all()
        work_dir_done(work, args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
