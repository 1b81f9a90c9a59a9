"""The README's run command, for real: it installs, migrates, seeds the demo, serves, and its
worker runs the demo flow once activated."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

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


def demo_flow_runs_a_response(base: str, sandbox: str) -> dict:
    """As a user would: sign in, activate the demo flow, answer its survey; returns the run."""
    session = requests.Session()
    session.get(f"{base}/login/", timeout=15)
    signed_in = session.post(f"{base}/login/", timeout=15, data={
        "username": "demo", "password": "demo-password", "csrfmiddlewaretoken": session.cookies["csrftoken"]})
    assert signed_in.status_code == 200 and "/login/" not in signed_in.url
    api = {"X-CSRFToken": session.cookies["csrftoken"]}
    flow = session.get(f"{base}/api/flows/", timeout=15).json()[0]
    survey_id = session.get(f"{base}/api/flows/{flow['id']}/", timeout=15).json()["definition"]["event"]["options"]["survey_id"]
    activation = session.post(f"{base}/api/flows/{flow['id']}/activate/", headers=api, timeout=30).json()
    assert activation["status"] == "active_webhook", activation  # the sandbox delivers to this server
    requests.post(f"{sandbox}/_sandbox/responses", timeout=15,
                  json={"survey_id": survey_id, "values": {"recipientEmail": "first@example.com"}}).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = session.get(f"{base}/api/runs/?flow={flow['id']}", timeout=15).json()
        if runs and runs[0]["status"] in ("succeeded", "failed"):
            return runs[0]
        time.sleep(0.5)
    raise AssertionError("The demo flow's run did not finish within 60 s")


def test_the_run_command_serves_sign_in_static_files_the_sandbox_and_runs_the_demo_flow(tmp_path):
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
        run = demo_flow_runs_a_response(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}")
        assert run["status"] == "succeeded", run
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "Sign in as 'demo' with password 'demo-password'." in output
