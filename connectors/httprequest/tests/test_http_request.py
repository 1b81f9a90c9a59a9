"""The HTTP Request card against a loopback receiver the test allows with OUTBOUND_ALLOWED_HOSTS, and
the outbound check refusing every non-public address before anything is sent."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest

from connectors import registry
from connectors.http import ConnectorError, MaybeAppliedError
from connectors.httprequest.cards import CARD_KEY, MAX_RESPONSE_BYTES
from connectors.httprequest.tests.receiver import Receiver
from connectors.outbound import OutboundRefused, forbidden_reason
from connectors.specs import CardInputError, RunContext

OUTPUTS = {"step_1": {"email": 'ada "the countess"@example.com', "count": 3, "tags": ["a", "b"]}}


def resolve(ref: str):
    step, _, key = ref.partition(".")
    return OUTPUTS[step][key]


def run(options=None, **inputs):
    card = registry.get(CARD_KEY)
    return card.run(RunContext(resolve=resolve), options or {}, inputs)


@pytest.fixture
def receiver(settings):
    with Receiver() as server:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{server.port}"]
        yield server


def json_answer(data, status=200):
    return lambda request: (status, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(data).encode())


def test_a_get_sends_query_and_headers_and_reads_the_json_answer(receiver):
    receiver.route("/items", json_answer({"id": 42, "name": "Ada"}))
    out = run({"method": "GET"}, url=receiver.url + "/items", query={"page": 2, "q": "{{step_1.count}}"},
              headers={"X-Trace": "t-{{step_1.count}}"}, authorization="Bearer tok-1")
    assert out["status_code"] == 200 and out["body"] == {"id": 42, "name": "Ada"} and out["truncated"] is False
    assert out["headers"]["content-type"].startswith("application/json")
    [seen] = receiver.requests
    assert seen["query"] == "page=2&q=3"
    assert seen["headers"]["x-trace"] == "t-3" and seen["headers"]["authorization"] == "Bearer tok-1"
    assert seen["headers"]["host"] == f"127.0.0.1:{receiver.port}"


def test_a_json_body_is_filled_in_without_breaking_its_syntax(receiver):
    receiver.route("/hook", json_answer({"ok": True}, status=201))
    template = '{"email": "{{step_1.email}}", "count": "{{step_1.count}}", "note": "n={{step_1.count}}", "tags": "{{step_1.tags}}"}'
    out = run({"method": "POST", "body_type": "json"}, url=receiver.url + "/hook", body=template)
    assert out["status_code"] == 201
    sent = receiver.requests[0]
    assert sent["headers"]["content-type"] == "application/json"
    assert json.loads(sent["body"]) == {"email": 'ada "the countess"@example.com', "count": 3, "note": "n=3",
                                        "tags": ["a", "b"]}


def test_form_and_text_bodies(receiver):
    run({"method": "POST", "body_type": "form"}, url=receiver.url + "/f", body='{"a": "{{step_1.count}}", "b": "x y"}')
    run({"method": "PUT", "body_type": "form"}, url=receiver.url + "/f", body="a=1&b=two")
    run({"method": "PATCH", "body_type": "text"}, url=receiver.url + "/t", body="Hello {{step_1.count}}")
    form, pairs, text = receiver.requests
    assert form["body"] == b"a=3&b=x+y" and form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert pairs["body"] == b"a=1&b=two" and pairs["method"] == "PUT"
    assert text["body"] == b"Hello 3" and text["headers"]["content-type"].startswith("text/plain")


def test_a_text_answer_stays_text_and_a_large_one_is_cut(receiver):
    receiver.route("/big", lambda r: (200, {"Content-Type": "application/json"}, b'"' + b"x" * (2 * MAX_RESPONSE_BYTES)))
    receiver.route("/plain", lambda r: (200, {"Content-Type": "text/plain; charset=utf-8"}, "héllo".encode()))
    big = run(url=receiver.url + "/big")
    assert big["truncated"] is True and len(big["text"]) == MAX_RESPONSE_BYTES and isinstance(big["body"], str)
    plain = run(url=receiver.url + "/plain")
    assert plain["body"] == plain["text"] == "héllo" and plain["truncated"] is False


def test_an_error_status_fails_the_step_unless_told_not_to(receiver):
    receiver.route("/missing", json_answer({"error": "no such item"}, status=404))
    with pytest.raises(ConnectorError) as caught:
        run(url=receiver.url + "/missing?key=secret-in-query")
    assert caught.value.status == 404 and not caught.value.retryable
    assert "answered 404" in caught.value.message and "no such item" in caught.value.message
    assert "secret-in-query" not in caught.value.message
    out = run({"fail_on_error": False}, url=receiver.url + "/missing")
    assert out["status_code"] == 404 and out["body"] == {"error": "no such item"}


def test_a_get_is_retried_after_a_503_but_a_post_is_never_sent_twice(receiver):
    answers = iter([(503, {"Retry-After": "0"}, b"busy"), (200, {}, b"fine")])
    receiver.route("/flaky", lambda r: next(answers))
    assert run(url=receiver.url + "/flaky")["text"] == "fine"
    assert len(receiver.requests) == 2
    receiver.requests.clear()
    receiver.route("/down", lambda r: (503, {"Retry-After": "0"}, b"busy"))
    with pytest.raises(ConnectorError) as caught:
        run({"method": "POST"}, url=receiver.url + "/down", body='{"a": 1}')
    assert caught.value.status == 503 and not caught.value.retryable
    assert len(receiver.requests) == 1


def test_a_post_whose_answer_never_comes_is_not_sent_again(settings):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]
    try:
        with pytest.raises(MaybeAppliedError):
            run({"method": "POST", "timeout": 1}, url=f"http://127.0.0.1:{port}/slow", body='{"a": 1}')
    finally:
        listener.close()


def test_redirects_are_a_result_unless_followed(receiver):
    receiver.route("/old", lambda r: (302, {"Location": "/new"}, b""))
    receiver.route("/new", json_answer({"here": True}))
    assert run(url=receiver.url + "/old")["status_code"] == 302
    out = run({"follow_redirects": True}, url=receiver.url + "/old")
    assert out["body"] == {"here": True} and out["url"] == receiver.url + "/new"
    receiver.route("/loop", lambda r: (302, {"Location": "/loop"}, b""))
    with pytest.raises(ConnectorError, match="More than 5 redirects"):
        run({"follow_redirects": True}, url=receiver.url + "/loop")


def test_a_redirect_to_a_private_address_is_refused_and_not_followed(receiver):
    receiver.route("/evil", lambda r: (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""))
    with pytest.raises(OutboundRefused, match="cloud metadata"):
        run({"follow_redirects": True}, url=receiver.url + "/evil")


def test_a_303_after_a_post_is_followed_with_a_get_and_credentials_stay_on_their_host(receiver, settings):
    with Receiver() as other:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}", f"localhost:{other.port}"]
        receiver.route("/create", lambda r: (303, {"Location": f"http://localhost:{other.port}/done"}, b""))
        out = run({"method": "POST", "follow_redirects": True}, url=receiver.url + "/create", body='{"a": 1}',
                  authorization="Bearer secret-token")
        assert out["status_code"] == 200
        [followed] = other.requests
        assert followed["method"] == "GET" and followed["body"] == b"" and "authorization" not in followed["headers"]


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://2130706433:{port}/",
])
def test_non_public_addresses_are_refused_before_anything_is_sent(settings, url):
    with Receiver() as bystander:
        settings.OUTBOUND_ALLOWED_HOSTS = []
        with pytest.raises(OutboundRefused) as caught:
            run({"method": "POST"}, url=url.format(port=bystander.port), body='{"a": 1}')
        assert "Refused to call" in caught.value.message and "OUTBOUND_ALLOWED_HOSTS" in caught.value.message
        assert bystander.requests == []


def test_other_schemes_are_refused():
    for url in ("file:///etc/passwd", "ftp://example.com/", "gopher://example.com/"):
        with pytest.raises(OutboundRefused, match="Only http"):
            run(url=url)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert forbidden_reason(ipaddress.ip_address(address)) is None


class FakeDns:
    """Resolves one made-up name as told, and counts its look-ups; everything else resolves normally."""

    def __init__(self, monkeypatch, name: str, answers: list[str]):
        self.name, self.answers, self.calls = name, answers, 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            self.calls += 1
            address = self.answers[min(self.calls, len(self.answers)) - 1]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_the_connection_goes_to_the_checked_address_with_the_name_in_the_host_header(receiver, settings, monkeypatch):
    dns = FakeDns(monkeypatch, "api.flows.test", ["127.0.0.1"])
    settings.OUTBOUND_ALLOWED_HOSTS = [f"api.flows.test:{receiver.port}"]
    out = run(url=f"http://api.flows.test:{receiver.port}/x")
    assert out["status_code"] == 200
    assert receiver.requests[0]["headers"]["host"] == f"api.flows.test:{receiver.port}"
    # Looked up by the card's check and by the session's, never by the connection itself.
    assert dns.calls == 2


def test_a_name_that_changes_its_answer_after_the_first_check_is_refused(receiver, settings, monkeypatch):
    FakeDns(monkeypatch, "rebind.flows.test", ["93.184.216.34", "127.0.0.1"])
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(OutboundRefused, match="loopback"):
        run(url=f"http://rebind.flows.test:{receiver.port}/x")
    assert receiver.requests == []


def test_a_name_with_any_private_answer_is_refused(receiver, settings, monkeypatch):
    FakeDns(monkeypatch, "mixed.flows.test", ["10.1.2.3"])
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(OutboundRefused, match=r"mixed.flows.test \(10.1.2.3\).*private"):
        run(url="https://mixed.flows.test/")


@pytest.mark.parametrize("options, inputs, message", [
    ({"timeout": 500}, {}, "Timeout"),
    ({"method": "TRACE"}, {}, "Method"),
    ({}, {"headers": {"Host": "evil"}}, "set by the connection"),
    ({}, {"headers": {"X-A": "a\r\nX-B: b"}}, "line break"),
    ({}, {"headers": {"bad name": "x"}}, "not a header name"),
    ({}, {"body": "x"}, "carries no body"),
    ({"method": "POST"}, {"body": '{"a": '}, "not valid JSON"),
])
def test_inputs_it_cannot_use_are_refused_with_the_field_named(receiver, options, inputs, message):
    with pytest.raises(CardInputError, match=message):
        run(options, url=receiver.url + "/x", **inputs)
    assert receiver.requests == []
