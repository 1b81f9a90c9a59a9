"""The client reads the environment's proxy settings once, when it is made (not before every
call as `requests` does): a forwarding proxy on loopback shows which calls went through it."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class ForwardingProxy(BaseHTTPRequestHandler):
    """A plain HTTP proxy: takes `GET http://host/path` and forwards it, headers and all."""

    seen: list[str]

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.seen.append(self.path)
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("host", "proxy-connection")}
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(urllib.request.Request(self.path, headers=headers), timeout=10) as answer:
            body = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                 "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def proxy_url(proxy) -> str:
    return f"http://127.0.0.1:{proxy.server_address[1]}"


def test_a_client_made_with_a_proxy_in_the_environment_calls_through_it(make_client, proxy, monkeypatch, qualtrics_sandbox):
    monkeypatch.setenv("HTTP_PROXY", proxy_url(proxy))
    client = make_client()

    assert client.whoami()["userId"] == qualtrics_sandbox.info.user_id
    assert [path.rsplit("/", 1)[-1] for path in proxy.seen] == ["whoami"]


def test_the_environment_is_read_when_the_client_is_made_not_before_each_call(make_client, proxy, monkeypatch):
    client = make_client()
    monkeypatch.setenv("HTTP_PROXY", proxy_url(proxy))

    client.whoami()

    assert proxy.seen == []


def test_no_proxy_sends_the_calls_directly(make_client, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy_url(proxy))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    make_client().whoami()

    assert proxy.seen == []
