"""A lean HTTP/1.1 transport for `requests`: kept sockets, answers read by the standard
library's `http.client`, and requests' exceptions and responses.

`KeepAliveAdapter` is mounted by `DirectSession` (connectors/http.py), the session provider
clients send with. A call it takes (no proxy, no client certificate, the whole answer read at
once, a body in bytes, a timeout in seconds, an Accept-Encoding it can decode) costs about half
of the CPU requests' adapter and urllib3 spend on it (`bench/http_client.py`); any other call
goes to requests' own `HTTPAdapter`. What the callers rely on is kept:

- **Which failures happened before sending.** A connection that could not be made raises what
  requests raises (`ConnectTimeout`, or `ConnectionError` around urllib3's `NewConnectionError`),
  so `failed_before_sending()` still knows nothing reached the server. Everything after the
  connection is made (TLS, sending, reading) raises `SSLError`, `ReadTimeout` or
  `ConnectionError`: the request may have been received.
- **Kept connections are checked before reuse.** A connection the server closed while it was
  idle is readable (at its end) and is replaced by a new one before anything is sent on it, as
  urllib3 does. Up to `pool_size` idle connections are kept per origin.
- **Timeouts.** `(connect, read)` as requests takes them: the first bounds making the connection,
  the second each wait for the answer.
- **TLS** with the default context, checked against `verify` (True: certifi's bundle, as
  requests does; a file or directory of CA certificates; False: not checked).
- **Content codings.** gzip and deflate answers are decoded, as urllib3 does; an answer in a
  coding it does not know is given as it came.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import ssl
import threading
import zlib
from urllib.parse import urlsplit

import certifi
import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, select_proxy
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.wait import wait_for_read

DECODED = frozenset({"gzip", "x-gzip", "deflate", "identity"})


def decodable(accept_encoding: str | None) -> bool:
    """Whether every coding a request accepts is one this transport decodes."""
    if not accept_encoding:
        return True
    return all(token.split(";", 1)[0].strip().lower() in DECODED for token in accept_encoding.split(","))


def decode(body: bytes, content_encoding: str | None) -> bytes:
    """The body with its gzip and deflate codings undone (the last applied first); raises
    `zlib.error` when a coding it claims is broken."""
    if not content_encoding or not body:
        return body
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",")]):
        if coding in ("gzip", "x-gzip"):
            body = _gunzip(body)
        elif coding == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:  # a raw deflate stream, which some servers send
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif coding != "identity":
            return body  # not ours to decode: given as it came
    return body


def _gunzip(body: bytes) -> bytes:
    parts = []
    while body:  # one gzip member after another
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        parts.append(decoder.decompress(body))
        if not decoder.eof:
            raise zlib.error("the gzip stream ends early")
        body = decoder.unused_data
    return b"".join(parts)


def _timeouts(timeout) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout


def _head(method: str, target: str, host: str, port: int, scheme: str, headers) -> bytes:
    """The request line and headers, as http.client would write them. requests has checked the
    header names and values (no line breaks); the method and target are checked here."""
    if _UNSAFE.search(method) or _UNSAFE.search(target):
        raise http.client.InvalidURL(f"A request line cannot hold spaces or control characters: {method} {target!r}")
    lines = [f"{method} {target} HTTP/1.1"]
    if "Host" not in headers:
        name = f"[{host}]" if ":" in host else host
        lines.append(f"Host: {name}" if port == (443 if scheme == "https" else 80) else f"Host: {name}:{port}")
    if "Accept-Encoding" not in headers:
        lines.append("Accept-Encoding: identity")
    for name, value in headers.items():
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


class _Answer(http.client.HTTPResponse):
    """http.client's reading of an answer (status line, chunked or sized body, whether the
    connection closes), with its header block split into `_Headers` instead of parsed by the
    email package, which cost as much as all the rest of reading a small answer."""

    def begin(self) -> None:
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)  # an interim 100's fields: nothing to keep
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        # At most 100 fields of at most 64 KiB each, as http.client reads them.
        self.headers = self.msg = _Headers(http.client._read_headers(self.fp))
        coding = self.headers.get("transfer-encoding")
        self.chunked = bool(coding) and coding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                pass
            if self.length is not None and self.length < 0:
                self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200 \
                or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # the body ends where the connection does


class _Headers:
    """An answer's header fields in their order, found by name whatever its case: what
    http.client and `KeepAliveAdapter._response` ask of them. A line folded onto the next (an
    obsolete form) is joined with a space; a line without a colon is not a field."""

    __slots__ = ("fields",)

    def __init__(self, lines: list[bytes]) -> None:
        self.fields: list[tuple[str, str]] = []
        for raw in lines:
            line = raw.decode("iso-8859-1").rstrip("\r\n")
            if line[:1] in (" ", "\t"):
                if self.fields:
                    name, value = self.fields[-1]
                    self.fields[-1] = (name, f"{value} {line.strip()}".strip())
                continue
            name, colon, value = line.partition(":")
            if colon and name:
                self.fields.append((name.rstrip(), value.strip()))

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for field, value in self.fields:
            if field.lower() == name:
                return value
        return default

    def get_all(self, name: str, failobj=None) -> list[str] | None:
        name = name.lower()
        return [value for field, value in self.fields if field.lower() == name] or failobj

    def items(self) -> list[tuple[str, str]]:
        return list(self.fields)


class KeepAliveAdapter(BaseAdapter):
    """Sends a prepared request over a kept socket (see the module docstring); what it does not
    take goes to `fallback`, a requests `HTTPAdapter`."""

    def __init__(self, pool_size: int = 10) -> None:
        super().__init__()
        self.pool_size = pool_size
        self.fallback = HTTPAdapter()
        self._idle: dict[tuple, list[socket.socket]] = {}
        self._contexts: dict[object, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if (stream or cert or parts.scheme not in ("http", "https") or (proxies and select_proxy(request.url, proxies))
                or not (body is None or isinstance(body, bytes))
                or not (timeout is None or isinstance(timeout, (int, float, tuple)))
                or not decodable(request.headers.get("Accept-Encoding"))):
            return self.fallback.send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                      proxies=proxies)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, host, port, verify if parts.scheme == "https" else None)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        head = _head(request.method, target, host, port, parts.scheme, request.headers)
        connect_timeout, read_timeout = _timeouts(timeout)
        sock = self._take(key)
        if sock is None:
            sock = self._connect(request, key, connect_timeout)
        try:
            sock.settimeout(read_timeout)
            sock.sendall(head + body if body else head)  # one write: no wait between head and body
            answer = _Answer(sock, method=request.method)
            answer.begin()
            content = answer.read()
        except (socket.timeout, TimeoutError) as exc:
            sock.close()
            raise requests.ReadTimeout(ReadTimeoutError(None, request.url, f"Read timed out. ({exc})"),
                                       request=request) from exc
        except ssl.SSLError as exc:
            sock.close()
            raise requests.exceptions.SSLError(exc, request=request) from exc
        except (http.client.HTTPException, OSError) as exc:
            sock.close()
            raise requests.ConnectionError(ProtocolError("Connection aborted.", exc), request=request) from exc
        if answer.will_close:
            sock.close()
        else:
            self._give_back(key, sock)
        return self._response(request, answer, content)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for socks in idle.values():
            for sock in socks:
                sock.close()
        self.fallback.close()

    # Connections ----------------------------------------------------------------------------

    def _take(self, key) -> socket.socket | None:
        with self._lock:
            socks = self._idle.get(key)
            while socks:
                sock = socks.pop()
                # Readable while idle: the server closed it (or sent what nobody asked for).
                if not wait_for_read(sock, timeout=0.0):
                    return sock
                sock.close()
        return None

    def _give_back(self, key, sock: socket.socket) -> None:
        with self._lock:
            socks = self._idle.setdefault(key, [])
            if len(socks) < self.pool_size:
                socks.append(sock)
                return
        sock.close()

    def _connect(self, request, key, connect_timeout) -> socket.socket:
        scheme, host, port, verify = key
        # A CA bundle that cannot be read raises OSError before anything is sent, as in requests.
        context = self._context(verify) if scheme == "https" else None
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except (socket.timeout, TimeoutError) as exc:
            reason = ConnectTimeoutError(None, f"Connection to {host} timed out. (connect timeout={connect_timeout})")
            raise requests.ConnectTimeout(MaxRetryError(None, request.url, reason), request=request) from exc
        except OSError as exc:
            reason = NewConnectionError(None, f"Failed to establish a new connection: {exc}")
            raise requests.ConnectionError(MaxRetryError(None, request.url, reason), request=request) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except (socket.timeout, TimeoutError) as exc:
                sock.close()
                raise requests.ReadTimeout(ReadTimeoutError(None, request.url, "The TLS handshake timed out."),
                                           request=request) from exc
            except (ssl.SSLError, ssl.CertificateError) as exc:
                sock.close()
                raise requests.exceptions.SSLError(MaxRetryError(None, request.url, Urllib3SSLError(exc)),
                                                   request=request) from exc
            except OSError as exc:
                sock.close()
                raise requests.ConnectionError(ProtocolError("Connection aborted.", exc), request=request) from exc
        return sock

    def _context(self, verify) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            if verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                where = certifi.where() if verify is True else verify
                if os.path.isdir(where):
                    context = ssl.create_default_context(capath=where)
                else:
                    context = ssl.create_default_context(cafile=where)
            self._contexts[verify] = context
        return context

    # Responses ------------------------------------------------------------------------------

    def _response(self, request, answer: http.client.HTTPResponse, body: bytes) -> requests.Response:
        headers = CaseInsensitiveDict()
        for name, value in answer.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        try:
            body = decode(body, headers.get("Content-Encoding"))
        except zlib.error as exc:
            raise requests.exceptions.ContentDecodingError(
                f"The answer's {headers.get('Content-Encoding')} coding could not be decoded: {exc}", request=request
            ) from exc
        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        response.headers = headers
        response.encoding = get_encoding_from_headers(headers)
        response.url = request.url
        response.request = request
        response.connection = self
        response._content = body
        response._content_consumed = True
        return response
