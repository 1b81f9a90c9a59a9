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


PLAIN = ["https://iad1.qualtrics.com/API/v3/surveys/SV_1/responses/R_1", "http://127.0.0.1:8123/API/v3/",
         "https://co.qualtrics.com/", "https://co.qualtrics.com/a_b-c~d/e.json", "https://xn--caf-dma.example/x"]
# requests changes these (or adds credentials): the session leaves them to it.
NOT_PLAIN = ["https://co.qualtrics.com", "HTTPS://Co.Qualtrics.com/API", "https://co.qualtrics.com:0443/API",
             "https://co.qualtrics.com/a/../b", "https://co.qualtrics.com/a/./b", "https://co.qualtrics.com//a",
             "https://co.qualtrics.com/a b", "https://co.qualtrics.com/%7Euser", "https://co.qualtrics.com/caf\u00e9",
             "https://user:secret@co.qualtrics.com/x", "https://co.qualtrics.com/x?a=1"]


@pytest.mark.parametrize("url", PLAIN + NOT_PLAIN)
def test_a_call_goes_to_the_url_requests_would_send(url):
    from connectors.http import PLAIN_URL

    assert bool(PLAIN_URL.fullmatch(url)) is (url in PLAIN)
    direct = settled()
    reference = requests.Request("GET", url, headers=direct.headers).prepare()
    prepared = direct.prepare_direct("GET", url)
    assert prepared.url == reference.url
    assert dict(prepared.headers) == dict(reference.headers)


def test_a_json_body_is_prepared_as_requests_prepares_it():
    direct = settled()
    reference = requests.Request("POST", "https://co.qualtrics.com/x", json={"é": [1, None]},
                                 headers=direct.headers).prepare()
    prepared = direct.prepare_direct("POST", "https://co.qualtrics.com/x", json={"é": [1, None]})
    assert (prepared.body, dict(prepared.headers)) == (reference.body, dict(reference.headers))
