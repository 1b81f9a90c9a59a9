"""The Catch Webhook trigger (check, enable, parse), the card's run() and its registration."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors import registry
from connectors.specs import CardInputError, DeliveryRefused, InboundRequest, RunContext, TriggerContext
from connectors.webhook.cards import CATCH, run_catch
from connectors.webhook.connector import MAX_BODY_BYTES, CatchTrigger, connector

NOW = datetime(2026, 12, 5, 9, 0, 20, 123456, tzinfo=UTC)
KEY = "s3cret-signing-key"
SIGNED = {"signature_header": "X-Signature", "signing_key": KEY}


def context(**options: Any) -> TriggerContext:
    return TriggerContext(options=options, webhook_url="https://flows.example/hooks/webhook/7/abc/", now=NOW)


def request(
    body: bytes | str = b"",
    content_type: str = "application/json",
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> InboundRequest:
    raw = body.encode() if isinstance(body, str) else body
    all_headers = {"content-type": content_type, **(headers or {})} if content_type else dict(headers or {})
    return InboundRequest(
        method=method, headers=all_headers, query=query or {}, body=raw, content_type=content_type, form=form
    )


def sign(body: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def parse_one(ctx: TriggerContext, req: InboundRequest) -> dict[str, Any]:
    events = CatchTrigger().parse(ctx, req)
    assert len(events) == 1
    assert events[0].id == events[0].data["event_id"]
    return dict(events[0].data)


def refused(ctx: TriggerContext, req: InboundRequest) -> DeliveryRefused:
    with pytest.raises(DeliveryRefused) as info:
        CatchTrigger().parse(ctx, req)
    return info.value


# Registration --------------------------------------------------------------------------------


def test_connector_registers_its_card_and_trigger():
    assert registry.register_connector(connector) is connector
    assert registry.register_connector(connector) is connector  # idempotent for the same object
    assert registry.connector("webhook") is connector
    assert registry.get("webhook.catch") is CATCH
    assert isinstance(registry.trigger("webhook.catch"), CatchTrigger)
    assert not connector.needs_connection
    assert connector.to_json()["triggers"] == ["webhook.catch"]
    assert CatchTrigger.card == "webhook.catch" and CatchTrigger.accepts_deliveries


def test_card_declaration_passes_the_system_check():
    from connectors.checks import check_cards, check_connectors

    registry.register_connector(connector)
    assert check_cards([CATCH], [connector]) == []
    assert check_connectors([connector], [CATCH]) == []
    assert (CATCH.name, CATCH.kind, CATCH.connector, CATCH.group) == ("Catch Webhook", "event", "webhook", "Webhook")
    assert [f.key for f in CATCH.options] == ["event_id_path", "signature_header", "signing_key"]
    assert not any(f.required for f in CATCH.options)
    assert set(CATCH.sample_outputs) == {f.key for f in CATCH.outputs}
    assert CATCH.output("body").type == "object" and CATCH.output("received_at").type == "date"


# check() and enable() ------------------------------------------------------------------------


def test_check_accepts_empty_and_complete_options():
    trigger = CatchTrigger()
    assert trigger.check({}) == []
    assert trigger.check({"event_id_path": "data.order.id", **SIGNED}) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"signature_header": "X-Signature"}, "Signing key: set the key callers sign with"),
        ({"signing_key": KEY}, "Signature header: name the header that carries the signature"),
        ({"signature_header": "X Signature", "signing_key": KEY}, "Signature header: 'X Signature' is not a header"),
        ({"event_id_path": "data..id"}, "Event ID path: 'data..id' needs names separated by single dots"),
        ({"event_id_path": ".id"}, "Event ID path: '.id' needs names separated by single dots"),
        ({"event_id_path": "a" * 201}, "Event ID path: at most 200 characters."),
    ],
)
def test_check_names_each_problem(options, message):
    problems = CatchTrigger().check(options)
    assert len(problems) == 1 and problems[0].startswith(message)


def test_enable_tells_where_to_send():
    enabled = CatchTrigger().enable(context())
    assert enabled.mode == "webhook" and enabled.state == {}
    assert enabled.message == "Send a POST with a JSON or form body to https://flows.example/hooks/webhook/7/abc/."
    assert "X-Signature" in CatchTrigger().enable(context(**SIGNED)).message


def test_enable_without_a_public_url_still_takes_webhooks():
    enabled = CatchTrigger().enable(TriggerContext(options={}))
    assert enabled.mode == "webhook"
    assert "PUBLIC_BASE_URL must be set" in enabled.message


def test_recent_is_empty():
    assert CatchTrigger().recent(context()) == []


# parse(): bodies -----------------------------------------------------------------------------


def test_json_body():
    data = parse_one(context(), request('{"id": 7, "items": [1, 2]}', query={"source": "shop"}))
    assert data["body"] == {"id": 7, "items": [1, 2]}
    assert data["query"] == {"source": "shop"}
    assert data["content_type"] == "application/json"
    assert data["received_at"] == "2026-12-05T09:00:20Z"
    assert len(data["event_id"]) == 32


@pytest.mark.parametrize("body", ['[1, "two"]', '"hello"', "3.5", "null"])
def test_json_values_other_than_objects(body):
    assert parse_one(context(), request(body, "application/vnd.api+json; charset=utf-8"))["body"] == json.loads(body)


def test_empty_body_is_an_empty_object():
    assert parse_one(context(), request(b""))["body"] == {}
    assert parse_one(context(), request(b"", "text/plain"))["body"] == {}


def test_form_body_from_the_parsed_form():
    req = request("name=Ada&plan=pro", "application/x-www-form-urlencoded", form={"name": "Ada", "plan": "pro"})
    assert parse_one(context(), req)["body"] == {"name": "Ada", "plan": "pro"}


def test_form_body_parsed_from_the_raw_body():
    req = request("name=Ada+L&plan=pro&plan=max&empty=", "application/x-www-form-urlencoded; charset=utf-8")
    data = parse_one(context(), req)
    assert data["body"] == {"name": "Ada L", "plan": "pro", "empty": ""}
    assert data["content_type"] == "application/x-www-form-urlencoded"


def test_text_body():
    data = parse_one(context(), request("héllo\nworld".encode() + b"\xff", "text/plain"))
    assert data["body"] == "héllo\nworld\ufffd"
    assert data["content_type"] == "text/plain"


def test_invalid_json_is_refused():
    error = refused(context(), request('{"id": '))
    assert error.status == 400
    assert error.message.startswith("The body is not valid JSON: Expecting value")


def test_json_nan_and_nul_are_refused():
    assert refused(context(), request('{"n": NaN}')).status == 400
    error = refused(context(), request('{"s": "a\\u0000b"}'))
    assert (error.status, "NUL" in error.message) == (400, True)


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
def test_other_methods_are_refused(method):
    assert refused(context(), request("{}", method=method)).status == 405


def test_put_is_accepted():
    assert parse_one(context(), request('{"a": 1}', method="PUT"))["body"] == {"a": 1}


def test_huge_body_is_refused():
    assert refused(context(), request(b"x" * (MAX_BODY_BYTES + 1), "text/plain")).status == 413


def test_body_that_grows_past_the_limit_once_stored_is_refused():
    escaped = json.dumps({"s": "\u0001" * (MAX_BODY_BYTES // 6 - 200)})  # 6 bytes each, sent or stored
    assert len(escaped.encode()) <= MAX_BODY_BYTES
    assert len(parse_one(context(), request(escaped))["body"]["s"]) == MAX_BODY_BYTES // 6 - 200
    controls = b"\x01" * (MAX_BODY_BYTES // 2)  # 1 byte each as text, 6 once stored as JSON
    assert refused(context(), request(controls, "text/plain")).status == 413


# parse(): signatures -------------------------------------------------------------------------


def test_signature_ok():
    body = b'{"id": 1}'
    data = parse_one(context(**SIGNED), request(body, headers={"x-signature": sign(body)}))
    assert data["body"] == {"id": 1}
    assert "x-signature" not in data["headers"]


def test_signature_with_sha256_prefix_and_upper_case_hex():
    body = b'{"id": 1}'
    parse_one(context(**SIGNED), request(body, headers={"x-signature": "sha256=" + sign(body)}))
    parse_one(context(**SIGNED), request(body, headers={"x-signature": "SHA256=" + sign(body).upper()}))


def test_wrong_signature_is_refused():
    body = b'{"id": 1}'
    for supplied in (sign(body, "other-key"), sign(b'{"id": 2}'), "not hex ü", "sha256="):
        error = refused(context(**SIGNED), request(body, headers={"x-signature": supplied}))
        assert error.status == 401
        assert "does not match" in error.message or "missing" in error.message


def test_missing_signature_is_refused():
    error = refused(context(**SIGNED), request(b"{}"))
    assert (error.status, error.message) == (401, "The X-Signature header is missing.")


def test_signature_is_checked_before_the_body_is_read():
    assert refused(context(**SIGNED), request(b"{not json", headers={"x-signature": "00"})).status == 401


def test_incomplete_signature_options_take_no_delivery():
    assert refused(context(signature_header="X-Signature"), request(b"{}")).status == 503


# parse(): headers and event ids --------------------------------------------------------------


def test_headers_are_filtered():
    body = b"{}"
    headers = {
        "cookie": "session=1",
        "authorization": "Bearer t",
        "proxy-authorization": "Basic x",
        "x-signature": sign(body),
        "user-agent": "Shop/2.0",
        "x-long": "v" * 10_000,
    }
    kept = parse_one(context(**SIGNED), request(body, headers=headers))["headers"]
    assert kept == {"content-type": "application/json", "user-agent": "Shop/2.0", "x-long": "v" * 4096}


def test_header_count_is_capped():
    headers = {f"x-h{i}": str(i) for i in range(300)}
    assert len(parse_one(context(), request(b"{}", headers=headers))["headers"]) == 100


def test_requests_without_a_path_are_each_their_own_event():
    first = CatchTrigger().parse(context(), request('{"id": 1}'))[0]
    second = CatchTrigger().parse(context(), request('{"id": 1}'))[0]
    assert first.id != second.id


def test_same_value_at_the_path_gives_the_same_id():
    ctx = context(event_id_path="id")
    first = CatchTrigger().parse(ctx, request('{"id": "evt_1", "n": 1}'))[0]
    second = CatchTrigger().parse(ctx, request('{"id": "evt_1", "n": 2}'))[0]
    assert first.id == second.id == "evt_1"


def test_nested_event_id_path():
    ctx = context(event_id_path="data.order.id")
    assert parse_one(ctx, request('{"data": {"order": {"id": 1001}}}'))["event_id"] == "1001"
    assert parse_one(context(event_id_path="items.0.id"), request('{"items": [{"id": "a"}]}'))["event_id"] == "a"


def test_event_id_path_into_a_form():
    req = request("order=42&x=1", "application/x-www-form-urlencoded")
    assert parse_one(context(event_id_path="order"), req)["event_id"] == "42"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"data": {}}', "The body has no value at 'data.id' to use as the event id."),
        ('{"data": {"id": null}}', "The body has no value at 'data.id' to use as the event id."),
        ('"text"', "The body has no value at 'data.id' to use as the event id."),
        ('{"data": {"id": true}}', "The value at 'data.id' must be text or a whole number"),
        ('{"data": {"id": 1.5}}', "The value at 'data.id' must be text or a whole number"),
        ('{"data": {"id": {"a": 1}}}', "The value at 'data.id' must be text or a whole number"),
        ('{"data": {"id": " "}}', "The value at 'data.id' is empty"),
        ('{"data": {"id": "' + "x" * 201 + '"}}', "The value at 'data.id' is longer than 200 characters."),
    ],
)
def test_unusable_event_ids_are_refused(body, message):
    error = refused(context(event_id_path="data.id"), request(body))
    assert error.status == 400 and error.message.startswith(message)


# The card's run() ----------------------------------------------------------------------------


def test_card_run_gives_the_stored_data():
    data = parse_one(context(event_id_path="id"), request('{"id": "e1"}', query={"a": "1"}))
    outputs = run_catch(RunContext(), {}, data)
    assert outputs == {
        "body": {"id": "e1"},
        "headers": {"content-type": "application/json"},
        "query": {"a": "1"},
        "event_id": "e1",
        "received_at": "2026-12-05T09:00:20Z",
        "content_type": "application/json",
    }
    assert CATCH.run is run_catch
    assert set(outputs) == {f.key for f in CATCH.outputs}


def test_card_run_with_missing_and_wrong_inputs():
    assert run_catch(RunContext(), {}, {})["body"] == {}
    assert run_catch(RunContext(), {}, {"body": "plain"})["body"] == "plain"
    with pytest.raises(CardInputError, match="Headers: expected an object"):
        run_catch(RunContext(), {}, {"headers": ["a"]})
    with pytest.raises(CardInputError, match="Event ID: expected text"):
        run_catch(RunContext(), {}, {"event_id": {"a": 1}})


def test_lone_surrogate_and_unread_multipart_are_refused():
    assert refused(context(), request('{"s": "\\ud800"}')).status == 400
    assert refused(context(), request(b"--b\r\n", "multipart/form-data; boundary=b")).status == 415
    req = request(b"--b\r\n", "multipart/form-data; boundary=b", form={"name": "Ada"})
    assert parse_one(context(), req)["body"] == {"name": "Ada"}
