"""`e2e_webhooks.py --reference node-red`: the same scenario on Node-RED and on the product, one
after the other in one run, and the product's figures as ratios to Node-RED's.

Node-RED 4 is installed with npm by package name (`npm install --prefix <dir> node-red@4`) into
the benchmark's temporary directory (or `--node-red-prefix`), and runs a minimal flow on loopback:

    http in (POST /qualtrics) -> function (the response's URL from MSG)
      -> http request (GET the response from the sandbox)
      -> function (the contact from the response's values)
      -> http request (POST the contact to the mailing list) -> http response

It answers each delivery after the contact POST, keeps no history, does not check the HMAC and
does not deduplicate (it is sent no repeated deliveries). A run counts as completed when its
contact POST reached the sandbox, as for the product. The product's modes then run as child
processes of this script (each configures Django for its own database), with the same phases.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.common import (
    NCPU,
    PY,
    ROOT,
    Processes,
    Sampler,
    base_env,
    cpu_times,
    free_port,
    http_json,
    load_average,
    percentile,
    steal_share,
    table,
    wait_http,
    work_dir,
    work_dir_done,
)

NODE_RED_PACKAGE = "node-red@4"
INSTALL_SECONDS = 600

_ENTRY = """\
const m = JSON.parse(msg.payload.MSG);
msg.url = BASE + "surveys/" + encodeURIComponent(m.SurveyID) + "/responses/" + encodeURIComponent(m.ResponseID);
msg.method = "GET";
msg.headers = {"X-API-TOKEN": TOKEN};
delete msg.payload;
return msg;
"""

_CONTACT = """\
if (msg.statusCode !== 200 || !msg.payload || !msg.payload.result) {
    msg.statusCode = 502; msg.headers = {"content-type": "text/plain"}; msg.payload = "GET response failed";
    return [null, msg];
}
const v = msg.payload.result.values || {};
msg.url = BASE + "directories/" + DIRECTORY + "/mailinglists/" + LIST + "/contacts";
msg.method = "POST";
msg.headers = {"X-API-TOKEN": TOKEN, "Content-Type": "application/json"};
msg.payload = {email: v.recipientEmail, firstName: v.recipientFirstName};
return [msg, null];
"""

_ANSWER = """\
const ok = msg.statusCode >= 200 && msg.statusCode < 300;
msg.statusCode = ok ? 200 : 502;
msg.headers = {"content-type": "text/plain"};
msg.payload = ok ? "Accepted" : "POST contact failed";
return msg;
"""


def _flow(info: dict, sandbox_url: str) -> list[dict]:
    constants = (f"const BASE = {json.dumps(f'{sandbox_url}/{info['datacenter']}/API/v3/')};\n"
                 f"const TOKEN = {json.dumps(info['token'])};\n"
                 f"const DIRECTORY = {json.dumps(info['directory_id'])};\n"
                 f"const LIST = {json.dumps(info['mailing_list_id'])};\n")
    request = {"type": "http request", "z": "bench", "method": "use", "ret": "obj", "paytoqs": "ignore", "url": "",
               "tls": "", "persist": True, "proxy": "", "authType": "", "senderr": False, "headers": []}
    return [
        {"id": "bench", "type": "tab", "label": "bench"},
        {"id": "hook", "type": "http in", "z": "bench", "url": "/qualtrics", "method": "post", "upload": False,
         "wires": [["entry"]]},
        {"id": "entry", "type": "function", "z": "bench", "func": constants + _ENTRY, "outputs": 1,
         "wires": [["get"]]},
        {"id": "get", **request, "wires": [["contact"]]},
        {"id": "contact", "type": "function", "z": "bench", "func": constants + _CONTACT, "outputs": 2,
         "wires": [["post"], ["answer_out"]]},
        {"id": "post", **request, "wires": [["answer"]]},
        {"id": "answer", "type": "function", "z": "bench", "func": _ANSWER, "outputs": 1, "wires": [["answer_out"]]},
        {"id": "answer_out", "type": "http response", "z": "bench", "statusCode": "", "headers": {}, "wires": []},
        {"id": "ready", "type": "http in", "z": "bench", "url": "/ready", "method": "get", "upload": False,
         "wires": [["ready_out"]]},
        {"id": "ready_out", "type": "http response", "z": "bench", "statusCode": "200", "headers": {}, "wires": []},
    ]


def install_node_red(prefix: Path) -> tuple[Path | None, str]:
    """red.js of Node-RED 4 under `prefix`, installed with npm if it is not there yet."""
    red = prefix / "node_modules" / "node-red" / "red.js"
    if red.exists():
        return red, "already installed"
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        return None, "node and npm are not installed (Debian's nodejs and npm packages)"
    prefix.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        done = subprocess.run([npm, "install", "--prefix", str(prefix), NODE_RED_PACKAGE, "--no-audit", "--no-fund",
                               "--omit=dev", "--loglevel=error"], capture_output=True, text=True,
                              timeout=INSTALL_SECONDS)
    except subprocess.TimeoutExpired:
        return None, f"npm install {NODE_RED_PACKAGE} did not finish within {INSTALL_SECONDS} s"
    if done.returncode != 0 or not red.exists():
        return None, f"npm install {NODE_RED_PACKAGE} failed: {(done.stderr or done.stdout)[-600:]}"
    return red, f"installed in {time.monotonic() - started:.0f} s"


def _version(red: Path) -> str:
    try:
        return json.loads((red.parent / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def run_node_red(args: argparse.Namespace, work: Path, prefix: Path) -> tuple[list[dict] | None, str]:
    """Node-RED's figures per phase, or None and why not."""
    from bench.e2e_webhooks import ContactCalls, _send_all, record_deliveries

    print(f"Node-RED: installing {NODE_RED_PACKAGE} with npm into {prefix} ...", flush=True)
    red, how = install_node_red(prefix)
    print(f"Node-RED: {how}", flush=True)
    if red is None:
        return None, how
    data = work / "data-reference"
    data.mkdir()
    procs = Processes(base_env(data, SQLITE_PATH=str(data / "db.sqlite3")), work)
    sandbox_port, port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    try:
        sandbox = procs.start("sandbox-reference", [PY, "manage.py", "qualtrics_sandbox", "--port", str(sandbox_port),
                                                    "--seed", "default"], product=False)
        wait_http(f"{sandbox_url}/_sandbox/", procs=procs)
        info = http_json("GET", f"{sandbox_url}/_sandbox/")["seed"]
        user_dir = work / "node-red-user"
        user_dir.mkdir()
        flows = user_dir / "flows.json"
        flows.write_text(json.dumps(_flow(info, sandbox_url)))
        settings = user_dir / "settings.js"
        settings.write_text("module.exports = " + json.dumps({
            "flowFile": str(flows), "uiHost": "127.0.0.1", "uiPort": port, "httpAdminRoot": False,
            "httpNodeRoot": "/", "credentialSecret": False, "functionExternalModules": False,
            "externalModules": {"autoInstall": False}, "diagnostics": {"enabled": False},
            "logging": {"console": {"level": "warn", "metrics": False, "audit": False}},
        }) + ";\n")
        node = procs.start("node-red", [shutil.which("node"), str(red), "--userDir", str(user_dir), "--settings",
                                        str(settings), str(flows)], product=False)
        wait_http(f"http://127.0.0.1:{port}/ready", procs=procs)
        print(f"Node-RED {_version(red)} on port {port}; load average {load_average()}", flush=True)
        results = []
        groups = {"reference": lambda: [node.pid], "sandbox": lambda: [sandbox.pid]}
        with Sampler(groups, interval=0.2) as sampler:
            for phase, (concurrency, count) in enumerate(args.phases, start=1):
                procs.check()
                deliveries = record_deliveries(sandbox_url, info, port, "/qualtrics", "unchecked", phase, count, 0)
                calls = ContactCalls(sandbox_url).start()
                cpu_before = sampler.cpu_snapshot()
                machine_before = cpu_times()
                sampler.reset_peaks()
                started = time.monotonic()
                acks = asyncio.run(_send_all(port, deliveries, concurrency, started + args.max_send_seconds))
                send_seconds = time.monotonic() - started
                cpu_after = sampler.cpu_snapshot()
                posted = calls.stop()
                ok = [a for a in acks if a.status == 200]
                emails = {deliveries[a.index].email for a in ok}
                times = [entry["at"] for entry in calls.seen.values() if entry["status"] and entry["status"] < 300]
                first_send = min((a.sent_at for a in acks), default=0.0)
                completed = sum(1 for email in emails if posted.get(email))
                latencies = [a.seconds * 1000 for a in ok]
                cpu = cpu_after["reference"] - cpu_before["reference"]
                result = {
                    "concurrency": concurrency, "sent": len(acks), "acked": len(ok), "completed": completed,
                    "runs_per_s": completed / max(1e-6, max(times) - first_send) if times else 0.0,
                    "acks_per_s": len(acks) / send_seconds if send_seconds else 0.0,
                    "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                    "peak_rss_mb": sampler.peak_kb["reference"] / 1024,
                    "cpu_ms_per_run": cpu * 1000 / completed if completed else float("nan"),
                    "cpu_share": cpu / (send_seconds * NCPU) if send_seconds else 0.0,
                    "sandbox_share": (cpu_after["sandbox"] - cpu_before["sandbox"]) / (send_seconds * NCPU)
                    if send_seconds else 0.0,
                    "lost": len(emails - set(posted)), "duplicated": sum(n - 1 for n in posted.values() if n > 1),
                    "errors": dict(Counter(a.status for a in acks if a.status != 200)),
                    "drain_s": 0.0, "load": load_average(), "steal": steal_share(machine_before, cpu_times()),
                }
                results.append(result)
                print(f"  Node-RED c={concurrency}: {len(acks)} sent, {result['runs_per_s']:.1f} runs/s, ack p99 "
                      f"{result['p99']:.1f} ms, CPU {result['cpu_ms_per_run']:.2f} ms/run, peak RSS "
                      f"{result['peak_rss_mb']:.0f} MB, lost {result['lost']}, non-200 {sum(result['errors'].values())} "
                      f"(load {result['load']})", flush=True)
        return results, f"Node-RED {_version(red)}"
    finally:
        procs.stop_all()


