"""What Django's host check and SecurityMiddleware would do, for the ASGI wrappers that answer
some requests before Django's request handling (config/static_asgi.py, designer/webhooks.py)."""

from __future__ import annotations

from django.conf import settings
from django.http.request import split_domain_port, validate_host


class DjangoRules:
    """Read from the settings once; `plain()` tells whether Django would answer a request as is,
    `security_headers()` gives the headers SecurityMiddleware would add to that answer."""

    def __init__(self) -> None:
        self.allowed_hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not self.allowed_hosts:
            self.allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
        self.headers: list[tuple[bytes, bytes]] = []
        if settings.SECURE_CONTENT_TYPE_NOSNIFF:
            self.headers.append((b"x-content-type-options", b"nosniff"))
        policy = settings.SECURE_REFERRER_POLICY
        if policy:
            values = policy.split(",") if isinstance(policy, str) else policy
            self.headers.append((b"referrer-policy", ",".join(v.strip() for v in values).encode()))
        if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
            self.headers.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
        self.hsts = None
        if settings.SECURE_HSTS_SECONDS:
            value = f"max-age={settings.SECURE_HSTS_SECONDS}"
            if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
                value += "; includeSubDomains"
            if settings.SECURE_HSTS_PRELOAD:
                value += "; preload"
            self.hsts = (b"strict-transport-security", value.encode())
        self.proxy_header = None
        if settings.SECURE_PROXY_SSL_HEADER:
            name, expected = settings.SECURE_PROXY_SSL_HEADER
            self.proxy_header = (name.removeprefix("HTTP_").replace("_", "-").lower().encode(), expected)

    def secure(self, scope, headers: dict[bytes, bytes]) -> bool:
        if self.proxy_header is not None:
            value = headers.get(self.proxy_header[0])
            if value is not None:
                return value.decode("latin-1").split(",", 1)[0].strip() == self.proxy_header[1]
        return scope.get("scheme") == "https"

    def plain(self, scope, headers: dict[bytes, bytes]) -> bool:
        """Requests whose answer Django would not change by redirecting or refusing the host."""
        if scope.get("root_path") or settings.USE_X_FORWARDED_HOST:
            return False
        domain, _port = split_domain_port(headers.get(b"host", b"").decode("latin-1"))
        if not domain or not validate_host(domain, self.allowed_hosts):
            return False
        return not (settings.SECURE_SSL_REDIRECT and not self.secure(scope, headers))

    def security_headers(self, scope, headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        if self.hsts is not None and self.secure(scope, headers):
            return [*self.headers, self.hsts]
        return list(self.headers)
