"""`KeepAliveAdapter` (connectors/transport.py), the transport of `DirectSession`: tested over
loopback against local HTTP and HTTPS servers, with requests' own adapter as the reference."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from connectors.http import DirectSession, HttpClient, MaybeAppliedError, failed_before_sending
from connectors.transport import KeepAliveAdapter, decodable


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.connections += 1

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.command, self.path, body))
        path = self.path.split("?", 1)[0]
        if path == "/slow":
            time.sleep(0.5)
        answer = json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                             "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        extra = []
        if path == "/gzip":
            answer, extra = gzip.compress(answer), [("Content-Encoding", "gzip")]
        elif path == "/deflate":
            answer, extra = zlib.compress(answer), [("Content-Encoding", "deflate")]
        elif path == "/broken-gzip":
            answer, extra = b"not gzip at all", [("Content-Encoding", "gzip")]
        elif path == "/twice":
            extra = [("X-Seen", "one"), ("X-Seen", "two")]
        elif path == "/close":
            extra = [("Connection", "close")]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        for name, value in extra:
            self.send_header(name, value)
        if path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (answer[:10], answer[10:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        if path == "/close-quietly":
            self.close_connection = True  # closes without saying so, as an idle timeout does

    do_GET = do_POST = _answer  # http.server's names

    def log_message(self, *args):
        pass


def serve(context: ssl.SSLContext | None = None):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.connections, httpd.received = 0, []
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return httpd


@pytest.fixture
def server():
    httpd = serve()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def session() -> DirectSession:
    direct = DirectSession()
    direct.trust_env = False
    return direct


def get(direct: requests.Session, url: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", 5)
    return direct.request(kwargs.pop("method", "GET"), url, allow_redirects=False, **kwargs)


def test_calls_share_one_kept_connection(server):
    direct = session()
    responses = [get(direct, f"{server.url}/n{i}") for i in range(5)]
    assert [r.json()["path"] for r in responses] == [f"/n{i}" for i in range(5)]
    assert server.connections == 1
    assert isinstance(responses[0].connection, KeepAliveAdapter)


def test_the_request_reaches_the_server_as_through_requests_adapter(server):
    direct, plain = session(), requests.Session()
    plain.trust_env = False
    answers = [get(s, f"{server.url}/p?a=1", method="POST", params={"b": "2 3"}, json={"é": 1},
                   headers={"X-Extra": "yes"}).json() for s in (direct, plain)]
    assert answers[0] == answers[1]
    assert answers[0]["headers"]["host"] == f"127.0.0.1:{server.server_address[1]}"
    assert json.loads(answers[0]["body"]) == {"é": 1}


def test_a_form_body_given_as_text_is_sent_in_utf_8(server):
    answer = get(session(), f"{server.url}/form", method="POST", data="name=Zoë",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert answer["body"] == "name=Zoë"


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(server):
    direct = session()
    get(direct, f"{server.url}/close-quietly")
    time.sleep(0.1)  # the close reaches this side
    answer = get(direct, f"{server.url}/after", method="POST", json={"n": 1})
    assert answer.status_code == 200
    assert [r[1] for r in server.received] == ["/close-quietly", "/after"]
    assert server.connections == 2


def test_an_answer_that_says_close_is_not_kept(server):
    direct = session()
    get(direct, f"{server.url}/close")
    get(direct, f"{server.url}/next")
    assert server.connections == 2


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/chunked"])
def test_coded_and_chunked_answers_are_read_whole(server, path):
    response = get(session(), f"{server.url}{path}")
    assert response.json()["path"] == path


def test_an_answer_whose_coding_is_broken_raises_requests_decoding_error(server):
    with pytest.raises(requests.exceptions.ContentDecodingError):
        get(session(), f"{server.url}/broken-gzip")


def test_a_repeated_header_is_joined_as_requests_joins_it(server):
    response = get(session(), f"{server.url}/twice")
    assert response.headers["x-seen"] == "one, two"
    assert response.encoding == requests.get(f"{server.url}/twice", timeout=5).encoding


def test_a_refused_connection_raises_what_requests_raises_and_counts_as_not_sent(unused_tcp_port):
    with pytest.raises(requests.ConnectionError) as caught:
        get(session(), f"http://127.0.0.1:{unused_tcp_port}/x", method="POST", json={})
    assert not isinstance(caught.value, requests.ConnectTimeout)
    assert failed_before_sending(caught.value) is True


def test_a_connect_timeout_raises_connect_timeout_and_counts_as_not_sent():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port, held = listener.getsockname()[1], []
    try:
        while True:  # fill the accept queue: further connections wait, unanswered
            probe = socket.socket()
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                probe.close()
                break
            held.append(probe)
        with pytest.raises(requests.ConnectTimeout) as caught:
            get(session(), f"http://127.0.0.1:{port}/x", timeout=(0.2, 5))
        assert failed_before_sending(caught.value) is True
    finally:
        for probe in held:
            probe.close()
        listener.close()


def test_a_read_timeout_counts_as_possibly_sent_and_a_post_is_not_repeated(server):
    client = HttpClient(session=session(), timeout=(2, 0.1), backoff_base=0.01, backoff_max=0.02)
    with pytest.raises(MaybeAppliedError) as caught:
        client.send("POST", f"{server.url}/slow", json={"n": 1})
    assert isinstance(caught.value.__cause__, requests.ReadTimeout)
    assert failed_before_sending(caught.value.__cause__) is False
    assert [r[1] for r in server.received] == ["/slow"]


def test_a_timed_out_connection_is_not_reused(server):
    direct = session()
    with pytest.raises(requests.ReadTimeout):
        get(direct, f"{server.url}/slow", timeout=(2, 0.1))
    time.sleep(0.5)  # the late answer arrives on the abandoned connection
    assert get(direct, f"{server.url}/next").json()["path"] == "/next"
    assert server.connections == 2


def test_a_proxied_or_streamed_call_goes_through_requests_adapter(server):
    direct = session()
    streamed = direct.request("GET", f"{server.url}/s", stream=True, timeout=5, allow_redirects=False)
    assert streamed.raw is not None and json.loads(streamed.content)["path"] == "/s"
    direct.proxies = {"http": server.url}  # the server stands in for a proxy: it sees the whole URL
    proxied = get(direct, "http://example.invalid/through")
    assert proxied.json()["path"] == "http://example.invalid/through"


def test_only_codings_it_decodes_are_taken():
    assert decodable("gzip, deflate") and decodable("identity") and decodable(None)
    assert not decodable("gzip, deflate, br") and not decodable("zstd")


# TLS ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throwaway certificate authority and a certificate it signed for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)

    def make(subject, issuer, issuer_key, key, extensions):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = make(ca_name, ca_name, ca_key, ca_key, [(x509.BasicConstraints(ca=True, path_length=None), True),
                                                   (x509.KeyUsage(False, False, False, False, False, True, True, False,
                                                                  False), True)])
    leaf = make(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, ca_key, key,
                [(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)])
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "cert.pem").write_bytes(leaf.public_bytes(pem))
    (folder / "key.pem").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return folder


@pytest.fixture
def tls_server(certificates):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "cert.pem", certificates / "key.pem")
    httpd = serve(context)
    httpd.url = f"https://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_https_is_checked_against_the_given_authority_and_kept(tls_server, certificates):
    direct = session()
    direct.verify = str(certificates / "ca.pem")
    paths = [get(direct, f"{tls_server.url}/t{i}").json()["path"] for i in range(3)]
    assert paths == ["/t0", "/t1", "/t2"]
    assert tls_server.connections == 1


def test_an_unknown_certificate_raises_requests_ssl_error_as_requests_does(tls_server):
    with pytest.raises(requests.exceptions.SSLError) as caught:
        get(session(), f"{tls_server.url}/x")  # certifi's bundle does not know the test authority
    with pytest.raises(requests.exceptions.SSLError) as reference:
        requests.get(f"{tls_server.url}/x", timeout=5)
    assert failed_before_sending(caught.value) is failed_before_sending(reference.value) is False
    assert tls_server.received == []


def test_verify_false_skips_the_check(tls_server):
    direct = session()
    direct.verify = False
    assert get(direct, f"{tls_server.url}/insecure").json()["path"] == "/insecure"


def test_an_adapter_keeps_at_most_its_pool_size_of_idle_connections(server):
    adapter = KeepAliveAdapter(pool_size=1)
    direct = session()
    direct.mount("http://", adapter)
    prepared = [requests.Request("GET", f"{server.url}/{i}").prepare() for i in range(2)]
    # Two connections at once: two taken, one kept when both are given back.
    first, second = (adapter._connect(p, ("http", "127.0.0.1", server.server_address[1], None), 5) for p in prepared)
    adapter._give_back(("http", "127.0.0.1", server.server_address[1], None), first)
    adapter._give_back(("http", "127.0.0.1", server.server_address[1], None), second)
    assert len(adapter._idle[("http", "127.0.0.1", server.server_address[1], None)]) == 1
    assert second.fileno() == -1  # closed
    adapter.close()
    assert first.fileno() == -1


def test_a_timeout_object_goes_through_requests_adapter(server):
    from urllib3.util import Timeout

    response = get(session(), f"{server.url}/t", timeout=Timeout(connect=2, read=5))
    assert response.json()["path"] == "/t" and response.raw is not None


def test_a_ca_bundle_that_cannot_be_read_raises_before_connecting(tls_server, tmp_path):
    direct = session()
    direct.verify = str(tmp_path / "missing.pem")
    with pytest.raises(OSError) as caught:
        get(direct, f"{tls_server.url}/x")
    assert not isinstance(caught.value, requests.RequestException)
    assert tls_server.connections == 0


# Answers written byte for byte, each read through this transport and through requests' own
# adapter: the status, reason, fields and body must be the same.
RAW_ANSWERS = {
    "folded": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Folded: first\r\n  second\r\nx-MIXED-case: v\r\n\r\nok",
    "repeated": b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nSet-Thing: a\r\nset-thing: b\r\n\r\nok",
    "interim": b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone",
    "no-length": b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    "no-content": b"HTTP/1.1 204 No Content\r\nX-Empty: yes\r\n\r\n",
    "bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\nConnection: close\r\n\r\nread to the end",
    "spaces": b"HTTP/1.1 404 Not Found  \r\nContent-Length: 3\r\nX-Padded:   kept   \r\nno colon here\r\n\r\nnot",
}


@pytest.fixture
def raw_server():
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_raw():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                name = request.split(b" ", 2)[1].decode().strip("/")
                conn.sendall(RAW_ANSWERS[name])  # then closes: every answer may end with the connection

    thread = threading.Thread(target=serve_raw, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


@pytest.mark.parametrize("name", sorted(RAW_ANSWERS))
def test_an_answer_is_read_as_requests_adapter_reads_it(raw_server, name):
    plain = requests.Session()
    plain.trust_env = False
    ours, theirs = get(session(), f"{raw_server}/{name}"), get(plain, f"{raw_server}/{name}")
    assert isinstance(ours.connection, KeepAliveAdapter)
    assert (ours.status_code, ours.reason, ours.content) == (theirs.status_code, theirs.reason, theirs.content)
    assert dict(ours.headers.lower_items()) == {k: v.strip() for k, v in theirs.headers.lower_items()}


def test_a_folded_field_is_joined_and_names_are_found_whatever_their_case(raw_server):
    response = get(session(), f"{raw_server}/folded")
    assert response.headers["x-folded"] == "first second"
    assert response.headers["X-Mixed-Case"] == "v"


def test_an_answer_with_too_many_fields_raises_connection_error(raw_server):
    RAW_ANSWERS["many"] = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n"
    try:
        with pytest.raises(requests.ConnectionError):
            get(session(), f"{raw_server}/many")
    finally:
        del RAW_ANSWERS["many"]