def _product_argv(args: argparse.Namespace, mode: str, out: Path) -> list[str]:
    argv = [PY, str(ROOT / "bench" / "e2e_webhooks.py"), "--phases",
            ",".join(f"{c}:{n}" for c, n in args.phases), "--max-send-seconds", str(args.max_send_seconds),
            "--drain-seconds", str(args.drain_seconds), "--dup-every", str(args.dup_every), "--json-out", str(out),
            "--rate-limits", args.rate_limits]
    if mode == "scaleout":
        argv.append("--scaleout")
    if args.workers:
        argv += ["--workers", str(args.workers)]
    if args.seed_deliveries:
        argv += ["--seed-deliveries", str(args.seed_deliveries)]
    if args.worker_interval is not None:
        argv += ["--worker-interval", str(args.worker_interval)]
    if args.celery_pool:
        argv += ["--celery-pool", args.celery_pool]
    for setting in args.pg_setting:
        argv += ["--pg-setting", setting]
    return argv


def side_by_side(args: argparse.Namespace, argv: list[str]) -> int:
    """Node-RED and the product's modes, one after the other, `--rounds` times: each round starts
    with the next system of the previous round's order, so that a drift of the machine during the
    rounds does not always fall on the same one. With more than one round, the medians follow."""
    modes = [m.strip() for m in (args.modes or ("scaleout" if args.scaleout else "embedded")).split(",") if m.strip()]
    unknown = set(modes) - {"embedded", "scaleout"}
    if unknown:
        raise SystemExit(f"unknown mode(s) {', '.join(sorted(unknown))}: use embedded and/or scaleout")
    work = work_dir("qflows-bench-reference-")
    prefix = Path(args.node_red_prefix) if args.node_red_prefix else work / "node-red"
    rounds: list[tuple[list[dict] | None, str, dict[str, dict]]] = []
    try:
        systems = ["node-red", *modes]
        for number in range(args.rounds):
            order = systems[number % len(systems):] + systems[:number % len(systems)]
            here = work / f"round-{number + 1}"
            here.mkdir()
            if args.rounds > 1:
                print(f"\n==== Round {number + 1} of {args.rounds}: {', '.join(order)} (load average "
                      f"{load_average()})", flush=True)
            reference, name, products = None, "no reference", {}
            for system in order:
                if system == "node-red":
                    reference, name = run_node_red(args, here, prefix)
                    continue
                out = here / f"{system}.json"
                print(f"\n== The product, {system} (load average {load_average()})", flush=True)
                done = subprocess.run(_product_argv(args, system, out), cwd=ROOT)
                if done.returncode == 0 and out.exists():
                    products[system] = json.loads(out.read_text())
                else:
                    print(f"The product's {system} run failed (exit {done.returncode}).", flush=True)
            products = {mode: products[mode] for mode in modes if mode in products}
            _report(reference, name, products)
            rounds.append((reference, name, products))
        if len(rounds) > 1:
            _medians(rounds, modes)
        return 0 if all(products for _, _, products in rounds) else 1
    finally:
        work_dir_done(work, args.keep)


