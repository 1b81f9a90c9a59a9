"""For journeys that watch pages update live: a live server that also speaks websockets, and a
task worker process on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from django.db import connection

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


def database_env() -> dict[str, str]:
    """Environment that points another process at the test database."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(db["NAME"])}
    return {"DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


class DatabaseWorker:
    """`manage.py db_worker` as a separate process, taking tasks from the test database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "DATABASE_URL")}
        self.env.update(database_env())
        self.env.update(env)
        self.process: subprocess.Popen | None = None

    def start(self) -> DatabaseWorker:
        command = [
            sys.executable,
            "manage.py",
            "db_worker",
            "--queue-name",
            "*",
            "--interval",
            "0.1",
            "--no-startup-delay",
        ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
