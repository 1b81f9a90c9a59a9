"""HTTP Request with an optional connection: the team's bearer or basic header, kept encrypted,
sent by the card instead of one typed in the flow, and hidden from what the card hands on."""

from __future__ import annotations

import base64
import json

import pytest

from connectors import registry
from connectors.http import ConnectorError
from connectors.httprequest.cards import CARD_KEY
from connectors.httprequest.connector import authorize, build_client, clean_credentials
from connectors.httprequest.tests.receiver import Receiver
from connectors.specs import CredentialsError, RunContext

TOKEN = "tok-connection-5f2a9c1e7b"


def run(client, options=None, **inputs):
    return registry.get(CARD_KEY).run(RunContext(client=client, resolve=lambda ref: None), options or {}, inputs)


@pytest.fixture
def receiver(settings):
    with Receiver() as server:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{server.port}"]
        yield server


def bearer(token=TOKEN):
    return build_client(clean_credentials({"auth_type": "bearer", "token": token}))


def test_the_card_takes_an_optional_connection_of_its_connector():
    card = registry.get(CARD_KEY)
    assert card.optional_configuration and not card.needs_configuration and card.takes_configuration
    assert card.to_json()["optional_configuration"] is True
    connector = registry.connector("http")
    assert connector.needs_connection
    assert [f.key for f in connector.credentials if f.secret] == ["token", "password"]


def test_a_bearer_connection_sends_its_header_instead_of_one_given_in_the_inputs(receiver):
    out = run(bearer(), url=receiver.url + "/a", authorization="Bearer typed", headers={"authorization": "x",
                                                                                       "X-Other": "1"})
    assert out["status_code"] == 200
    [seen] = receiver.requests
    assert seen["headers"]["authorization"] == f"Bearer {TOKEN}" and seen["headers"]["x-other"] == "1"


def test_a_basic_connection_sends_the_username_and_password(receiver):
    client = build_client(clean_credentials({"auth_type": "Basic", "username": "ada", "password": "s3cret:pässword"}))
    run(client, url=receiver.url + "/b")
    header = receiver.requests[0]["headers"]["authorization"]
    assert header.startswith("Basic ")
    assert base64.b64decode(header[6:]).decode() == "ada:s3cret:pässword"


def test_without_a_connection_the_input_header_is_sent(receiver):
    run(None, url=receiver.url + "/c", authorization="Bearer typed")
    assert receiver.requests[0]["headers"]["authorization"] == "Bearer typed"


def test_a_secret_the_server_echoes_is_hidden_from_the_outputs_and_the_error(receiver):
    def echo(request, status=200):
        seen = request["headers"]["authorization"]
        return status, {"Content-Type": "application/json", "X-Seen": seen}, json.dumps({"you_sent": seen}).encode()

    receiver.route("/echo", echo)
    receiver.route("/refuse", lambda request: echo(request, status=401))
    out = run(bearer(), url=receiver.url + "/echo")
    assert TOKEN not in json.dumps(out)
    assert out["body"] == {"you_sent": "[hidden]"} and out["headers"]["x-seen"] == "[hidden]"
    with pytest.raises(ConnectorError) as caught:
        run(bearer(), url=receiver.url + "/refuse")
    assert "answered 401" in caught.value.message and TOKEN not in str(caught.value) and "[hidden]" in str(caught.value)


def test_a_short_password_is_not_hidden_in_every_word(receiver):
    receiver.route("/text", lambda request: (200, {"Content-Type": "text/plain"}, b"a passing note"))
    client = build_client(clean_credentials({"auth_type": "basic", "username": "ada", "password": "pass"}))
    assert run(client, url=receiver.url + "/text")["text"] == "a passing note"


def test_the_connections_header_stays_on_its_host_across_a_redirect(receiver, settings):
    with Receiver() as other:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}", f"localhost:{other.port}"]
        receiver.route("/go", lambda r: (302, {"Location": f"http://localhost:{other.port}/there"}, b""))
        run(bearer(), {"follow_redirects": True}, url=receiver.url + "/go")
        assert receiver.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
        assert "authorization" not in other.requests[0]["headers"]


@pytest.mark.parametrize(("values", "field"), [
    ({"auth_type": "digest", "token": "x"}, "auth_type"),
    ({"auth_type": "bearer", "token": ""}, "token"),
    ({"auth_type": "bearer", "token": "two words"}, "token"),
    ({"auth_type": "basic", "username": "", "password": "p"}, "username"),
    ({"auth_type": "basic", "username": "a:b", "password": "p"}, "username"),
    ({"auth_type": "basic", "username": "ada", "password": ""}, "password"),
    ({"auth_type": "basic", "username": "ada", "password": "line\nbreak"}, "password"),
])
def test_credentials_it_cannot_send_are_refused_with_the_field_named(values, field):
    with pytest.raises(CredentialsError) as caught:
        clean_credentials(values)
    assert caught.value.field == field


def test_cleaning_keeps_only_the_chosen_types_fields():
    assert clean_credentials({"auth_type": "", "token": "Bearer abc", "username": "old", "password": "old"}) == {
        "auth_type": "bearer", "token": "abc", "username": "", "password": ""}
    assert clean_credentials({"username": "ada", "password": "p", "token": ""})["auth_type"] == "basic"


def test_authorize_calls_nothing_and_names_no_secret():
    account = authorize(bearer())
    assert account.name == "Bearer token" and TOKEN not in repr(account)
    assert TOKEN not in repr(bearer())
    basic = authorize(build_client({"auth_type": "basic", "username": "ada", "password": "pw-123456789"}))
    assert basic.name == "Basic auth as ada" and "pw-123456789" not in repr(basic)