def _report(reference: list[dict] | None, name: str, products: dict[str, dict]) -> None:
    print()
    rows = []
    for phase in range(max([len(reference or [])] + [len(p["phases"]) for p in products.values()])):
        systems = []
        if reference and phase < len(reference):
            systems.append((name, reference[phase]))
        for mode, data in products.items():
            if phase < len(data["phases"]):
                systems.append((f"product, {mode}", data["phases"][phase]))
        for label, r in systems:
            rows.append([label, r["concurrency"], f"{r['runs_per_s']:.1f}", f"{r['p99']:.1f}", f"{r['peak_rss_mb']:.0f}",
                         f"{r['cpu_ms_per_run']:.2f}", f"{r.get('drain_s', 0.0):.1f}", r["lost"],
                         r["duplicated"] + r.get("duplicate_calls", 0), r["load"], f"{r.get('steal', 0.0):.0%}"])
    print(table(["system", "senders", "completed runs/s", "ack p99 ms", "peak RSS MB", "CPU ms/run", "drain s",
                 "lost", "duplicated", "load average after", "CPU stolen"], rows))
    print("CPU ms/run: CPU seconds of the system's own processes (the product's with PostgreSQL and Redis) per "
          "completed run; the sandbox and the senders are not counted. CPU stolen: the share of the machine's CPU "
          "time the hypervisor gave to other guests during the phase (a figure taken with much of it stolen is not "
          "one to compare).")
    if "embedded" in products and "scaleout" in products:
        both = zip(products["scaleout"]["phases"], products["embedded"]["phases"], strict=False)
        print("\nScale-out / embedded: " + "; ".join(
            f"c={s['concurrency']}: runs/s {_ratio(s['runs_per_s'], e['runs_per_s'])}, CPU per run "
            f"{_ratio(s['cpu_ms_per_run'], e['cpu_ms_per_run'])}" for s, e in both))
    if not reference:
        print(f"\nNo reference figures: {name}. The product's figures are above.")
        return
    ratio_rows = []
    for mode, data in products.items():
        for r, n in zip(data["phases"], reference, strict=False):
            ratio_rows.append([
                mode, r["concurrency"], _ratio(r["runs_per_s"], n["runs_per_s"]), _ratio(r["p99"], n["p99"]),
                _ratio(r["peak_rss_mb"], n["peak_rss_mb"]), _ratio(r["cpu_ms_per_run"], n["cpu_ms_per_run"]),
            ])
    print(f"\nThe product / {name} (runs/s: higher is better; the others: lower is better)")
    print(table(["mode", "senders", "runs/s ratio", "ack p99 ratio", "peak RSS ratio", "CPU per run ratio"], ratio_rows))


