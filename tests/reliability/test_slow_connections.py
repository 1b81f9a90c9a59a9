"""Connections that never finish, against the product's server as it is served (config/server.py):
hundreds of sockets from one address that send nothing, or trickle their headers or body a byte
at a time, must neither hold file handles for long nor keep anyone else from being served."""

from __future__ import annotations

import http.client
import socket
import threading
import time

from tests.reliability.support import report

LIMITS = {
    "HTTP_IDLE_TIMEOUT_SECONDS": "2",
    "HTTP_HEADERS_TIMEOUT_SECONDS": "2",
    "HTTP_BODY_TIMEOUT_SECONDS": "2",
    "HTTP_MAX_CONNECTIONS_PER_ADDRESS": "30",
}
ATTACK_SOCKETS = 300
ELSEWHERE = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to loopback: another client address


def open_socket(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    sock.setblocking(False)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        data = sock.recv(65536, socket.MSG_PEEK)
        return data == b"" or data.startswith(b"HTTP/1.1 408")
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def get_login(port: int, source: str) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", "/login/")
        return connection.getresponse().status, time.monotonic() - started
    finally:
        connection.close()


def test_slow_and_idle_connections_are_capped_per_address_and_closed_while_others_are_served(product_server):
    server = product_server(**LIMITS)
    port = server.port
    silent, trickling_headers, trickling_body = [], [], []
    for number in range(ATTACK_SOCKETS):
        sock = open_socket(port)
        [silent, trickling_headers, trickling_body][number % 3].append(sock)
    everyone = silent + trickling_headers + trickling_body
    for sock in trickling_headers:
        sock.send(b"GET /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    for sock in trickling_body:
        sock.send(b"POST /hooks/qualtrics/1/x/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")

    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.3 s on each: always within any idle timeout
        while not stop.wait(0.3):
            for sock in trickling_headers + trickling_body:
                try:
                    sock.send(b"X" if sock in trickling_headers else b"a")
                except OSError:
                    pass

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        held = sum(not closed_by_server(sock) for sock in everyone)
        status, seconds = get_login(port, ELSEWHERE)
        assert status == 200 and seconds < 2, f"another client waited {seconds:.1f} s for {status}"
        assert held <= 30, f"one address holds {held} connections; the limit is 30"

        time.sleep(4.5)  # past the 2 s idle, headers and body timeouts, with slack for a busy machine
        still_open = sum(not closed_by_server(sock) for sock in everyone)
        answered_408 = 0
        for sock in everyone:
            try:
                answered_408 += sock.recv(200, socket.MSG_PEEK).startswith(b"HTTP/1.1 408")
            except OSError:
                pass
        assert still_open == 0, f"{still_open} slow or idle connections are still open after their timeouts"
        assert answered_408 > 0, "requests that trickled in are answered 408 before they are closed"

        status, _ = get_login(port, "127.0.0.1")  # the address's count came back down
        assert status == 200
    finally:
        stop.set()
        thread.join(5)
        for sock in everyone:
            sock.close()
    report("slow connections", sockets=ATTACK_SOCKETS, held_by_one_address=held, answered_408=answered_408)
