"""A local HTTP server served from a daemon thread: the base of the stand-ins that speak a
provider's API on loopback for tests and the demo (the Slack and Teams stand-ins, the sandbox's
recording listener)."""

from __future__ import annotations

import threading
from http.server import HTTPServer
from typing import Self


class LocalServer:
    """`start()` serves `make_server()` on a thread, `stop()` ends it; also a context manager."""

    _server: HTTPServer | None = None
    _port: int | None = None  # kept after stop(), so that an address can still be named

    def make_server(self) -> HTTPServer:
        raise NotImplementedError

    @property
    def server_port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"The {type(self).__name__} is not started.")
        return self._port

    def start(self) -> Self:
        self._server = self.make_server()
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
