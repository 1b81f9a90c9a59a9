"""The HTTP Request card: calls any public HTTP(S) address and gives the answer to later cards.

Addresses are checked and pinned by `connectors.outbound` (no loopback, private, link-local or
metadata addresses unless OUTBOUND_ALLOWED_HOSTS lists the host), on the first request and on every
redirect followed. The retry rule is `connectors.http`'s: GET, HEAD, PUT and DELETE are repeated
after a connection failure, 429 or 5xx; POST and PATCH are never sent twice once they may have
reached the server. See README.md in this folder.

A connection is optional: when one is chosen, `ctx.client` is its `HttpAuth` and its Authorization
header replaces any given in the inputs; its secret is hidden from the outputs and error messages
(a server that echoes the header back). Without one, `ctx.client` is None.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from connectors.functions import as_text
from connectors.http import ConnectorError, call_kind
from connectors.outbound import OutboundClient, check_url
from connectors.outbound.placeholders import fill, fill_json
from connectors.registry import register
from connectors.specs import Card, CardInputError, Field, RunContext, choices

CARD_KEY = "http.request"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
BODY_TYPES = ("json", "form", "text")
DEFAULT_TIMEOUT = 30
MAX_TIMEOUT = 120
MAX_RESPONSE_BYTES = 1024 * 1024  # the body handed to later cards; the rest is not read
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")
# Framing and routing belong to the client, not to the flow.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "te", "upgrade",
                              "proxy-authorization", "proxy-connection", "keep-alive", "trailer"})
MAX_HEADERS = 50
MAX_HEADER_VALUE_CHARS = 8192
MAX_URL_CHARS = 8192

METHOD = Field("method", "Method", required=True, default="GET", choices=choices(*METHODS))
BODY_TYPE = Field(
    "body_type",
    "Body type",
    default="json",
    choices=choices(("json", "JSON"), ("form", "Form (urlencoded)"), ("text", "Text")),
    help="How the body is sent: JSON (application/json), a form (application/x-www-form-urlencoded) or text.",
)
TIMEOUT = Field(
    "timeout", "Timeout (seconds)", type="number", default=DEFAULT_TIMEOUT,
    help=f"How long to wait for the answer, 1 to {MAX_TIMEOUT} seconds.",
)
FAIL_ON_ERROR = Field(
    "fail_on_error", "Fail on 4xx/5xx", type="boolean", default=True,
    help="Fail the step when the answer's status is 400 or more; off, the status is an output to test.",
)
FOLLOW_REDIRECTS = Field(
    "follow_redirects", "Follow redirects", type="boolean", default=False,
    help=f"Follow up to {MAX_REDIRECTS} redirects (each checked like the first address). Off, a 3xx answer is the result.",
)

URL = Field("url", "URL", required=True,
            help="http:// or https:// address of a public server; placeholders like {{step_1.id}} are filled in.")
HEADERS = Field("headers", "Headers", type="object", help='Request headers as an object, e.g. {"X-Api-Version": "2"}.')
AUTHORIZATION = Field(
    "authorization", "Authorization",
    help="Sent as the Authorization header, e.g. Bearer <token>. Stored with the flow and shown in its runs, "
         "like every other input: to keep a token secret, choose a connection instead (its header replaces this).",
)
QUERY = Field("query", "Query", type="object", help='Query string parameters as an object, e.g. {"page": 2}.')
BODY = Field(
    "body", "Body",
    help='For JSON, a JSON text such as {"email": "{{trigger.email}}"}; for a form, an object or a=1&b=2; '
         "otherwise the text to send. Not sent with GET or HEAD.",
)

STATUS_CODE = Field("status_code", "Status code", type="number")
RESPONSE_HEADERS = Field("headers", "Headers", type="object", help="The answer's headers, names in lower case.")
RESPONSE_BODY = Field(
    "body", "Body", type="object",
    help="The answer read as JSON when it says it is JSON, otherwise its text (cut at 1 MB).",
)
RESPONSE_TEXT = Field("text", "Body as text", help="The answer's body as text (cut at 1 MB).")
TRUNCATED = Field("truncated", "Truncated", type="boolean", help="Whether the body was longer than 1 MB and was cut.")
FINAL_URL = Field("url", "URL", help="The address that answered (after redirects).")


def _option(options: Mapping[str, Any], spec: Field) -> Any:
    value = options.get(spec.key)
    return spec.default if value is None or value == "" else value


def _flag(options: Mapping[str, Any], spec: Field) -> bool:
    value = _option(options, spec)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _object(ctx: RunContext, value: Any, *, what: str) -> dict[str, Any]:
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        value = fill_json(ctx, value, what=what)
    if not isinstance(value, Mapping):
        raise CardInputError(f"{what}: expected an object of names and values.")
    return {str(k): fill(ctx, v) for k, v in value.items()}


def request_headers(ctx: RunContext, inputs: Mapping[str, Any]) -> dict[str, str]:
    given = _object(ctx, inputs.get("headers"), what="Headers")
    if len(given) > MAX_HEADERS:
        raise CardInputError(f"Headers: at most {MAX_HEADERS}.")
    headers: dict[str, str] = {}
    for name, value in given.items():
        name = name.strip()
        if not HEADER_NAME_RE.match(name):
            raise CardInputError(f"Headers: '{name[:60]}' is not a header name (letters, digits and dashes).")
        if name.lower() in RESERVED_HEADERS:
            raise CardInputError(f"Headers: {name} is set by the connection itself and cannot be given.")
        text = as_text(value)
        if "\r" in text or "\n" in text or "\x00" in text or len(text) > MAX_HEADER_VALUE_CHARS:
            raise CardInputError(f"Headers: the value of {name} has a line break or is too long.")
        headers[name] = text
    authorization = as_text(fill(ctx, inputs.get("authorization"))).strip()
    if authorization:
        if "\r" in authorization or "\n" in authorization or "\x00" in authorization:
            raise CardInputError("Authorization: the value has a line break.")
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = authorization
    return headers


def request_body(ctx: RunContext, body_type: str, value: Any, headers: dict[str, str]) -> dict[str, Any]:
    """The requests keyword (json=, data=) carrying the body."""
    if value is None or value == "":
        return {}
    has_type = any(k.lower() == "content-type" for k in headers)
    if body_type == "json":
        return {"json": fill_json(ctx, value, what="Body")}
    if body_type == "form":
        if isinstance(value, str) and not value.strip().startswith("{"):
            pairs = parse_qsl(fill(ctx, value).strip(), keep_blank_values=True)
            return {"data": pairs}
        return {"data": {k: as_text(v) for k, v in _object(ctx, value, what="Body").items()}}
    text = as_text(fill(ctx, value))
    if not has_type:
        headers["Content-Type"] = "text/plain; charset=utf-8"
    return {"data": text.encode("utf-8")}


def shown_url(url: str) -> str:
    """The address without its query string or user info, for messages (a key may sit in either)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _timeout(options: Mapping[str, Any]) -> float:
    raw = _option(options, TIMEOUT)
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        raise CardInputError(f"Timeout: '{raw}' is not a number of seconds.") from None
    if not 1 <= seconds <= MAX_TIMEOUT:
        raise CardInputError(f"Timeout: give 1 to {MAX_TIMEOUT} seconds.")
    return seconds


