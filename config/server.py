"""daphne, as the product is served (`python -m config.server`, same arguments as `daphne`), with
limits on connections that never finish: a client that opens thousands of sockets and sends
nothing, or a header byte now and then, would otherwise hold one file handle each until daphne
runs out of them and refuses everyone (RELIABILITY.md, "Slow and idle connections").

- Idle: Twisted's HTTP channel closes a connection that sends nothing for
  HTTP_IDLE_TIMEOUT_SECONDS (before its first request, and between keep-alive requests). Each
  byte restarts that timer, so it alone does not stop a client that trickles.
- Headers and body: a request's headers must arrive within HTTP_HEADERS_TIMEOUT_SECONDS of its
  first byte, and its body within HTTP_BODY_TIMEOUT_SECONDS of its headers, however steadily the
  bytes trickle in; otherwise it is answered 408 and closed.
- Concurrency: at most HTTP_MAX_CONNECTIONS_PER_ADDRESS open connections (HTTP and websocket)
  per client address, and HTTP_MAX_CONNECTIONS in all, which stays below the file-handle limit
  so that the database and files can still be opened. A connection over a limit is closed as
  soon as it is accepted.

The limits wrap daphne's HTTP factory (a Twisted WrappingFactory), which daphne's websocket
upgrade supports: the wrapper stays in place when the connection becomes a websocket.
"""

from __future__ import annotations

import functools
import logging
import os
import resource
import sys
import time

import daphne.server
from daphne.cli import CommandLineInterface
from twisted.internet import reactor
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

from config import heap

logger = logging.getLogger("config.server")

# File handles kept back from HTTP_MAX_CONNECTIONS' default for the database, logs and uploads.
RESERVED_FILE_HANDLES = 200
TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 45\r\n\r\nThe request was not received in time. Closed."
)


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


class GuardedConnection(ProtocolWrapper):
    """Watches one connection's request as it arrives and closes it when its headers or body
    take too long. It stops watching once the connection became a websocket."""

    def __init__(self, factory, wrapped):
        super().__init__(factory, wrapped)
        self.address = None
        self._deadline = None
        self._phase = None

    def dataReceived(self, data):
        super().dataReceived(data)
        self._watch()

    def connectionLost(self, reason):
        self._cancel()
        super().connectionLost(reason)

    def _channel(self):
        # daphne's upgrade replaces wrappedProtocol with its websocket protocol, which has no channel.
        return getattr(self.wrappedProtocol, "_channel", None)

    def _watch(self) -> None:
        channel = self._channel()
        if channel is None or getattr(channel, "_handlingRequest", False) or self.disconnecting:
            self._cancel()  # a websocket, or the whole request is in: the application has it now
            return
        phase = "body" if channel.line_mode == 0 else "headers"
        if phase != self._phase:
            self._cancel()
            seconds = self.factory.body_timeout if phase == "body" else self.factory.headers_timeout
            if seconds:
                self._phase = phase
                self._deadline = reactor.callLater(seconds, self._expire)

    def _cancel(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None
        self._phase = None

    def _expire(self) -> None:
        phase, self._deadline, self._phase = self._phase, None, None
        logger.info("Closed %s: its request %s did not arrive in time", self.address, phase)
        self.factory.timed_out += 1
        self.transport.write(TIMEOUT_ANSWER)
        self.transport.loseConnection()
        # A client that does not read its answer would keep the socket open: drop it regardless.
        reactor.callLater(2, self.transport.abortConnection)


def unparsed(channel) -> None:
    """Twisted parses every form post's body into `request.args` before daphne sees it (about
    0.1 ms per Qualtrics webhook, most of it the content type read through `email`); daphne hands
    the ASGI application the body itself and never reads `args`, so the channel's requests are
    made without that parsing."""
    channel.requestFactory = functools.partial(channel.requestFactory, parsePOSTFormSubmission=False)


class GuardedFactory(WrappingFactory):
    protocol = GuardedConnection

    def __init__(self, wrapped, *, idle_timeout, headers_timeout, body_timeout, per_address, total):
        super().__init__(wrapped)
        wrapped.timeOut = idle_timeout or None
        self.headers_timeout = headers_timeout
        self.body_timeout = body_timeout
        self.per_address = per_address
        self.total = total
        self.by_address: dict[str, int] = {}
        self.open = 0
        self.refused = 0
        self.timed_out = 0
        self._last_warning = 0.0

    def buildProtocol(self, addr):
        address = getattr(addr, "host", None)
        if self.total and self.open >= self.total:
            return self._refuse(address, f"{self.open} connections are open (HTTP_MAX_CONNECTIONS)")
        if self.per_address and address is not None and self.by_address.get(address, 0) >= self.per_address:
            return self._refuse(address, f"it has {self.per_address} open (HTTP_MAX_CONNECTIONS_PER_ADDRESS)")
        protocol = super().buildProtocol(addr)
        if protocol is not None:
            protocol.address = address
            unparsed(protocol.wrappedProtocol)
        return protocol

    def _refuse(self, address, why: str):
        # None makes Twisted close the socket at once, freeing its file handle.
        self.refused += 1
        now = time.monotonic()
        if now - self._last_warning > 10:  # one line per 10 s, however many are refused
            self._last_warning = now
            logger.warning("Refusing connections from %s: %s; %d refused so far", address, why, self.refused)
        return None

    def registerProtocol(self, protocol):
        super().registerProtocol(protocol)
        self.open += 1
        if protocol.address is not None:
            self.by_address[protocol.address] = self.by_address.get(protocol.address, 0) + 1

    def unregisterProtocol(self, protocol):
        super().unregisterProtocol(protocol)
        self.open -= 1
        if protocol.address is not None:
            left = self.by_address.get(protocol.address, 1) - 1
            if left > 0:
                self.by_address[protocol.address] = left
            else:
                self.by_address.pop(protocol.address, None)


class GuardedServer(daphne.server.Server):
    def run(self):
        from django.conf import settings

        total = settings.HTTP_MAX_CONNECTIONS or max(100, file_handle_limit() - RESERVED_FILE_HANDLES)
        limits = {
            "idle_timeout": settings.HTTP_IDLE_TIMEOUT_SECONDS,
            "headers_timeout": settings.HTTP_HEADERS_TIMEOUT_SECONDS,
            "body_timeout": settings.HTTP_BODY_TIMEOUT_SECONDS,
            "per_address": settings.HTTP_MAX_CONNECTIONS_PER_ADDRESS,
            "total": total,
        }
        logger.info("Connection limits: %s", limits)
        heap.settle()  # the application is loaded: what start-up made is not scanned again
        http_factory = daphne.server.HTTPFactory
        # daphne builds its HTTP factory inside run() and offers no hook for it.
        daphne.server.HTTPFactory = lambda server: GuardedFactory(http_factory(server), **limits)
        try:
            super().run()
        finally:
            daphne.server.HTTPFactory = http_factory


class GuardedCommandLineInterface(CommandLineInterface):
    server_class = GuardedServer


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, os.getcwd())
    GuardedCommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
