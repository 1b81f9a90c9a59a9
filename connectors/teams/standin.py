"""A local stand-in for a Microsoft Teams workflow (or incoming) webhook: a small threaded HTTP
server on loopback that accepts the webhook POST and records it.

    with TeamsStandIn() as teams:
        teams.webhook_url   # http://127.0.0.1:PORT/workflows/<id>/triggers/manual/paths/invoke?sig=<secret>
        teams.messages      # the JSON bodies accepted

It answers 202 with an empty body, as a Power Automate workflow trigger does, after checking the
body is the message envelope Teams documents: `{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", ...}}]}` (400
otherwise). A wrong `sig` answers 401; `fail_next(status, retry_after=...)` makes the next calls
answer an error, to test 429s and outages.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.localserver import LocalServer

WORKFLOW_PATH = "/workflows/0f1e2d3c4b5a/triggers/manual/paths/invoke"
SIGNATURE = "standinTeamsSig0123456789"
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def _problem(payload: Any) -> str | None:
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return "The body must be a message: {\"type\": \"message\", \"attachments\": [...]}."
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "The message needs at least one attachment."
    for attachment in attachments:
        if not isinstance(attachment, dict) or attachment.get("contentType") != ADAPTIVE:
            return f"Each attachment needs contentType {ADAPTIVE}."
        content = attachment.get("content")
        if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
            return "Each attachment's content must be an AdaptiveCard."
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.standin.receive(self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class TeamsStandIn(LocalServer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.received: list[dict[str, Any]] = []
            self.messages: list[dict[str, Any]] = []
            self.failures: list[tuple[int, float | None]] = []

    def fail_next(self, status: int, *, retry_after: float | None = None, times: int = 1) -> None:
        with self.lock:
            self.failures = [(status, retry_after)] * times

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server_port}"

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def webhook_url(self) -> str:
        return f"{self.url}{WORKFLOW_PATH}?api-version=1&sig={SIGNATURE}"

    def make_server(self) -> _Server:
        server = _Server((self.host, 0), _Handler)
        server.standin = self  # type: ignore[attr-defined]
        return server

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(path)
        query = dict(parse_qsl(parts.query))
        error = {"Content-Type": "application/json"}
        with self.lock:
            self.received.append({"path": parts.path, "query": query,
                                  "headers": {k.lower(): v for k, v in headers.items()}, "body": body})
            if self.failures:
                status, retry_after = self.failures.pop(0)
                extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
                return status, {**error, **extra}, json.dumps({"error": {"code": "Injected", "message": "Injected failure."}}).encode()
            if parts.path != WORKFLOW_PATH:
                return 404, error, b'{"error": {"code": "WorkflowNotFound", "message": "The workflow was not found."}}'
            if query.get("sig") != SIGNATURE:
                return 401, error, b'{"error": {"code": "DirectApiAuthorizationRequired", "message": "The request must be authenticated."}}'
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            problem = _problem(payload)
            if problem:
                return 400, error, json.dumps({"error": {"code": "InvalidRequestContent", "message": problem}}).encode()
            self.messages.append(payload)
            return 202, {}, b""
