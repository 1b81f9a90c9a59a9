"""config/server.py over real sockets: the header-size cap, websockets counted against the
per-address cap, the cap on all connections, and the idle timeout. The server runs in a thread
of the test process in front of a small ASGI application (the limits are the server's, whatever
it serves); tests/reliability/test_slow_connections.py attacks the product's own process."""

from __future__ import annotations

import socket
import time

import pytest
from websockets.sync.client import connect

from config.server import MAX_HEADER_BYTES, Limits, server_config
from tests.processes import ServerThread


async def application(scope, receive, send):
    if scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        body = b"ok" if scope["path"] != "/client/" else f"{scope['client'][0]} {scope['scheme']}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass


@pytest.fixture
def serve():
    """serve(proxy_headers=False, **limits) -> (port, limits), a guarded server on 127.0.0.1,
    stopped after the test."""
    running: list[ServerThread] = []

    def start(proxy_headers: bool = False, **given) -> tuple[int, Limits]:
        limits = Limits(**{"idle_timeout": 5, "headers_timeout": 5, "body_timeout": 5, "per_address": 0,
                           "total": 0, **given})
        running.append(ServerThread(server_config(application, port=0, limits=limits, access_log=False,
                                                  loop="asyncio", proxy_headers=proxy_headers)))
        return running[-1].start(seconds=10), limits

    yield start
    for server in running:
        server.stop(seconds=10)


def exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"content-length:" in head.lower():
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed(sock: socket.socket, seconds: float = 3) -> bool:
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:  # reset
        return True


def test_header_fields_over_the_cap_are_answered_431_in_one_piece_trickled_or_on_a_kept_connection(serve):
    port, _ = serve()
    large = b"X-Large: " + b"a" * MAX_HEADER_BYTES + b"\r\n"
    fitting = b"X-Fitting: " + b"a" * (MAX_HEADER_BYTES - 200) + b"\r\n"

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        answer = exchange(sock, b"GET / HTTP/1.1\r\nHost: a\r\n" + fitting + b"\r\n")
        assert answer.endswith(b"\r\n\r\nok") and b"\r\nserver:" not in answer.lower()

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        answer = exchange(sock, b"GET / HTTP/1.1\r\nHost: a\r\n" + large + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 431 ") and b"larger than 16384 bytes" in answer
        assert closed(sock)

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Endless: ")
        for _ in range(MAX_HEADER_BYTES // 1000 + 1):  # never finishes its field
            sock.sendall(b"a" * 1000)
            time.sleep(0.005)
        assert sock.recv(200).startswith(b"HTTP/1.1 431 ")  # answered without another byte

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert exchange(sock, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").endswith(b"ok")  # then the same connection:
        assert exchange(sock, b"GET / HTTP/1.1\r\nHost: a\r\n" + large + b"\r\n").startswith(b"HTTP/1.1 431 ")


def test_a_websocket_counts_against_its_address_until_it_closes(serve):
    port, limits = serve(per_address=2)
    with connect(f"ws://127.0.0.1:{port}/ws/") as second:
        with connect(f"ws://127.0.0.1:{port}/ws/"):
            assert limits.by_address == {"127.0.0.1": 2}
            with socket.create_connection(("127.0.0.1", port), timeout=5) as third:
                assert closed(third)  # over the address's limit: closed as soon as it is accepted
            assert limits.refused == 1
            with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)) as other:
                assert exchange(other, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").endswith(b"ok")  # another address

        deadline = time.monotonic() + 5
        while limits.by_address.get("127.0.0.1") != 1:  # the closed websocket's place came back
            assert time.monotonic() < deadline, limits.by_address
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as again:
            assert exchange(again, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").endswith(b"ok")
        second.send("still open")


def test_connections_over_the_total_are_closed_and_their_places_come_back(serve):
    port, limits = serve(total=3)
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)) as over:
            assert closed(over)
        held.pop().close()
        deadline = time.monotonic() + 5
        while len(limits.addresses) != 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0)) as next_one:
            assert exchange(next_one, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").endswith(b"ok")
    finally:
        for sock in held:
            sock.close()


def test_an_idle_connection_closes_before_its_first_request_and_after_its_last(serve):
    port, limits = serve(idle_timeout=1)
    opened = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as silent, \
            socket.create_connection(("127.0.0.1", port), timeout=5) as kept:
        assert exchange(kept, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").endswith(b"ok")
        answered = time.monotonic()
        assert closed(silent, seconds=5)
        assert time.monotonic() - opened > 0.9  # by the idle timeout, not at once
        assert closed(kept, seconds=5)
        assert time.monotonic() - answered > 0.9
    assert limits.timed_out == 0  # idle is not a slow request: closed without an answer


def test_a_body_that_does_not_arrive_in_time_is_answered_408(serve):
    port, limits = serve(body_timeout=1)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        sock.settimeout(5)
        assert sock.recv(200).startswith(b"HTTP/1.1 408 ")
    assert limits.timed_out == 1


def test_forwarded_headers_are_ignored_unless_the_server_is_told_it_is_behind_a_proxy(serve):
    forwarded = b"GET /client/ HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n\r\n"
    direct, _ = serve()
    with socket.create_connection(("127.0.0.1", direct), timeout=5) as sock:
        assert exchange(sock, forwarded).endswith(b"\r\n\r\n127.0.0.1 http")  # uvicorn's own default trusts them
    proxied, _ = serve(proxy_headers=True)
    with socket.create_connection(("127.0.0.1", proxied), timeout=5) as sock:
        assert exchange(sock, forwarded).endswith(b"\r\n\r\n203.0.113.9 https")
