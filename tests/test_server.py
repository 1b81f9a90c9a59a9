"""config/server.py: the channels daphne serves through its connection limits make requests that
leave a form post's body to the ASGI application instead of parsing it first."""

from __future__ import annotations

import io

from daphne.server import HTTPFactory
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.http import Request

from config.server import GuardedFactory


class _Server:
    """What daphne's HTTPFactory reads of its server when it builds a channel."""

    application_close_timeout = 10
    root_path = ""
    websocket_timeout = 86400
    websocket_connect_timeout = 20
    ping_interval = 20
    ping_timeout = 30
    websocket_handshake_timeout = 5
    proxy_forwarded_address_header = None
    proxy_forwarded_port_header = None
    proxy_forwarded_proto_header = None
    verbosity = 0
    server_name = "daphne"
    http_timeout = None
    connections = {}

    def protocol_connected(self, protocol):
        pass


def form_request(factory: GuardedFactory) -> Request:
    connection = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 50000))
    connection.makeConnection(StringTransport())
    channel = connection.wrappedProtocol._channel
    request = channel.requestFactory(channel)
    request.requestHeaders.setRawHeaders(b"content-type", [b"application/x-www-form-urlencoded"])
    request.content = io.BytesIO(b"Topic=t&MSG=%7B%7D&HMAC=00")
    request.content.seek(0, 2)
    request.process = lambda: None  # daphne's hand-over to the application is not under test
    request.requestReceived(b"POST", b"/hooks/qualtrics/1/secret/", b"HTTP/1.1")
    return request


def test_a_form_post_reaches_the_application_unparsed():
    limits = {"idle_timeout": 10, "headers_timeout": 10, "body_timeout": 10, "per_address": 10, "total": 100}
    request = form_request(GuardedFactory(HTTPFactory(_Server()), **limits))
    assert request.args == {}
    assert request.content.read() == b"Topic=t&MSG=%7B%7D&HMAC=00"


def test_plain_twisted_would_have_parsed_it():
    """The same request through daphne's own factory: Twisted fills `args` from the body."""

    class Plain(GuardedFactory):
        def buildProtocol(self, addr):
            return super(GuardedFactory, self).buildProtocol(addr)

    limits = {"idle_timeout": 10, "headers_timeout": 10, "body_timeout": 10, "per_address": 10, "total": 100}
    request = form_request(Plain(HTTPFactory(_Server()), **limits))
    assert request.args[b"Topic"] == [b"t"]
