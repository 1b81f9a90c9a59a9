"""The Webhook connector: no credentials, one event card, and a trigger that reads deliveries.

Each activation gets its own URL; `CatchTrigger.parse` checks a delivery (method, size, optional
HMAC-SHA256 signature), reads its body by content type and picks the event id that keeps a repeated
delivery from starting a second run. See README.md in this folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from config.parsers import HAS_NUL, TOO_DEEP, json_problem
from connectors.specs import Connector, DeliveryRefused, Enabled, Event, InboundRequest, Trigger, TriggerContext
from connectors.webhook.cards import CARD_KEY

MAX_BODY_BYTES = 1024 * 1024  # 1 MiB, for the raw body and for the stored data
MAX_EVENT_ID_CHARS = 200
MAX_PATH_CHARS = 200
MAX_HEADERS = 100
MAX_HEADER_VALUE_CHARS = 4096
MAX_QUERY_PARAMS = 100
MAX_QUERY_VALUE_CHARS = 4096
METHODS = ("POST", "PUT")
# Never handed to later cards: they carry the caller's credentials.
HIDDEN_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")  # an HTTP header name (RFC 9110 token)
SIGNATURE_PREFIX = "sha256="


def _option(options: Mapping[str, Any], key: str) -> str:
    value = options.get(key)
    return "" if value is None else str(value).strip()


def check_options(options: Mapping[str, Any]) -> list[str]:
    """Problems with the Catch Webhook card's options, in words."""
    problems: list[str] = []
    header, key, path = (_option(options, k) for k in ("signature_header", "signing_key", "event_id_path"))
    if header and not key:
        problems.append("Signing key: set the key callers sign with, or clear the signature header.")
    if key and not header:
        problems.append("Signature header: name the header that carries the signature, or clear the signing key.")
    if header and not TOKEN_RE.match(header):
        problems.append(
            f"Signature header: '{header[:60]}' is not a header name; use letters, digits and dashes, "
            "like X-Signature."
        )
    if path:
        if len(path) > MAX_PATH_CHARS:
            problems.append(f"Event ID path: at most {MAX_PATH_CHARS} characters.")
        elif any(not part or part != part.strip() for part in path.split(".")):
            problems.append(
                f"Event ID path: '{path[:60]}' needs names separated by single dots, like data.order.id."
            )
    return problems


