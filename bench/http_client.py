"""CPU of one HTTP call on the client side: the product's Qualtrics session against the others.

A local keep-alive server (another process, so its CPU is not counted) answers a small JSON
document; each way of calling it sends the same GET (and, with --post, a POST of a small JSON
body) many times over one pooled connection, and the client's own CPU (getrusage) per call is
printed. The ways:

- `requests`: a `requests.Session` that reads nothing from the environment;
- `direct`: the session the Qualtrics client sends with (connectors/http.py `DirectSession`);
- `client`: `HttpClient.send` over that session (retry rules, attempt records), without a
  rate limiter;
- `http.client`: a bare standard-library connection, the floor.

    python bench/http_client.py [--calls 3000] [--rounds 3] [--post]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, free_port, load_average, table  # noqa: E402

SERVER = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = json.dumps({"result": {"responseId": "R_bench", "values": {f"QID{i}": i for i in range(20)}},
                   "meta": {"httpStatus": "200 - OK", "requestId": "bench"}}).encode()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # the head and the body in one write, flushed after each request
    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    do_GET = do_POST = _answer
    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sessions(base: str):
    import requests

    from connectors.http import DirectSession, HttpClient

    plain = requests.Session()
    plain.trust_env = False
    direct = DirectSession()
    direct.trust_env = False
    direct.headers["X-API-TOKEN"] = "bench"
    client = HttpClient(session=DirectSession())
    client.session.trust_env = False

    def call_requests(method, url, body):
        return plain.request(method, url, json=body, timeout=(5, 30), allow_redirects=False).json()

    def call_direct(method, url, body):
        return direct.request(method, url, json=body, timeout=(5, 30), allow_redirects=False).json()

    def call_client(method, url, body):
        return client.send(method, url, json=body).json()

    host, port = base.split("//", 1)[1].split(":")
    bare = http.client.HTTPConnection(host, int(port), timeout=30)

    def call_bare(method, url, body):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "X-API-TOKEN": "bench"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        bare.request(method, url[len(base):], body=data, headers=headers)
        return json.loads(bare.getresponse().read())

    return {"requests": call_requests, "direct": call_direct, "client": call_client, "http.client": call_bare}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000, help="calls per way and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the ways alternating")
    parser.add_argument("--post", action="store_true", help="also POST a small JSON body")
    parser.add_argument("--only", default="", help="comma-separated ways to run")
    args = parser.parse_args(argv)

    port = free_port()
    server = subprocess.Popen([PY, "-c", SERVER, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                time.sleep(0.05)
        ways = sessions(base)
        if args.only:
            ways = {k: v for k, v in ways.items() if k in args.only.split(",")}
        calls = [("GET", f"{base}/API/v3/surveys/SV_1/responses/R_1", None)]
        if args.post:
            calls.append(("POST", f"{base}/API/v3/directories/POOL_1/mailinglists/CG_1/contacts",
                          {"firstName": "A", "lastName": "B", "email": "a@example.com"}))
        for call in ways.values():  # open the connections, warm the caches
            for method, url, body in calls:
                call(method, url, body)
        results: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, call in ways.items():
                before = cpu()
                for _ in range(args.calls):
                    for method, url, body in calls:
                        call(method, url, body)
                results[name].append((cpu() - before) / (args.calls * len(calls)) * 1000)
    finally:
        server.terminate()
        server.wait()
    print(f"load average {load_average()}; client CPU per call (ms), {args.calls * len(calls)} calls per round")
    floor = min(results.get("http.client", [0]) or [0])
    rows = []
    for name, values in results.items():
        best = min(values)
        rows.append([name, " ".join(f"{v:.3f}" for v in values), f"{best:.3f}",
                     f"{best / floor:.2f}" if floor else "-"])
    print(table(["way", "per round", "best", "× http.client"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
