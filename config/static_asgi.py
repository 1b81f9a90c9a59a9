"""Static files answered before Django's request handling (behind daphne, `config/asgi.py`).

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
    from django.conf import settings
    from django.http.request import split_domain_port, validate_host
    from whitenoise.middleware import WhiteNoiseMiddleware

    whitenoise = WhiteNoiseMiddleware(get_response=None)
    prefix = whitenoise.static_prefix
    allowed_hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]

    # What django.middleware.security.SecurityMiddleware adds to WhiteNoise's responses.
    security = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        security.append((b"x-content-type-options", b"nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        values = policy.split(",") if isinstance(policy, str) else policy
        security.append((b"referrer-policy", ",".join(v.strip() for v in values).encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        security.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    hsts = None
    if settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        hsts = (b"strict-transport-security", value.encode())
    proxy_header = None
    if settings.SECURE_PROXY_SSL_HEADER:
        name, expected = settings.SECURE_PROXY_SSL_HEADER
        proxy_header = (name.removeprefix("HTTP_").replace("_", "-").lower().encode(), expected)

    def secure(headers: dict[bytes, bytes], scope) -> bool:
        if proxy_header is not None:
            value = headers.get(proxy_header[0])
            if value is not None:
                return value.decode("latin-1").split(",", 1)[0].strip() == proxy_header[1]
        return scope.get("scheme") == "https"

    def plain(scope, headers: dict[bytes, bytes]) -> bool:
        """Requests whose answer Django would not change by redirecting or refusing the host."""
        if scope.get("root_path") or settings.USE_X_FORWARDED_HOST:
            return False
        domain, _port = split_domain_port(headers.get(b"host", b"").decode("latin-1"))
        if not domain or not validate_host(domain, allowed_hosts):
            return False
        return not (settings.SECURE_SSL_REDIRECT and not secure(headers, scope))

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
        if not plain(scope, headers):
            return await app(scope, receive, send)
        # WhiteNoise reads request headers the WSGI way (HTTP_IF_NONE_MATCH, HTTP_RANGE, ...).
        meta = {"HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
                for name, value in headers.items()}
        response = static_file.get_response(scope["method"], meta)
        out = [(name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers]
        out += security
        if hsts is not None and secure(headers, scope):
            out.append(hsts)
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
