"""For journeys that watch pages update live: a live server that also speaks websockets."""

from __future__ import annotations

import threading
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


class WebsocketLiveServer:
    """Daphne serving the project's ASGI application (HTTP, websockets and static files) from a
    thread of the test process, like pytest-django's `live_server`, whose server speaks WSGI
    only. Settings a test changes apply to it; its database is the test database.

    Twisted's reactor runs once per process, so one instance serves the whole session."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        from django.test.utils import modify_settings

        # Enabled and disabled around each test by pytest-django's `_live_server_helper`.
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": self.host})
        self._ready = threading.Event()
        self._error: Exception | None = None
        self.server = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __str__(self) -> str:
        return self.url

    def start(self) -> WebsocketLiveServer:
        thread = threading.Thread(target=self._serve, name="daphne-live-server", daemon=True)
        thread.start()
        self._thread = thread
        if not self._ready.wait(15):
            raise RuntimeError("Daphne did not start within 15 s.")
        if self._error is not None:
            raise RuntimeError("Daphne did not start.") from self._error
        self.port = self.server.listening_addresses[0][1]
        return self

    def _serve(self) -> None:
        try:
            from daphne.server import Server  # installs the asyncio reactor before twisted.internet.reactor
            from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

            from config.asgi import application

            self.server = Server(
                application=ASGIStaticFilesHandler(application),
                endpoints=[f"tcp:port=0:interface={self.host}"],
                signal_handlers=False,
                verbosity=0,
                ready_callable=self._ready.set,
            )
            self.server.run()
        except Exception as exc:  # noqa: BLE001 - start() raises it in the test
            self._error = exc
            self._ready.set()

    def stop(self) -> None:
        from twisted.internet import reactor

        if self.server is not None and reactor.running:
            reactor.callFromThread(self.server.stop)
            self._thread.join(10)