def read_body(response: requests.Response, *, deadline: float, limit: int = MAX_RESPONSE_BYTES) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body and whether there was more; gives up at `deadline`."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        for chunk in response.iter_content(64 * 1024):
            if size + len(chunk) > limit:
                chunks.append(chunk[: limit - size])
                truncated = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if time.monotonic() > deadline:
                raise ConnectorError("The answer took longer than the timeout to arrive.", retryable=False)
    except requests.RequestException as exc:
        raise ConnectorError(f"The answer could not be read: {type(exc).__name__}.", retryable=False) from None
    finally:
        response.close()
    return b"".join(chunks), truncated


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def decode(response: requests.Response, raw: bytes, truncated: bool) -> tuple[Any, str]:
    encoding = response.encoding if "charset" in response.headers.get("Content-Type", "").lower() else None
    try:
        text = raw.decode(encoding or "utf-8", errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    body: Any = text
    if _is_json(response.headers.get("Content-Type", "")) and not truncated and text.strip():
        try:
            body = json.loads(text)
        except (ValueError, RecursionError):
            body = text
    return body, text


def send_request(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    params: dict[str, Any],
    body: dict[str, Any],
    timeout: float,
    follow_redirects: bool,
    client: OutboundClient | None = None,
) -> tuple[requests.Response, str]:
    """Sends the request (following redirects when asked); returns the last answer and its URL."""
    own_client = client is None
    client = client or OutboundClient(timeout=(min(10.0, timeout), timeout), max_retries=2,
                                      max_retry_seconds=timeout, max_retry_after=10)
    try:
        redirects = 0
        while True:
            check_url(url)  # a clear refusal before anything is sent (the session checks again)
            response = client.send(method, url, raise_for_status=False, headers=headers, params=params or None,
                                   stream=True, **body)
            location = response.headers.get("Location")
            if not (follow_redirects and response.status_code in REDIRECT_STATUSES and location):
                return response, url
            response.close()
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise ConnectorError(f"More than {MAX_REDIRECTS} redirects from {shown_url(url)}.", retryable=False)
            target = urljoin(url, location)
            if urlsplit(target).netloc.lower() != urlsplit(url).netloc.lower():
                # Credentials given for one host never travel to another.
                headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else "HEAD"
                body = {}
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            params = {}  # the new address carries its own query
            url = target
    finally:
        if own_client:
            client.session.close()


def _run_request(ctx: RunContext, options: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    method = str(_option(options, METHOD)).upper()
    if method not in METHODS:
        raise CardInputError(f"Method: choose one of {', '.join(METHODS)}.")
    body_type = str(_option(options, BODY_TYPE))
    if body_type not in BODY_TYPES:
        raise CardInputError("Body type: choose JSON, Form or Text.")
    url = as_text(fill(ctx, inputs.get("url"))).strip()
    if not url:
        raise CardInputError("URL: give the address to call.")
    if len(url) > MAX_URL_CHARS:
        raise CardInputError(f"URL: at most {MAX_URL_CHARS} characters.")
    timeout = _timeout(options)
    headers = request_headers(ctx, inputs)
    auth = ctx.client  # the chosen connection's HttpAuth, or None
    if auth is not None:
        # The team's header wins over one typed or mapped into the inputs.
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = auth.authorization
        try:
            return hide(_send(method, url, headers, options, inputs, body_type, timeout, ctx), auth.secrets)
        except ConnectorError as exc:
            exc.message = hide(exc.message, auth.secrets)
            exc.args = (exc.message,)
            raise
    return _send(method, url, headers, options, inputs, body_type, timeout, ctx)


def hide(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every secret text in its strings (keys too) replaced by [hidden]."""
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, "[hidden]")
        return value
    if isinstance(value, Mapping):
        return {hide(k, secrets): hide(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [hide(v, secrets) for v in value]
    return value


def _send(method: str, url: str, headers: dict[str, str], options: Mapping[str, Any], inputs: Mapping[str, Any],
          body_type: str, timeout: float, ctx: RunContext) -> dict[str, Any]:
    params = {k: as_text(v) for k, v in _object(ctx, inputs.get("query"), what="Query").items()}
    raw_body = inputs.get("body")
    if method in ("GET", "HEAD") and raw_body not in (None, ""):
        raise CardInputError(f"Body: a {method} request carries no body; choose POST, PUT or PATCH to send one.")
    body = request_body(ctx, body_type, raw_body, headers)
    started = time.monotonic()
    response, final_url = send_request(
        method=method, url=url, headers=headers, params=params, body=body, timeout=timeout,
        follow_redirects=_flag(options, FOLLOW_REDIRECTS),
    )
    raw, truncated = read_body(response, deadline=started + timeout + 5)
    parsed, text = decode(response, raw, truncated)
    status = response.status_code
    if status >= 400 and _flag(options, FAIL_ON_ERROR):
        snippet = " ".join(text.split())[:300]
        repeatable = call_kind(method) != "unsafe"
        raise ConnectorError(
            f"{method} {shown_url(final_url)} answered {status} {response.reason or ''}".rstrip()
            + (f": {snippet}" if snippet else "."),
            status=status,
            retryable=repeatable and (status == 429 or status >= 500),
        )
    return {
        "status_code": status,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": parsed,
        "text": text,
        "truncated": truncated,
        "url": final_url,
    }


REQUEST = register(
    Card(
        renders_placeholders=True,  # fills them itself (inside JSON bodies too)
        optional_configuration=True,  # a team's shared auth header, or none
        key=CARD_KEY,
        name="HTTP Request",
        changes="sends the request, which may change something where it is sent",
        description="Call a web address (an API of any service) and use its answer in later cards.",
        kind="action",
        connector="http",
        group="HTTP",
        options=(METHOD, BODY_TYPE, TIMEOUT, FAIL_ON_ERROR, FOLLOW_REDIRECTS),
        inputs=(URL, HEADERS, AUTHORIZATION, QUERY, BODY),
        outputs=(STATUS_CODE, RESPONSE_HEADERS, RESPONSE_BODY, RESPONSE_TEXT, TRUNCATED, FINAL_URL),
        run=_run_request,
        sample_outputs={
            "status_code": 200,
            "headers": {"content-type": "application/json"},
            "body": {"id": 42, "status": "created"},
            "text": '{"id": 42, "status": "created"}',
            "truncated": False,
            "url": "https://api.example.com/items",
        },
    )
)