def _medians(rounds: list[tuple[list[dict] | None, str, dict[str, dict]]], modes: list[str]) -> None:
    """Each system's median figures over the rounds, each ratio's median over the rounds (a ratio
    is taken within a round, between systems measured minutes apart), and in how many rounds each
    target of the side by side was met."""
    name = next((name for reference, name, _ in rounds if reference), "Node-RED")
    phases = max(len(reference or []) for reference, _, _ in rounds)
    phases = max([phases] + [len(data["phases"]) for _, _, products in rounds for data in products.values()])
    for phase in range(phases):
        figures: dict[str, list[dict]] = {}
        for reference, _, products in rounds:
            if reference and phase < len(reference):
                figures.setdefault(name, []).append(reference[phase])
            for mode, data in products.items():
                if phase < len(data["phases"]):
                    figures.setdefault(f"product, {mode}", []).append(data["phases"][phase])
        if not figures:
            continue
        concurrency = next(iter(figures.values()))[0]["concurrency"]
        print(f"\nMedians over {len(rounds)} rounds, c={concurrency}")
        rows = [[system, len(runs), f"{_median(r['runs_per_s'] for r in runs):.1f}",
                 f"{_median(r['p99'] for r in runs):.1f}", f"{_median(r['peak_rss_mb'] for r in runs):.0f}",
                 f"{_median(r['cpu_ms_per_run'] for r in runs):.2f}", sum(r["lost"] for r in runs),
                 sum(r["duplicated"] + r.get("duplicate_calls", 0) for r in runs)]
                for system, runs in figures.items()]
        print(table(["system", "rounds", "completed runs/s", "ack p99 ms", "peak RSS MB", "CPU ms/run",
                     "lost (all)", "duplicated (all)"], rows))

        def ratios(numerator, denominator, key):
            """The ratio of `key` within each round that has both systems' figures."""
            found = []
            for reference, _, products in rounds:
                top, bottom = numerator(reference, products), denominator(reference, products)
                if top is not None and bottom is not None and bottom[key]:
                    found.append(top[key] / bottom[key])
            return found

        def of(mode):
            def pick(reference, products):
                if mode == "node-red":
                    return reference[phase] if reference and phase < len(reference) else None
                data = products.get(mode)
                return data["phases"][phase] if data and phase < len(data["phases"]) else None
            return pick

        targets = [("embedded runs/s ÷ Node-RED's", ratios(of("embedded"), of("node-red"), "runs_per_s"), ">=", 0.5)]
        targets += [(f"{mode} ack p99 ÷ Node-RED's", ratios(of(mode), of("node-red"), "p99"), "<=", 1.0)
                    for mode in modes]
        targets += [("scale-out runs/s ÷ embedded's", ratios(of("scaleout"), of("embedded"), "runs_per_s"), ">=", 1.0),
                    ("scale-out CPU per run ÷ embedded's", ratios(of("scaleout"), of("embedded"), "cpu_ms_per_run"),
                     "<=", 1.3)]
        embedded = figures.get("product, embedded", [])
        targets.append(("embedded CPU per run, ms", [r["cpu_ms_per_run"] for r in embedded], "<=", 3.0))
        rows = []
        for label, values, sense, bound in targets:
            if not values:
                continue
            met = sum(1 for v in values if (v >= bound if sense == ">=" else v <= bound))
            rows.append([label, f"{sense} {bound:g}", f"{_median(values):.2f}", f"{min(values):.2f}–{max(values):.2f}",
                         f"{met} of {len(values)}"])
        print("\n" + table(["figure", "target", "median", "range", "rounds met"], rows))


def _median(values) -> float:
    values = sorted(v for v in values if v == v)
    if not values:
        return float("nan")
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _ratio(value: float, reference: float) -> str:
    if not reference or reference != reference or value != value:
        return "-"
    return f"{value / reference:.2f}"


if __name__ == "__main__":  # pragma: no cover - run through e2e_webhooks.py
    sys.exit("Run bench/e2e_webhooks.py --reference node-red")
