"""Requests to addresses people type (the HTTP Request card, Slack and Teams webhook URLs).

Such a request must never reach this server's own network: loopback, private, link-local (the
cloud metadata service at 169.254.169.254), multicast, reserved or otherwise non-public addresses,
IPv4 and IPv6, are refused unless the operator lists the host (or host:port) in
`settings.OUTBOUND_ALLOWED_HOSTS`.

The check is made on the addresses the host name resolves to, and the connection is then made to
the very address that was checked (`PinnedAdapter`): the Host header and the TLS server name and
certificate check still use the name, so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot swap in another address. Every request the session sends, a
redirect included, goes through the same check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from connectors.http import ConnectorError, HttpClient

DEFAULT_PORTS = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Addresses cloud providers serve instance metadata (and credentials) on, named in messages.
METADATA = {
    ipaddress.ip_address("169.254.169.254"): "cloud metadata",
    ipaddress.ip_address("169.254.170.2"): "cloud metadata",
    ipaddress.ip_address("100.100.100.200"): "cloud metadata",
    ipaddress.ip_address("fd00:ec2::254"): "cloud metadata",
}


class OutboundRefused(ConnectorError):
    """The request was not sent: its address is not one this server may call."""

    retryable = False


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name as written (lower case, no brackets)
    port: int
    address: str  # the address checked and connected to
    allowed: bool  # listed in OUTBOUND_ALLOWED_HOSTS

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if DEFAULT_PORTS.get(self.scheme) == self.port else f"{name}:{self.port}"


def _entry(item: str) -> tuple[str, int | None]:
    """("host", port or None) from an OUTBOUND_ALLOWED_HOSTS entry: host, host:port, [v6]:port, v6."""
    item = item.strip().lower()
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif item.count(":") == 1:
        host, _, port = item.partition(":")
    else:
        host, port = item, ""
    return host.rstrip("."), int(port) if port.isdigit() else None


def allowed_hosts() -> list[tuple[str, int | None]]:
    return [_entry(item) for item in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", []) or [] if item.strip()]


def is_allowed(host: str, port: int, extra: Iterable[tuple[str, int | None]] = ()) -> bool:
    host = host.lower().strip("[]").rstrip(".")
    return any(name == host and (allowed_port is None or allowed_port == port)
               for name, allowed_port in [*allowed_hosts(), *extra])


def forbidden_reason(address: IPAddress) -> str | None:
    """Why this address may not be called ("loopback", "private", ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (
            ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None
        ) or address.sixtofour
        if embedded is not None:
            reason = forbidden_reason(embedded)
            if reason:
                return reason
        if address.teredo:
            return "Teredo tunnel"
    if address in METADATA:
        return METADATA[address]
    for attribute, word in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
        ("is_site_local", "site-local"),
    ):
        if getattr(address, attribute, False):
            return word
    if not address.is_global:
        return "non-public"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses a host name (or an address literal) stands for."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise ConnectorError(f"The address {host} could not be found (DNS).", retryable=False) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise ConnectorError(f"The address {host} could not be found (DNS).", retryable=False)
    return found


def check_url(url: str, *, trusted: Iterable[tuple[str, int | None]] = ()) -> Target:
    """Resolves the URL's host and checks every address; raises OutboundRefused (nothing sent)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(f"'{str(url)[:200]}' is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise OutboundRefused(f"Only http:// and https:// addresses can be called, not '{str(url)[:200]}'.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise OutboundRefused(f"'{str(url)[:200]}' names no host.")
    port = port or DEFAULT_PORTS[scheme]
    allowed = is_allowed(host, port, trusted)
    addresses = resolve(host, port)
    if not allowed:
        for address in addresses:
            reason = forbidden_reason(address)
            if reason:
                shown = host if host == str(address) else f"{host} ({address})"
                raise OutboundRefused(
                    f"Refused to call {shown}: it is a {reason} address, and requests may only go to public "
                    "addresses. An operator can allow a host with OUTBOUND_ALLOWED_HOSTS."
                )
    return Target(scheme=scheme, host=host, port=port, address=str(addresses[0]), allowed=allowed)


class PinnedAdapter(HTTPAdapter):
    """Checks each request's address before connecting, then connects to that address only."""

    def __init__(self, *args: Any, trusted: Iterable[tuple[str, int | None]] = (), **kwargs: Any) -> None:
        self.trusted = tuple(trusted)
        super().__init__(*args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("proxies"):
            raise OutboundRefused("Requests to typed addresses are not sent through a proxy.")
        target = check_url(request.url or "", trusted=self.trusted)
        request.headers["Host"] = target.host_header
        request._outbound_target = target  # type: ignore[attr-defined]
        return super().send(request, **kwargs)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        target: Target | None = getattr(request, "_outbound_target", None)
        if target is None:  # only send() calls this, after the check
            raise OutboundRefused("The request's address was not checked; it was not sent.")
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = target.address
        if target.scheme == "https":
            pool_kwargs["server_hostname"] = target.host
            if verify is not False:
                pool_kwargs["assert_hostname"] = target.host
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


def pinned_session(*, trusted: Iterable[tuple[str, int | None]] = ()) -> requests.Session:
    """A session whose every request is checked and pinned; environment proxies are ignored."""
    session = requests.Session()
    session.trust_env = False
    adapter = PinnedAdapter(trusted=trusted)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def trusted_from_url(url: str) -> tuple[str, int | None]:
    """An operator's own base URL (a setting), trusted like an OUTBOUND_ALLOWED_HOSTS entry."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(parts.scheme.lower())


class OutboundClient(HttpClient):
    """An HttpClient whose requests go through a pinned, checked session."""

    def __init__(self, *, trusted: Iterable[tuple[str, int | None]] = (), **options: Any) -> None:
        options.setdefault("session", pinned_session(trusted=trusted))
        super().__init__(**options)

    def describe_path(self, url: str) -> str:
        """The address without its query or user info: a typed URL may carry a key in either, and
        what is named here ends up in messages, run history and logs."""
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"

    def error_for_response(self, response: requests.Response, *, method: str, url: str) -> ConnectorError:
        error = super().error_for_response(response, method=method, url=url)
        error.message = f"{method} {self.describe_path(url)} answered {response.status_code}."
        return error

    def error_for_exception(self, exc: requests.RequestException, *, method: str, url: str) -> ConnectorError:
        where = self.describe_path(url)
        if isinstance(exc, requests.Timeout):
            return ConnectorError(f"{method} {where} timed out.", retryable=True)
        if isinstance(exc, requests.exceptions.SSLError):
            return ConnectorError(f"{method} {where}: the server's TLS certificate could not be verified.",
                                  retryable=False)
        if isinstance(exc, requests.ConnectionError):
            return ConnectorError(f"Could not connect for {method} {where}.", retryable=True)
        return ConnectorError(f"{method} {where} could not be sent ({type(exc).__name__}).", retryable=False)
