"""One HTTP request through an ASGI application, in-process, for tests of what answers before
Django's request handling (config/asgi.py)."""

from __future__ import annotations

import asyncio


async def asgi_request(path: str, *, app=None, method: str = "GET", host: bytes = b"127.0.0.1", headers=(),
                       body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Sends the request to `app` (default: the project's ASGI application); returns its status,
    its headers (lower-case names) and its body."""
    if app is None:
        from config.asgi import application as app
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", host), *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }
    messages = []
    received = False

    async def receive():
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()

    async def send(message):
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    payload = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, payload
