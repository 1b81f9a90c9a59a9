"""`DirectSession` sends a call as `requests.Session` would, minus the cookie jar and the per-call
reading of the environment: tested against a local HTTP server over loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors.http import DirectSession, HttpClient


class Echo(BaseHTTPRequestHandler):
    """Answers every call with what it received, sets a cookie, and redirects /moved."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self._answer()

    def do_POST(self):  # noqa: N802
        self._answer()

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                             "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "session=abc; Path=/")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def settled() -> DirectSession:
    session = DirectSession()
    session.trust_env = False
    session.headers["X-API-TOKEN"] = "t0ken"
    return session


def test_a_call_carries_the_session_headers_parameters_and_body_as_requests_does(server):
    direct, plain = settled(), requests.Session()
    plain.trust_env = False
    plain.headers["X-API-TOKEN"] = "t0ken"
    answers = [
        session.request("POST", f"{server}/API/v3/things?a=1", params={"b": "2 3"}, json={"name": "Ada"},
                        headers={"X-Extra": "yes"}, timeout=5, allow_redirects=False).json()
        for session in (direct, plain)
    ]
    assert answers[0] == answers[1]
    assert answers[0]["path"] == "/API/v3/things?a=1&b=2+3" and json.loads(answers[0]["body"]) == {"name": "Ada"}
    assert answers[0]["headers"]["x-api-token"] == "t0ken" and answers[0]["headers"]["x-extra"] == "yes"


def test_nothing_of_a_response_is_kept_for_the_next_call(server):
    session = settled()
    session.request("GET", f"{server}/first", timeout=5, allow_redirects=False)
    second = session.request("GET", f"{server}/second", timeout=5, allow_redirects=False).json()
    assert "cookie" not in second["headers"]
    assert len(session.cookies) == 0


def test_a_redirect_is_answered_not_followed(server):
    client = HttpClient(session=settled(), max_retries=0)
    response = client.send("GET", f"{server}/moved", raise_for_status=False)
    assert response.status_code == 302 and response.headers["Location"] == "/elsewhere"


def test_a_session_that_reads_the_environment_goes_through_requests(server, monkeypatch):
    """Until its environment is settled the session is a plain `requests.Session`: the direct
    path would skip the proxies and CA bundle named in the environment."""
    calls = []
    monkeypatch.setattr(requests.Session, "merge_environment_settings",
                        lambda self, *args: calls.append(args) or {"proxies": {}, "stream": False, "verify": True,
                                                                   "cert": None})
    DirectSession().request("GET", f"{server}/x", timeout=5, allow_redirects=False)
    settled().request("GET", f"{server}/y", timeout=5, allow_redirects=False)
    assert len(calls) == 1
