"""Refuses a request body over MAX_REQUEST_BODY_BYTES before anything reads or stores it.

Django's ASGI handler reads a whole body (spooled to disk) before any view can look at its size;
this answers 413 from the Content-Length header at once, and stops reading a body sent without
one (chunked) as soon as it passes the limit.
"""

from __future__ import annotations

import json

from django.conf import settings


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send) -> None:
    limit_mb = settings.MAX_REQUEST_BODY_BYTES / (1024 * 1024)
    file_mb = settings.MAX_IMPORT_FILE_SIZE / (1024 * 1024)
    body = json.dumps({"detail": f"The request is larger than {limit_mb:g} MB, the most this server accepts "
                                 f"(files for Qualtrics: at most {file_mb:g} MB)."}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def body_limit(app):
    async def limited(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        limit = settings.MAX_REQUEST_BODY_BYTES
        length = _content_length(scope)
        if length is not None:
            if length > limit:
                return await _refuse(send)
            return await app(scope, receive, send)  # the server delivers no more than it declares

        received = 0
        over = False
        answered = False

        async def counting_receive():
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True  # the application sees the client go away and stops reading
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        await app(scope, counting_receive, tracking_send)
        if over and not answered:
            await _refuse(send)

    return limited
