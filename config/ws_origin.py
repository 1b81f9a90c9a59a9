"""The websocket origin check: a socket opens only from a page of this site, compared on scheme,
host and port, as browsers define an origin.

channels' AllowedHostsOriginValidator compares the host alone, so a page served by anything else
on the same host (another port) could open a socket with the user's cookies, which are not
separated by port.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, with the scheme's default port filled in."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _request_scheme(scope, headers: dict[bytes, bytes]) -> str:
    if settings.SECURE_PROXY_SSL_HEADER:
        name, expected = settings.SECURE_PROXY_SSL_HEADER
        value = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower().encode())
        if value is not None:
            return "https" if value.decode("latin-1").split(",", 1)[0].strip() == expected else "http"
    return "https" if scope.get("scheme") == "wss" else "http"


def allowed_origins(scope) -> set[tuple[str, str, int]]:
    """The site's own origin as this request reached it (its Host, when that is an allowed
    host), plus PUBLIC_BASE_URL and CSRF_TRUSTED_ORIGINS, which name it behind a proxy."""
    headers = dict(scope.get("headers") or [])
    found = set()
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    allowed_hosts = settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if domain and validate_host(domain, allowed_hosts):
        own = origin_of(f"{_request_scheme(scope, headers)}://{host}")
        if own:
            found.add(own)
    for url in [settings.PUBLIC_BASE_URL, *settings.CSRF_TRUSTED_ORIGINS]:
        if url and "*" not in url:
            trusted = origin_of(url)
            if trusted:
                found.add(trusted)
    return found


class SameOriginValidator:
    """ASGI middleware for websockets: refuses (closes) a handshake whose Origin is not this site."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = None
        for name, value in scope.get("headers") or []:
            if name == b"origin":
                origin = origin_of(value.decode("latin-1"))
        if origin is None or origin not in allowed_origins(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
