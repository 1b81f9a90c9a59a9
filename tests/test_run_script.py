"""The README's run command, for real: it installs, migrates, seeds the demo and serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 90) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=10)
        except requests.RequestException:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def test_the_run_command_serves_sign_in_static_files_and_the_sandbox(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "QUALTRICS_API_BASE")}
    env.update({"PORT": str(port), "SANDBOX_PORT": str(sandbox_port), "DATA_DIR": str(tmp_path)})
    process = subprocess.Popen(["./scripts/run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True, text=True)
    try:
        page = wait_for(f"http://127.0.0.1:{port}/login/")
        assert page.status_code == 200 and "Sign in" in page.text
        css = requests.get(f"http://127.0.0.1:{port}/static/css/app.css", timeout=15)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
        script = requests.get(f"http://127.0.0.1:{port}/static/js/editor/main.js", timeout=15)
        assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
        sandbox = requests.get(f"http://127.0.0.1:{sandbox_port}/_sandbox/", timeout=15).json()
        assert sandbox["seed"]["seed"] == "demo"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "Sign in as 'demo' with password 'demo-password'." in output
