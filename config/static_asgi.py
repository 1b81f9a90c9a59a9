"""Static files answered before Django's request handling (in `config/asgi.py`).

WhiteNoise as Django middleware costs every static file a worker thread and the start of the
middleware stack; the editor's ES modules are two dozen such files per cold page load. This
wrapper answers GET and HEAD requests for files WhiteNoise knows with WhiteNoise's own answer
(the same index, Cache-Control, ETag, Last-Modified, 304s and ranges) plus the headers Django's
SecurityMiddleware adds to it, on the event loop. Anything else, including a request Django
would redirect to HTTPS or refuse for its host, goes to the wrapped application unchanged, so
WhiteNoise's middleware still serves static files under any other server (runserver, tests).
"""

from __future__ import annotations

import asyncio

CHUNK = 64 * 1024


def static_files(app):
    """Wraps an ASGI HTTP application; returns the wrapped application."""
    from whitenoise.middleware import WhiteNoiseMiddleware

    from config.asgi_rules import DjangoRules

    whitenoise = WhiteNoiseMiddleware(get_response=None)
    prefix = whitenoise.static_prefix
    rules = DjangoRules()

    async def find(path: str):
        if whitenoise.autorefresh:  # DEBUG: look the file up on disk each time, as the middleware does
            return await asyncio.to_thread(whitenoise.find_file, path)
        return whitenoise.files.get(path)

    async def serve(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or not path.startswith(prefix):
            return await app(scope, receive, send)
        static_file = await find(path)
        if static_file is None:
            return await app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if not rules.plain(scope, headers):
            return await app(scope, receive, send)
        # WhiteNoise reads request headers the WSGI way (HTTP_IF_NONE_MATCH, HTTP_RANGE, ...).
        meta = {"HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
                for name, value in headers.items()}
        response = static_file.get_response(scope["method"], meta)
        out = [(name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers]
        out += rules.security_headers(scope, headers)
        await send({"type": "http.response.start", "status": int(response.status), "headers": out})
        body = response.file
        if body is None:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            # Local files of a few KiB: read on the loop; larger ones a chunk at a time in a thread.
            chunk = body.read(CHUNK)
            while True:
                following = await asyncio.to_thread(body.read, CHUNK) if len(chunk) == CHUNK else b""
                await send({"type": "http.response.body", "body": chunk, "more_body": bool(following)})
                if not following:
                    break
                chunk = following
        finally:
            body.close()

    return serve
