"""A local stand-in for Slack, for tests and local runs: a small threaded HTTP server on loopback.

It speaks the two ways flows post to Slack:

- incoming webhooks: `POST /services/T…/B…/<secret>` with a JSON body holding `text` or
  `blocks`; answers `200 ok` as text, or Slack's plain-text errors (`400 invalid_payload`,
  `400 no_text`, `404 no_service`, `404 channel_not_found`, `410 channel_is_archived`);
- the Web API under `/api/`: `auth.test`, `chat.postMessage` and `conversations.list` with a
  `Authorization: Bearer <token>` header; answers HTTP 200 with `{"ok": true, ...}` or
  `{"ok": false, "error": "invalid_auth" | "not_authed" | "channel_not_found" | "not_in_channel" |
  "is_archived" | "no_text" | "invalid_blocks"}`.

`throttle(target, retry_after, times)` makes the next calls to a method (or to "webhook") answer
429 with Retry-After, as Slack does when rate limiting. Everything received is kept in `received`,
and the messages posted in `messages`.

    with SlackStandIn() as slack:
        settings.SLACK_API_BASE = slack.api_base
        slack.webhook_url   # http://127.0.0.1:PORT/services/T0FLOWS01/B0FLOWS01/<secret>
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.localserver import LocalServer

TOKEN = "xoxb-1111-2222-standinbottoken"
TEAM = {"team": "Flows Test Team", "team_id": "T0FLOWS01", "user": "flowsbot", "user_id": "U0FLOWS01",
        "bot_id": "B0FLOWSBOT"}
WEBHOOK_PATH = "/services/T0FLOWS01/B0FLOWS01/"
WEBHOOK_SECRET = "standinWebhookSecret0123"


def _channels() -> list[dict[str, Any]]:
    return [
        {"id": "C0GENERAL", "name": "general", "is_private": False, "is_archived": False, "is_member": True},
        {"id": "C0ALERTS", "name": "alerts", "is_private": False, "is_archived": False, "is_member": True},
        {"id": "C0OUTSIDE", "name": "random", "is_private": False, "is_archived": False, "is_member": False},
        {"id": "G0PRIVATE", "name": "leads", "is_private": True, "is_archived": False, "is_member": True},
        {"id": "C0OLD", "name": "old-project", "is_private": False, "is_archived": True, "is_member": True},
    ]



class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.standin.dispatch(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _text(status: int, text: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "text/html"}, text.encode()


def _json(data: dict[str, Any], status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(data).encode()


class SlackStandIn(LocalServer):
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.tokens = {TOKEN: dict(TEAM)}
            self.channels = _channels()
            # The channel each webhook posts to (fixed when the webhook was made, as in Slack).
            self.webhooks = {WEBHOOK_PATH + WEBHOOK_SECRET: "C0ALERTS"}
            self.received: list[dict[str, Any]] = []
            self.messages: list[dict[str, Any]] = []
            self.throttles: dict[str, list[float]] = {}
            self.page_size = 2

    # Control ---------------------------------------------------------------------------------

    def throttle(self, target: str, retry_after: float = 1, times: int = 1) -> None:
        """The next `times` calls to `target` (an API method such as chat.postMessage, or
        "webhook") answer 429 with this Retry-After."""
        with self.lock:
            self.throttles[target] = [retry_after] * times

    def archive(self, channel_id: str) -> None:
        with self.lock:
            for channel in self.channels:
                if channel["id"] == channel_id:
                    channel["is_archived"] = True

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server_port}"

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def api_base(self) -> str:
        return self.url + "/api/"

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH + WEBHOOK_SECRET

    def make_server(self) -> _Server:
        server = _Server((self.host, self.port), _Handler)
        server.standin = self  # type: ignore[attr-defined]
        return server

    # Serving ---------------------------------------------------------------------------------

    def _throttled(self, target: str) -> tuple[int, dict[str, str], bytes] | None:
        waits = self.throttles.get(target)
        if not waits:
            return None
        retry_after = waits.pop(0)
        status, headers, body = (_json({"ok": False, "error": "ratelimited"}, 429) if target != "webhook"
                                 else _text(429, "rate_limited"))
        return status, {**headers, "Retry-After": f"{retry_after:g}"}, body

    def dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes):
        parts = urlsplit(path)
        lowered = {k.lower(): v for k, v in headers.items()}
        with self.lock:
            entry = {"method": method, "path": parts.path, "query": dict(parse_qsl(parts.query)),
                     "headers": lowered, "body": body}
            self.received.append(entry)
            if parts.path.startswith("/services/"):
                return self._webhook(method, parts.path, body)
            if parts.path.startswith("/api/"):
                name = parts.path.removeprefix("/api/")
                throttled = self._throttled(name)
                if throttled:
                    return throttled
                return self._api(method, name, lowered, entry["query"], body)
            if method == "GET" and parts.path == "/":
                return self._page()
            return _text(404, "not found")

    def _page(self):
        """What a person running the demo reads: the messages posted, newest first."""
        from html import escape

        items = "".join(
            f"<li><b>#{escape(next((c['name'] for c in self.channels if c['id'] == m['channel']), m['channel']))}</b> "
            f"<small>via {escape(m['via'])}</small><pre>{escape(str(m.get('text') or m.get('blocks') or ''))}</pre></li>"
            for m in reversed(self.messages)
        ) or "<li>No messages yet.</li>"
        page = (f"<!doctype html><meta charset=utf-8><title>Slack stand-in</title><h1>Slack stand-in</h1>"
                f"<p>Messages posted to this stand-in (incoming webhook <code>{escape(WEBHOOK_PATH)}…</code>, "
                f"Web API under <code>/api/</code>).</p><ol>{items}</ol>")
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    def _webhook(self, method: str, path: str, body: bytes):
        if method != "POST":
            return _text(405, "invalid_method")
        throttled = self._throttled("webhook")
        if throttled:
            return throttled
        channel_id = self.webhooks.get(path)
        if channel_id is None:
            return _text(404, "no_service")
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(payload, dict):
            return _text(400, "invalid_payload")
        if not payload.get("text") and not payload.get("blocks"):
            return _text(400, "no_text")
        if payload.get("blocks") is not None and not isinstance(payload["blocks"], list):
            return _text(400, "invalid_blocks")
        channel = next((c for c in self.channels if c["id"] == channel_id), None)
        if channel is None:
            return _text(404, "channel_not_found")
        if channel["is_archived"]:
            return _text(410, "channel_is_archived")
        self.messages.append({"via": "webhook", "channel": channel_id, "text": payload.get("text"),
                              "blocks": payload.get("blocks"), "payload": payload})
        return _text(200, "ok")

    def _api(self, method: str, name: str, headers: dict[str, str], query: dict[str, str], body: bytes):
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return _json({"ok": False, "error": "not_authed"})
        team = self.tokens.get(auth.removeprefix("Bearer ").strip())
        if team is None:
            return _json({"ok": False, "error": "invalid_auth"})
        args = dict(query)
        if body:
            if headers.get("content-type", "").startswith("application/json"):
                try:
                    parsed = json.loads(body)
                except ValueError:
                    return _json({"ok": False, "error": "invalid_json"})
                if not isinstance(parsed, dict):
                    return _json({"ok": False, "error": "invalid_json"})
                args.update(parsed)
            else:
                args.update(parse_qsl(body.decode("utf-8", "replace")))
        if name == "auth.test":
            return _json({"ok": True, "url": "https://flows-test.slack.com/", **team})
        if name == "conversations.list":
            return self._list(args)
        if name == "chat.postMessage":
            return self._post(args)
        return _json({"ok": False, "error": "unknown_method"}, 404)

    def _list(self, args: dict[str, Any]):
        found = [c for c in self.channels if not (str(args.get("exclude_archived")).lower() == "true" and c["is_archived"])]
        types = str(args.get("types") or "public_channel").split(",")
        found = [c for c in found if ("private_channel" if c["is_private"] else "public_channel") in types]
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit") or 100), self.page_size)
        page = found[start:start + limit]
        next_cursor = str(start + limit) if start + limit < len(found) else ""
        return _json({"ok": True, "channels": page, "response_metadata": {"next_cursor": next_cursor}})

    def _post(self, args: dict[str, Any]):
        channel = next((c for c in self.channels if c["id"] == args.get("channel") or
                        "#" + c["name"] == args.get("channel")), None)
        if channel is None:
            return _json({"ok": False, "error": "channel_not_found"})
        if channel["is_archived"]:
            return _json({"ok": False, "error": "is_archived"})
        if not channel["is_member"]:
            return _json({"ok": False, "error": "not_in_channel"})
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return _json({"ok": False, "error": "invalid_blocks"})
        if blocks is not None and not isinstance(blocks, list):
            return _json({"ok": False, "error": "invalid_blocks"})
        if not args.get("text") and not blocks:
            return _json({"ok": False, "error": "no_text"})
        ts = f"{time.time():.6f}"
        message = {"via": "api", "channel": channel["id"], "text": args.get("text"), "blocks": blocks, "ts": ts,
                   "thread_ts": args.get("thread_ts"), "payload": args}
        self.messages.append(message)
        return _json({"ok": True, "channel": channel["id"], "ts": ts,
                      "message": {"type": "message", "text": args.get("text") or "", "ts": ts}})
