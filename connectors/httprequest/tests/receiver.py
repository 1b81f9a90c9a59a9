"""A loopback HTTP server for tests: answers each path as a test tells it, records every request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Answer = tuple[int, dict[str, str], bytes]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = {"method": self.command, "path": parts.path, "query": parts.query,
                   "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        receiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append(request)
            route = receiver.routes.get(parts.path)
        status, headers, payload = route(request) if route else (200, {"Content-Type": "text/plain"}, b"ok")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class Receiver:
    """`with Receiver() as r: r.route("/x", lambda req: (200, {}, b"")); r.url + "/x"; r.requests`"""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Callable[[dict[str, Any]], Answer]] = {}
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server: _Server | None = None

    def route(self, path: str, answer: Callable[[dict[str, Any]], Answer]) -> None:
        self.routes[path] = answer

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Receiver:
        self._server = _Server((self.host, 0), _Handler)
        self._server.receiver = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
