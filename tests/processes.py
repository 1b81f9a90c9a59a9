"""Worker processes for tests: the real `manage.py worker`, or a Celery worker when the
environment has REDIS_URL, taking tasks from the test database; and the product's server run in a
thread of the test process (`ServerThread`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_env() -> dict[str, str]:
    """Environment that points another process at the test database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"SQLITE_PATH": str(db["NAME"])}
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


def worker_base_env(**extra: str) -> dict[str, str]:
    """This process's environment, pointed at the test database, with `extra` on top."""
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH", "DATABASE_URL")}
    env.update(database_env())
    env.update(extra)
    return env


class Worker:
    """A worker process: `manage.py worker` on the embedded default, Celery with REDIS_URL in its
    environment. Its scheduler thread is off unless `scheduler_interval` is given, so that tests
    decide when stalled runs are taken up (`manage.py scheduler --once`)."""

    count = 0

    def __init__(self, env: dict[str, str], *, scheduler_interval: int | None = None, output: Path | None = None):
        self.env = dict(env)
        self.output = output
        if scheduler_interval is None:
            self.env["SCHEDULER_IN_WORKERS"] = "false"
        else:
            self.env.update({"SCHEDULER_IN_WORKERS": "true", "SCHEDULER_INTERVAL_SECONDS": str(scheduler_interval)})
        self.process: subprocess.Popen | None = None
        Worker.count += 1
        self.name = f"test{os.getpid()}-{Worker.count}"

    def start(self) -> Worker:
        if self.env.get("REDIS_URL"):
            command = [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "--pool", "solo",
                       "--concurrency", "1", "--without-gossip", "--without-mingle", "--without-heartbeat",
                       "-n", f"{self.name}@%h", "--loglevel", "WARNING"]
        else:
            command = [sys.executable, "manage.py", "worker", "--queue-name", "*", "--interval", "0.1",
                       "--no-startup-delay", "--worker-id", self.name]
        if self.output is None:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        else:
            with open(self.output, "ab") as output:
                self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True,
                                                stdout=output, stderr=subprocess.STDOUT)
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no acknowledgement, as when a machine or container dies."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1, message: str = "Timed out waiting"):
    """The predicate's first true value, checked every `interval` seconds for up to `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message)


class ServerThread:
    """The product's server (uvicorn, `config.server.server_config`) run in a thread of this process."""

    def __init__(self, config, name: str = "server") -> None:
        from uvicorn import Server

        self.server = Server(config)
        self._thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def start(self, seconds: float = 15) -> int:
        """Starts it and answers the port it listens on."""
        self._thread.start()
        deadline = time.monotonic() + seconds
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The server did not start.")
            time.sleep(0.02)
        return self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self, seconds: float = 15) -> None:
        self.server.should_exit = True
        self._thread.join(seconds)
