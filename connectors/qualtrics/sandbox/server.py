"""The sandbox's HTTP server, its `/_sandbox/` control API, its pages and the `Sandbox` object.

    sandbox = Sandbox(seed="demo").start()
    sandbox.api_base        # http://127.0.0.1:PORT/sandbox1/API/v3/
    sandbox.inject_fault("surveys", status=429, retry_after=1)
    sandbox.stop()

The control API takes and returns JSON and needs no token; it is meant for a sandbox bound to
the loopback interface. So are the pages at http://HOST:PORT/ (pages.py), where people record a
response from a survey's form and see the webhook deliveries it made.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.qualtrics.sandbox.api import ApiError, Reply, SandboxApp, error_envelope, json_reply, record_response
from connectors.qualtrics.sandbox.delivery import Deliverer
from connectors.qualtrics.sandbox.pages import Pages
from connectors.qualtrics.sandbox.seed import SEEDS, SeedInfo, apply_seed
from connectors.qualtrics.sandbox.state import Brand, Fault, Latency, SandboxState, parse_iso

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a pooled client reuses its connections
    server_version = "QualtricsSandbox/1.0"
    sys_version = ""
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms a call.
    disable_nagle_algorithm = True
    timeout = 60  # close idle keep-alive connections eventually

    server: _Server

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        try:
            reply = self.server.sandbox.dispatch(self.command, self.path, dict(self.headers.items()), body)
        except Exception:
            logger.exception("Sandbox failed on %s %s", self.command, self.path)
            reply = error_envelope(500, "The sandbox itself failed on this call; see its log.")
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sandbox: Sandbox, verbose: bool) -> None:
        self.sandbox = sandbox
        self.verbose = verbose
        super().__init__(address, _Handler)


class Sandbox:
    """A running Qualtrics sandbox: the server, its state, and helpers for tests and tools."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: str = "default",
        page_size: int = 100,
        export_polls: int = 3,
        verbose: bool = False,
    ) -> None:
        if seed not in SEEDS:
            raise ValueError(f"Unknown seed {seed!r}; choose one of {', '.join(SEEDS)}.")
        self.host = host
        self.port = port
        self.seed = seed
        self.verbose = verbose
        self.state = SandboxState(page_size=page_size, export_polls=export_polls)
        self.deliverer = Deliverer(self.state)
        self.app = SandboxApp(self.state, self.deliverer)
        self.info: SeedInfo = apply_seed(seed, self.state, self.deliverer)
        self.pages = Pages(self)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle ---------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), self, self.verbose)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="qualtrics-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self, ready: Callable[[], None] | None = None) -> None:
        """Serve in the calling thread until interrupted (the management command uses this);
        `ready` is called once the port is bound."""
        self._server = _Server((self.host, self.port), self, self.verbose)
        self.port = self._server.server_address[1]
        if ready is not None:
            ready()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()
            self.deliverer.stop()
            self._server = None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.deliverer.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Where to connect ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def datacenter(self) -> str:
        return self.info.datacenter

    @property
    def token(self) -> str:
        return self.info.token

    @property
    def api_base(self) -> str:
        return f"{self.url}/{self.datacenter}/API/v3/"

    @property
    def api_base_template(self) -> str:
        """For settings.QUALTRICS_API_BASE: the client fills in `{datacenter}`."""
        return f"{self.url}/{{datacenter}}/API/v3/"

    @property
    def brand(self) -> Brand:
        return self.state.brands[self.info.brand_id]

    @property
    def survey_id(self) -> str | None:
        return self.info.survey_id

    @property
    def directory_id(self) -> str | None:
        return self.info.directory_id

    @property
    def mailing_list_id(self) -> str | None:
        return self.info.mailing_list_id

    # State and faults -------------------------------------------------------------------------

    def reset(self, seed: str | None = None) -> SeedInfo:
        """Forget everything (data, faults, logs, settings) and seed again."""
        with self.state.lock:
            self.state.clear()
            self.info = apply_seed(seed or self.seed, self.state, self.deliverer)
            return self.info

    def add_token(
        self,
        token: str,
        *,
        datacenter: str | None = None,
        brand_id: str | None = None,
        api_access: bool = True,
        brand_admin: bool = True,
    ) -> None:
        """A token for an existing brand (the default one unless named) or for a new brand."""
        with self.state.lock:
            brand_id = brand_id or self.info.brand_id
            if brand_id not in self.state.brands:
                self.state.add_brand(brand_id, datacenter or self.datacenter)
            self.state.add_token(
                token, brand_id=brand_id, datacenter=datacenter, api_access=api_access, brand_admin=brand_admin
            )

    def inject_fault(
        self,
        path_prefix: str = "",
        status: int = 500,
        *,
        count: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        message: str | None = None,
        apply: bool = False,
    ) -> None:
        """The next `count` API calls whose path (relative to /API/v3/) starts with `path_prefix`
        answer `status`, with a Retry-After header when `retry_after` is given (on any status).
        With `apply`, each call is served first and keeps its effect: a write that was applied
        before the server (or a proxy) failed to say so."""
        with self.state.lock:
            self.state.faults.append(
                Fault(
                    path_prefix.strip("/"),
                    int(status),
                    int(count),
                    retry_after,
                    method and method.upper(),
                    message,
                    bool(apply),
                )
            )

    def set_rate_limits(self, limits: dict[str, int] | None) -> None:
        """Enforce per-brand limits in requests per minute by name ("brand", "export-start"... as in
        connectors/qualtrics/limits.py), answering 429 with Retry-After; None or {} lifts them."""
        with self.state.lock:
            self.state.rate_limits = {str(k): int(v) for k, v in (limits or {}).items()}
            self.state.rate_buckets.clear()

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()
            self.state.latencies.clear()

    def add_latency(
        self, seconds: float, path_prefix: str = "", *, method: str | None = None, count: int | None = None
    ) -> None:
        """Delay matching calls by `seconds` (all of them, or the next `count`)."""
        with self.state.lock:
            latency = Latency(path_prefix.strip("/"), float(seconds), method and method.upper(), count)
            self.state.latencies.append(latency)

    def fail_subscription_creation(self, count: int = 1, status: int = 500) -> None:
        self.inject_fault("eventsubscriptions", status, count=count, method="POST")

    def fail_exports(self, count: int = 1) -> None:
        """The next `count` exports end with status `failed`."""
        with self.state.lock:
            self.state.failing_exports += count

    def drop_deliveries(self, count: int = 1) -> None:
        """The next `count` event deliveries are recorded as dropped and never sent."""
        with self.state.lock:
            self.state.drop_deliveries += count

    def set_page_size(self, size: int) -> None:
        with self.state.lock:
            self.state.page_size = max(1, int(size))

    def set_export_polls(self, polls: int) -> None:
        with self.state.lock:
            self.state.export_polls = max(1, int(polls))

    def set_next_page_base(self, url: str | None) -> None:
        """Make `nextPage` links point at another origin (to test that clients refuse them)."""
        with self.state.lock:
            self.state.next_page_base = url

    # Data ---------------------------------------------------------------------------------------

    def record_response(
        self,
        survey_id: str | None = None,
        values: dict[str, Any] | None = None,
        *,
        recorded_at: datetime | None = None,
        brand_id: str | None = None,
        notify: bool = True,
    ) -> str:
        """Record a response as if a respondent finished the survey; subscriptions are notified."""
        with self.state.lock:
            brand = self.state.brands[brand_id or self.info.brand_id]
            survey_id = survey_id or self.info.survey_id
            survey = brand.surveys.get(survey_id or "")
            if survey is None:
                raise KeyError(f"Survey {survey_id} does not exist in brand {brand.brand_id}.")
            response = record_response(
                self.state, self.deliverer, brand, survey, values or {}, recorded_at=recorded_at, notify=notify
            )
            return response.response_id

    def requests(self, path_prefix: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """API calls received so far (oldest first), without the token; optionally filtered."""
        with self.state.lock:
            entries = list(self.state.request_log)
        return [
            e
            for e in entries
            if (path_prefix is None or e["api_path"].startswith(path_prefix.strip("/")))
            and (method is None or e["method"] == method.upper())
        ]

    def clear_requests(self) -> None:
        with self.state.lock:
            self.state.request_log.clear()

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Delivery attempts, oldest first; only the last `SandboxState.DELIVERY_LOG_SIZE` are kept."""
        with self.state.lock:
            return list(self.state.deliveries)

    def wait_for_deliveries(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` delivery attempts are recorded since the last reset; raises
        TimeoutError otherwise. Returns the attempts kept (the last DELIVERY_LOG_SIZE)."""
        if not self.state.wait_for(lambda: self.state.delivery_count >= count, timeout):
            raise TimeoutError(f"Expected {count} deliveries within {timeout} s, got {self.state.delivery_count}.")
        return self.deliveries

    # HTTP entry point -------------------------------------------------------------------------

    def dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if target == CONTROL_PREFIX or target.startswith((CONTROL_PREFIX + "/", CONTROL_PREFIX + "?")):
            try:
                return self._control(method, target, body)
            except ApiError as exc:
                return json_reply(exc.status, {"error": exc.message})
            except (KeyError, TypeError, ValueError) as exc:
                return json_reply(400, {"error": f"{type(exc).__name__}: {exc}"})
        page = self.pages.handle(method, target, headers, body)
        if page is not None:
            return page
        return self.app.handle(method, target, headers, body)

    def _control(self, method: str, target: str, body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path[len(CONTROL_PREFIX) :].strip("/")
        query = dict(parse_qsl(parts.query))
        data: dict[str, Any] = json.loads(body) if body.strip() else {}
        if not isinstance(data, dict):
            raise ApiError(400, "Send a JSON object.")
        ok = {"ok": True}
        key = (method, path)
        if key == ("GET", ""):
            return json_reply(200, self.describe())
        if key == ("POST", "reset"):
            info = self.reset(data.get("seed"))
            return json_reply(200, {"ok": True, "seed": info.__dict__})
        if key == ("POST", "tokens"):
            self.add_token(
                data["token"],
                datacenter=data.get("datacenter"),
                brand_id=data.get("brand_id"),
                api_access=bool(data.get("api_access", True)),
                brand_admin=bool(data.get("brand_admin", True)),
            )
            return json_reply(200, ok)
        if key == ("POST", "faults"):
            self.inject_fault(
                data.get("path_prefix", ""),
                int(data.get("status", 500)),
                count=int(data.get("count", 1)),
                retry_after=data.get("retry_after"),
                method=data.get("method"),
                message=data.get("message"),
                apply=bool(data.get("apply", False)),
            )
            return json_reply(200, ok)
        if key == ("POST", "rate-limits"):
            self.set_rate_limits(data.get("limits") or {})
            return json_reply(200, ok)
        if key in (("DELETE", "faults"), ("DELETE", "latency")):
            self.clear_faults()
            return json_reply(200, ok)
        if key == ("POST", "latency"):
            self.add_latency(
                float(data["seconds"]), data.get("path_prefix", ""), method=data.get("method"), count=data.get("count")
            )
            return json_reply(200, ok)
        if key == ("POST", "subscription-failures"):
            self.fail_subscription_creation(int(data.get("count", 1)), int(data.get("status", 500)))
            return json_reply(200, ok)
        if key == ("POST", "export-failures"):
            self.fail_exports(int(data.get("count", 1)))
            return json_reply(200, ok)
        if key == ("POST", "drop-deliveries"):
            self.drop_deliveries(int(data.get("count", 1)))
            return json_reply(200, ok)
        if key == ("POST", "responses"):
            recorded = parse_iso(data["recorded_date"]) if data.get("recorded_date") else None
            response_id = self.record_response(
                data.get("survey_id"), data.get("values") or {}, recorded_at=recorded, brand_id=data.get("brand_id")
            )
            return json_reply(200, {"responseId": response_id})
        if key == ("GET", "requests"):
            return json_reply(200, {"requests": self.requests(query.get("path_prefix"), query.get("method"))})
        if key == ("DELETE", "requests"):
            self.clear_requests()
            return json_reply(200, ok)
        if key == ("GET", "deliveries"):
            return json_reply(200, {"deliveries": self.deliveries})
        if key == ("POST", "settings"):
            if "page_size" in data:
                self.set_page_size(data["page_size"])
            if "export_polls" in data:
                self.set_export_polls(data["export_polls"])
            if "next_page_base" in data:
                self.set_next_page_base(data["next_page_base"])
            return json_reply(200, ok)
        raise ApiError(404, f"No control endpoint {method} {CONTROL_PREFIX}/{path}. See GET {CONTROL_PREFIX}/.")

    def describe(self) -> dict[str, Any]:
        with self.state.lock:
            return {
                "api_base": self.api_base,
                "pages": f"{self.url}/",  # record a response from a survey's form, see the deliveries
                "datacenter": self.datacenter,
                "token": self.token,
                "seed": self.info.__dict__,
                "brands": {
                    brand_id: {
                        "datacenter": brand.datacenter,
                        "surveys": {s.survey_id: s.name for s in brand.surveys.values()},
                        "directories": {
                            d.directory_id: {
                                "name": d.name,
                                "contacts": len(d.contacts),
                                "mailing_lists": {m.mailing_list_id: m.name for m in d.mailing_lists.values()},
                            }
                            for d in brand.directories.values()
                        },
                        "users": len(brand.users),
                        "groups": len(brand.groups),
                        "subscriptions": len(brand.subscriptions),
                    }
                    for brand_id, brand in self.state.brands.items()
                },
                "control": {
                    "POST /_sandbox/reset": '{"seed": "empty|default|demo"}',
                    "POST /_sandbox/tokens": '{"token", "datacenter", "brand_id", "api_access", "brand_admin"}',
                    "POST /_sandbox/faults": '{"path_prefix", "status", "count", "retry_after", "method", "apply"}',
                    "POST /_sandbox/rate-limits": '{"limits": {"brand": 3000, "export-progress": 1000}}',
                    "DELETE /_sandbox/faults": "clear faults and latency",
                    "POST /_sandbox/latency": '{"seconds", "path_prefix", "method", "count"}',
                    "POST /_sandbox/subscription-failures": '{"count", "status"}',
                    "POST /_sandbox/export-failures": '{"count"}',
                    "POST /_sandbox/drop-deliveries": '{"count"}',
                    "POST /_sandbox/responses": '{"survey_id", "values", "recorded_date", "brand_id"}',
                    "GET /_sandbox/requests": "?path_prefix=&method=",
                    "DELETE /_sandbox/requests": "clear the request log",
                    "GET /_sandbox/deliveries": f"the last {SandboxState.DELIVERY_LOG_SIZE} deliveries attempted",
                    "POST /_sandbox/settings": '{"page_size", "export_polls", "next_page_base"}',
                },
            }
