"""A throwaway HTTP listener that records every request it receives and answers 200.

Tests use it as a webhook receiver, and as a bystander that must receive nothing when a client
refuses to send a request somewhere else.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from connectors.localserver import LocalServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.listener._add(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body,
                "form": {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()},
            }
        )
        status = self.server.listener.status
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        for name, value in self.server.listener.extra_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _record

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listener: RecordingListener) -> None:
        self.listener = listener
        super().__init__((listener.host, 0), _Handler)


class RecordingListener(LocalServer):
    """`with RecordingListener() as listener: ... listener.requests`"""

    def __init__(self, host: str = "127.0.0.1", status: int = 200) -> None:
        self.host = host
        self.status = status
        self.extra_headers: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    @property
    def port(self) -> int:
        return self.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def make_server(self) -> _Server:
        return _Server(self)

    def _add(self, entry: dict[str, Any]) -> None:
        with self._changed:
            self.requests.append(entry)
            self._changed.notify_all()

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Expected {count} requests within {timeout} s, got {len(self.requests)}.")
                self._changed.wait(remaining)
            return list(self.requests)
