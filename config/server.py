"""The product's HTTP and websocket server: uvicorn (httptools, uvloop, websockets), started as
`python -m config.server [-b HOST] [-p PORT] config.asgi:application`, with limits on connections
that never finish. A client that opens thousands of sockets and sends nothing, or a header byte
now and then, would otherwise hold one file handle each until the process runs out of them and
refuses everyone (RELIABILITY.md, "Slow and idle connections").

- Idle: a connection that sends nothing for HTTP_IDLE_TIMEOUT_SECONDS, before its first request
  or between keep-alive requests, is closed.
- Headers and body: a request's headers must arrive within HTTP_HEADERS_TIMEOUT_SECONDS of its
  first byte, and its body within HTTP_BODY_TIMEOUT_SECONDS of its headers, however steadily the
  bytes trickle in; otherwise it is answered 408 and closed. Headers larger than
  MAX_HEADER_BYTES are answered 431 (httptools itself sets no limit and keeps them in memory).
- Concurrency: at most HTTP_MAX_CONNECTIONS_PER_ADDRESS open connections (HTTP and websocket)
  per client address, and HTTP_MAX_CONNECTIONS in all, which stays below the file-handle limit
  so that the database and files can still be opened. A connection over a limit is closed as
  soon as it is accepted.

A connection is counted by its transport: uvicorn's websocket upgrade hands the same transport
from the HTTP protocol to a websocket protocol, whose end releases it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
import time

from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from config import heap

logger = logging.getLogger("config.server")

# File handles kept back from HTTP_MAX_CONNECTIONS' default for the database, logs and uploads.
RESERVED_FILE_HANDLES = 200
# A request line and header fields larger than this are refused (Twisted's and Node's limit).
MAX_HEADER_BYTES = 16 * 1024
# The live updates' clients send only short subscriptions.
WEBSOCKET_MAX_MESSAGE_BYTES = 1024 * 1024
# On SIGTERM, requests under way get this long to finish before they are cancelled.
SHUTDOWN_SECONDS = 10
NO_TIMEOUT = 10 * 365 * 24 * 3600
# With --proxy-headers, the proxies whose forwarded headers are trusted unless told otherwise.
FORWARDED_ALLOW_IPS = "*"
# A server without the connection limits (a test's) closes an idle kept-alive connection after this.
UNGUARDED_KEEP_ALIVE_SECONDS = 20


def _answer(status: bytes, text: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(text)).encode() + b"\r\n\r\n" + text)


TIMEOUT_ANSWER = _answer(b"408 Request Timeout", b"The request was not received in time. Closed.")
TOO_LARGE_ANSWER = _answer(b"431 Request Header Fields Too Large",
                           b"The request's header fields are larger than %d bytes." % MAX_HEADER_BYTES)


def file_handle_limit() -> int:
    """The soft limit on open files, raised to the hard limit first (a default soft limit of
    1024 is far below what one server process can serve)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class Limits:
    """The connection limits and counts of one server."""

    def __init__(self, *, idle_timeout, headers_timeout, body_timeout, per_address, total):
        self.idle_timeout = idle_timeout
        self.headers_timeout = headers_timeout
        self.body_timeout = body_timeout
        self.per_address = per_address
        self.total = total
        self.by_address: dict[str | None, int] = {}
        self.addresses: dict[asyncio.BaseTransport, str | None] = {}  # open transports
        self.refused = 0
        self.timed_out = 0
        self._last_warning = 0.0

    def admit(self, transport: asyncio.BaseTransport) -> bool:
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else None
        if self.total and len(self.addresses) >= self.total:
            return self._refuse(address, f"{len(self.addresses)} connections are open (HTTP_MAX_CONNECTIONS)")
        if self.per_address and address is not None and self.by_address.get(address, 0) >= self.per_address:
            return self._refuse(address, f"it has {self.per_address} open (HTTP_MAX_CONNECTIONS_PER_ADDRESS)")
        self.addresses[transport] = address
        self.by_address[address] = self.by_address.get(address, 0) + 1
        return True

    def release(self, transport: asyncio.BaseTransport) -> None:
        if transport not in self.addresses:
            return
        address = self.addresses.pop(transport)
        left = self.by_address.get(address, 1) - 1
        if left > 0:
            self.by_address[address] = left
        else:
            self.by_address.pop(address, None)

    def _refuse(self, address, why: str) -> bool:
        self.refused += 1
        now = time.monotonic()
        if now - self._last_warning > 10:  # one line per 10 s, however many are refused
            self._last_warning = now
            logger.warning("Refusing connections from %s: %s; %d refused so far", address, why, self.refused)
        return False