def iso_utc(moment: datetime) -> str:
    """2026-12-05T09:00:00Z: whole seconds, UTC, with a Z (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def media_type(request: InboundRequest) -> tuple[str, str]:
    """(media type in lower case, charset or "") of the request."""
    raw = request.content_type or request.headers.get("content-type", "")
    kind, _, params = raw.partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"')
    return kind.strip().lower(), charset


def is_json(kind: str) -> bool:
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_body(request: InboundRequest, kind: str, charset: str) -> Any:
    """The body as JSON, a form (an object of first values) or text; an empty body is {}."""
    if is_json(kind):
        if not request.body.strip():
            return {}
        try:
            return json.loads(request.body, parse_constant=_refuse_constant)
        except RecursionError:
            raise DeliveryRefused(400, f"The body is not valid JSON: it {TOO_DEEP}.") from None
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise DeliveryRefused(400, f"The body is not valid JSON: {exc}") from None
    if not request.body:
        return {}
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.form is not None:
            return {str(k): str(v) for k, v in request.form.items()}
        if kind == "multipart/form-data":
            raise DeliveryRefused(415, "This multipart body could not be read; send JSON or a urlencoded form.")
        fields = parse_qs(_decode(request.body, charset), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}
    return _decode(request.body, charset)


def _decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")


def kept_headers(request: InboundRequest, signature_header: str) -> dict[str, str]:
    """The headers later cards may see: no cookies, credentials or signature; capped in number and size."""
    hidden = HIDDEN_HEADERS | {signature_header.lower()}
    kept: dict[str, str] = {}
    for name, value in request.headers.items():
        name = str(name).lower()
        if name in hidden:
            continue
        if len(kept) >= MAX_HEADERS:
            break
        kept[name[:200]] = str(value)[:MAX_HEADER_VALUE_CHARS]
    return kept


def kept_query(request: InboundRequest) -> dict[str, str]:
    items = list(request.query.items())[:MAX_QUERY_PARAMS]
    return {str(name)[:200]: str(value)[:MAX_QUERY_VALUE_CHARS] for name, value in items}


def verify_signature(request: InboundRequest, header: str, key: str) -> None:
    """Refuses a delivery whose header is not the hex HMAC-SHA256 of the raw body (optionally sha256=…)."""
    supplied = request.headers.get(header.lower())
    if supplied is None or not supplied.strip():
        raise DeliveryRefused(401, f"The {header} header is missing.")
    supplied = supplied.strip()
    if supplied.lower().startswith(SIGNATURE_PREFIX):
        supplied = supplied[len(SIGNATURE_PREFIX):]
    expected = hmac.new(key.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), supplied.lower().encode("utf-8", "replace")):
        raise DeliveryRefused(401, f"The {header} header does not match the body's HMAC-SHA256 signature.")


def value_at(body: Any, path: str) -> Any:
    """The value at a dotted path (a number part indexes a list), or None."""
    node = body
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def event_id_from(body: Any, path: str) -> str:
    value = value_at(body, path)
    if value is None:
        raise DeliveryRefused(400, f"The body has no value at '{path}' to use as the event id.")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise DeliveryRefused(400, f"The value at '{path}' must be text or a whole number to use as the event id.")
    event_id = str(value)
    if not event_id.strip():
        raise DeliveryRefused(400, f"The value at '{path}' is empty; it cannot be used as the event id.")
    if len(event_id) > MAX_EVENT_ID_CHARS:
        raise DeliveryRefused(400, f"The value at '{path}' is longer than {MAX_EVENT_ID_CHARS} characters.")
    return event_id


class CatchTrigger(Trigger):
    """Every POST or PUT to the activation's URL is an event; the event id comes from the body
    (`event_id_path`) or is random, so that a caller's retry of the same event runs the flow once."""

    card = CARD_KEY
    accepts_deliveries = True

    def check(self, options: Mapping[str, Any]) -> list[str]:
        return check_options(options)

    def enable(self, ctx: TriggerContext) -> Enabled:
        if not ctx.webhook_url:
            message = (
                "No public URL is set: PUBLIC_BASE_URL must be set before callers outside this server "
                "can reach this flow."
            )
        else:
            message = f"Send a POST with a JSON or form body to {ctx.webhook_url}."
        header = _option(ctx.options, "signature_header")
        if header:
            message += f" Sign each body with HMAC-SHA256 in the {header} header."
        return Enabled(mode="webhook", state={}, message=message)

    def parse(self, ctx: TriggerContext, request: InboundRequest) -> list[Event]:
        if request.method.upper() not in METHODS:
            raise DeliveryRefused(405, "Send the request with POST or PUT.")
        if len(request.body) > MAX_BODY_BYTES:
            raise DeliveryRefused(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KiB.")
        if check_options(ctx.options):
            raise DeliveryRefused(503, "This flow's Catch Webhook options need fixing before it takes deliveries.")
        header = _option(ctx.options, "signature_header")
        if header:
            verify_signature(request, header, _option(ctx.options, "signing_key"))

        kind, charset = media_type(request)
        body = read_body(request, kind, charset)
        path = _option(ctx.options, "event_id_path")
        event_id = event_id_from(body, path) if path else uuid.uuid4().hex
        data = {
            "body": body,
            "headers": kept_headers(request, header),
            "query": kept_query(request),
            "event_id": event_id,
            "received_at": iso_utc(ctx.now or datetime.now(UTC)),
            "content_type": kind,
        }
        # PostgreSQL could never store these; refusing for good beats a failure when saving.
        problem = json_problem(data)
        if problem:
            raise DeliveryRefused(400, f"The request {problem}.")
        try:
            size = len(json.dumps(data, ensure_ascii=False).encode())
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape such as \ud800
            raise DeliveryRefused(400, "The request contains text that is not valid Unicode.") from None
        if size > MAX_BODY_BYTES:
            raise DeliveryRefused(413, f"The request is larger than {MAX_BODY_BYTES // 1024} KiB once read.")
        return [Event(id=event_id, data=data)]

    def recent(self, ctx: TriggerContext, limit: int = 20) -> list[dict[str, Any]]:
        return []  # nothing to fetch: deliveries come to us


connector = Connector(
    key="webhook",
    name="Webhook",
    description="Starts a flow when another system sends a request to the flow's own URL.",
    triggers=(CatchTrigger(),),
    card_modules=("connectors.webhook.cards",),
)