class GuardedWebSocket(WebSocketsSansIOProtocol):
    """A websocket; its connection was counted when it was accepted as HTTP."""

    def connection_lost(self, exc):
        self.config.limits.release(self.transport)
        super().connection_lost(exc)


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol, watching each request as it arrives: idle, headers, body
    (each with its own deadline), then the application's turn (none). Between keep-alive
    requests uvicorn's own timer, set to the idle timeout, closes an idle connection."""

    def __init__(self, config, server_state, app_state, _loop=None):
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = config.limits
        self._refused = False
        self._phase: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # received since the request began, while its head is unfinished
        self._head_size = 0  # the request line's and header fields' sizes, as parsed

    def connection_made(self, transport):
        if not self.limits.admit(transport):
            self._refused = True
            transport.abort()  # frees the file handle at once; connection_lost follows
            return
        super().connection_made(transport)
        self._enter("idle")

    def connection_lost(self, exc):
        if self._refused:
            return
        self._enter(None)
        self.limits.release(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._phase == "idle":
            self._enter("headers")
        if self._phase == "headers":
            # Counted as they come: httptools keeps an unfinished header field in memory.
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES:
                self._refuse_head()
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self._head_size > MAX_HEADER_BYTES:
            self._refuse_head()  # on_headers_complete stopped the parser
        else:
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        logger.info("Closed %s: its request's header fields passed %d bytes", self.client, MAX_HEADER_BYTES)
        self._close_with(TOO_LARGE_ANSWER)

    # The parser's callbacks mark the phases; uvicorn's own work follows unchanged.
    def on_message_begin(self) -> None:
        self._enter("headers")
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._head_size > MAX_HEADER_BYTES:  # arrived in one piece
            raise ValueError("header fields too large")  # answered in send_400_response
        self._enter("body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._enter(None)  # the whole request is in: the application has it now
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._enter(None)  # a websocket from now on; its own pings watch it
        super().handle_websocket_upgrade()

    def _enter(self, phase: str | None) -> None:
        if phase == self._phase:
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase == "headers":
            self._head_bytes = self._head_size = 0
        seconds = {"idle": self.limits.idle_timeout, "headers": self.limits.headers_timeout,
                   "body": self.limits.body_timeout}.get(phase)
        if seconds:
            self._deadline = self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        phase, self._deadline, self._phase = self._phase, None, None
        if self.transport.is_closing():
            return
        if phase == "idle":
            self.transport.close()
            return
        logger.info("Closed %s: its request %s did not arrive in time", self.client, phase)
        self.limits.timed_out += 1
        self._close_with(TIMEOUT_ANSWER)

    def _close_with(self, answer: bytes) -> None:
        self._enter(None)
        self.transport.write(answer)
        self.transport.close()
        # A client that does not read its answer would keep the socket open: drop it regardless.
        self.loop.call_later(2, self.transport.abort)


def limits_from_settings() -> Limits:
    from django.conf import settings

    total = settings.HTTP_MAX_CONNECTIONS or max(100, file_handle_limit() - RESERVED_FILE_HANDLES)
    return Limits(
        idle_timeout=settings.HTTP_IDLE_TIMEOUT_SECONDS,
        headers_timeout=settings.HTTP_HEADERS_TIMEOUT_SECONDS,
        body_timeout=settings.HTTP_BODY_TIMEOUT_SECONDS,
        per_address=settings.HTTP_MAX_CONNECTIONS_PER_ADDRESS,
        total=total,
    )


def server_config(app, *, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
                  proxy_headers: bool = False, forwarded_allow_ips: str = FORWARDED_ALLOW_IPS, access_log: bool = True,
                  loop: str = "uvloop") -> Config:
    """The server's settings; `limits` None serves without the connection limits (a test's server)."""
    config = Config(
        app, host=host, port=port, loop=loop,
        http=GuardedHttp if limits is not None else "httptools",
        ws=GuardedWebSocket if limits is not None else "websockets-sansio", ws_max_size=WEBSOCKET_MAX_MESSAGE_BYTES,
        lifespan="off",  # channels' router has no lifespan
        log_config=None, access_log=access_log,  # Django's LOGGING formats the lines
        proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,  # the answers do not name the server software
        timeout_keep_alive=(limits.idle_timeout or NO_TIMEOUT) if limits is not None else UNGUARDED_KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        backlog=2048,
    )
    config.limits = limits
    return config


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m config.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("application", nargs="?", default="config.asgi:application",
                        help="the ASGI application as module:attribute (default %(default)s)")
    parser.add_argument("-b", "--bind", default="127.0.0.1", help="the address to listen on (default %(default)s)")
    parser.add_argument("-p", "--port", type=int, default=8000, help="the port (default %(default)s)")
    parser.add_argument("-v", "--verbosity", type=int, default=1,
                        help="0 leaves out the line per request that 1 (the default) and above log")
    parser.add_argument("--proxy-headers", action="store_true",
                        help="take the client's address and scheme from X-Forwarded-For and X-Forwarded-Proto")
    parser.add_argument("--forwarded-allow-ips", default=FORWARDED_ALLOW_IPS,
                        help="with --proxy-headers, the proxies (addresses or networks, comma-separated) "
                             "whose forwarded headers are trusted (default all)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    limits = limits_from_settings()
    logger.info("Connection limits: idle %ss, headers %ss, body %ss, %s per address, %s in all",
                limits.idle_timeout, limits.headers_timeout, limits.body_timeout, limits.per_address, limits.total)
    config = server_config(args.application, host=args.bind, port=args.port, limits=limits,
                           proxy_headers=args.proxy_headers, forwarded_allow_ips=args.forwarded_allow_ips,
                           access_log=args.verbosity > 0)
    config.load()
    heap.settle()  # the application is loaded: what start-up made is not scanned again
    Server(config).run()


if __name__ == "__main__":
    main()
