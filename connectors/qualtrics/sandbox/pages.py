"""Pages for people, served by the sandbox itself: record a response to a survey from a form that
lists its questions, which sends the completed-response webhook to the brand's event
subscriptions right away, and see the deliveries made.

    GET  /                          the brands' surveys and event subscriptions
    GET  /surveys/{id}              a form: the survey's questions, recipient, embedded data
    POST /surveys/{id}/responses    records the response as POST /_sandbox/responses does, then
                                    answers 303 to
    GET  /responses/{id}            the response's id and values and the deliveries made for it
    GET  /deliveries                the delivery attempts kept, newest first
    GET  /sandbox.css               the pages' style sheet

Plain HTML forms and no scripts; everything shown is escaped. Like the control API the pages need
no token: they are for a sandbox bound to the loopback interface, a development and demo tool the
product's production settings never start. Requests must name a local host (no DNS rebinding) and
a form is only taken from the sandbox's own pages (no cross-site posts).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from connectors.qualtrics.sandbox.api import Reply
from connectors.qualtrics.sandbox.delivery import topic_matches
from connectors.qualtrics.sandbox.state import Brand, Response, SandboxState, Survey
from connectors.qualtrics.sandbox.surveys import question_kind

if TYPE_CHECKING:
    from connectors.qualtrics.sandbox.server import Sandbox

HTML_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

STYLESHEET = """\
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 1.5rem; align-items: baseline; padding: .7rem 1.5rem; background: #23344d; }
header a { color: #fff; text-decoration: none; }
header .home { font-weight: 600; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.5rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #dde1e7; vertical-align: top; }
.scroll { overflow-x: auto; margin: .5rem 0 1rem; }
.scroll > table { margin: 0; }
.scroll:focus-visible { outline: 2px solid #2563eb; outline-offset: 2px; }
td.wrap { word-break: break-all; }
code { font-size: .9em; }
p code, h1 code, h2 code { overflow-wrap: anywhere; }
fieldset { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; margin: 0 0 1rem; padding: .7rem 1rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.choices label { display: block; margin: .15rem 0; }
.choices.nps label { display: inline-block; margin-right: .7rem; }
.field { display: block; margin: .3rem 0; }
.field input, .question input[type="text"], .question textarea { display: block; width: 100%; max-width: 32rem; }
input, textarea { padding: .3rem; font: inherit; }
button { font: inherit; padding: .45rem 1rem; border: 0; border-radius: 5px; background: #2563eb; color: #fff; }
.muted, .hint { color: #5b6474; }
.error { background: #fdecec; border: 1px solid #e3a3a3; padding: .6rem 1rem; border-radius: 6px; }
.notice { background: #eaf5ec; border: 1px solid #a6d3ae; padding: .6rem 1rem; border-radius: 6px; }
.status-ok { color: #17692c; font-weight: 600; }
.status-failed { color: #a61b1b; font-weight: 600; }
@media (max-width: 480px) {
  header { padding: .7rem .75rem; gap: 1rem; }
  main { padding: 1rem .75rem 2rem; }
  th, td { padding: .3rem .35rem; }
}
"""

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/"), "index"),
    ("GET", re.compile(r"/sandbox\.css"), "stylesheet"),
    ("GET", re.compile(r"/surveys/(?P<survey_id>[^/]+)"), "survey_form"),
    ("POST", re.compile(r"/surveys/(?P<survey_id>[^/]+)/responses"), "record"),
    ("GET", re.compile(r"/responses/(?P<response_id>[^/]+)"), "response_page"),
    ("GET", re.compile(r"/deliveries"), "deliveries_page"),
]

RECIPIENT_FIELDS = (
    ("recipientEmail", "Email", "email"),
    ("recipientFirstName", "First name", "text"),
    ("recipientLastName", "Last name", "text"),
    ("externalDataReference", "External reference", "text"),
)


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _scrolling(table: str, label: str) -> str:
    """`table` in a box that scrolls sideways on a narrow screen, focusable to scroll by keyboard."""
    return f'<div class="scroll" role="region" tabindex="0" aria-label="{_e(label)}">{table}</div>'


def response_id_of(delivery: dict[str, Any]) -> str | None:
    """The ResponseID a delivery's MSG names, if any."""
    try:
        message = json.loads(delivery.get("msg") or "")
    except ValueError:
        return None
    return str(message["ResponseID"]) if isinstance(message, dict) and message.get("ResponseID") else None


class Pages:
    """The sandbox's HTML pages; `handle` answers None for a path that is not one of them."""

    PENDING_WAIT = 3.0  # seconds a response page waits for the deliveries still under way
    EXPECTED_KEPT = 200  # responses recorded from the form whose expected deliveries are known

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.state: SandboxState = sandbox.state
        # response id -> (state generation, deliveries expected): how many subscriptions matched.
        self._expected: OrderedDict[str, tuple[int, int]] = OrderedDict()

    # Entry point --------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply | None:
        path = urlsplit(target).path
        for route_method, pattern, name in ROUTES:
            found = pattern.fullmatch(path)
            if found:
                break
        else:
            return None
        if method != route_method:
            reply = self._page("Method not allowed", f"<p>Use {_e(route_method)} here.</p>", status=405)
            reply.headers["Allow"] = route_method
            return reply
        if not self._local_host(headers):
            return self._page(
                "Not a local address",
                "<p>The sandbox's pages answer on a local address only: open them at "
                "<code>http://127.0.0.1:PORT/</code> or <code>http://localhost:PORT/</code>.</p>",
                status=403,
            )
        if method == "POST" and not self._same_origin(headers):
            return self._page(
                "Refused", "<p>The sandbox only takes forms sent from its own pages.</p>", status=403
            )
        params = {key: unquote(value) for key, value in found.groupdict().items()}
        return getattr(self, name)(headers=headers, body=body, **params)

    def _local_host(self, headers: Mapping[str, str]) -> bool:
        host = _header(headers, "host")
        if not host:
            return True
        hostname = urlsplit(f"//{host}").hostname or ""
        if hostname in ("localhost", self.sandbox.host):
            return True
        try:
            ip_address(hostname)
        except ValueError:
            return False
        return True

    @staticmethod
    def _same_origin(headers: Mapping[str, str]) -> bool:
        origin = _header(headers, "origin")
        if origin:
            return urlsplit(origin).netloc.lower() == _header(headers, "host").lower()
        return _header(headers, "sec-fetch-site") in ("", "same-origin", "none")

    # Look-ups (take the state lock) -------------------------------------------------------------

    def _brands(self) -> list[Brand]:
        """The seed's brand first, then any others the tests or tools added."""
        first = self.sandbox.info.brand_id
        return sorted(self.state.brands.values(), key=lambda b: (b.brand_id != first, b.brand_id))

    def _find_survey(self, survey_id: str) -> tuple[Brand, Survey] | None:
        for brand in self._brands():
            if survey_id in brand.surveys:
                return brand, brand.surveys[survey_id]
        return None

    def _find_response(self, response_id: str) -> tuple[Brand, Survey, Response] | None:
        for brand in self._brands():
            for survey in brand.surveys.values():
                if response_id in survey.responses:
                    return brand, survey, survey.responses[response_id]
        return None

    @staticmethod
    def _subscriptions_for(brand: Brand, survey: Survey) -> list[dict[str, Any]]:
        topic = f"surveyengine.completedResponse.{survey.survey_id}"
        return [s for s in brand.subscriptions.values() if topic_matches(s["topics"], topic)]

    def _deliveries_for(self, response_id: str) -> list[dict[str, Any]]:
        return [d for d in self.state.deliveries if response_id_of(d) == response_id]

    # Pages --------------------------------------------------------------------------------------

    def stylesheet(self, **_: Any) -> Reply:
        headers = {"Content-Type": "text/css; charset=utf-8", "Cache-Control": "no-cache"}
        headers["X-Content-Type-Options"] = "nosniff"
        return Reply(200, headers, STYLESHEET.encode())

    def index(self, **_: Any) -> Reply:
        parts = [
            '<p class="hint">Pick a survey to record a test response from its form. The response is '
            "stored as a finished one and the brand's event subscriptions get the completed-response "
            "webhook right away, as Qualtrics sends it, so active flows on that survey run. "
            '<a href="/deliveries">Deliveries</a> lists what was sent and what the receivers answered.</p>'
        ]
        with self.state.lock:
            for brand in self._brands():
                parts.append(self._brand_section(brand))
        return self._page("Surveys", "\n".join(parts))

    def _brand_section(self, brand: Brand) -> str:
        rows = [
            f'<tr><td><a href="/surveys/{_e(quote(s.survey_id))}">{_e(s.name)}</a></td>'
            f"<td><code>{_e(s.survey_id)}</code></td><td>{len(s.questions)}</td>"
            f"<td>{len(s.responses)}</td><td>{'yes' if s.is_active else 'no'}</td></tr>"
            for s in brand.surveys.values()
        ]
        surveys = (
            _scrolling(
                '<table class="surveys"><caption>Surveys</caption><thead><tr><th>Survey</th><th>ID</th>'
                f"<th>Questions</th><th>Responses</th><th>Active</th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
                "Surveys",
            )
            if rows
            else "<p>No surveys.</p>"
        )
        return (
            f'<section class="brand"><h2>Brand <code>{_e(brand.brand_id)}</code> '
            f'<span class="muted">data center {_e(brand.datacenter)}</span></h2>{surveys}'
            f"{self._subscriptions_table(list(brand.subscriptions.values()))}</section>"
        )

    @staticmethod
    def _subscriptions_table(subscriptions: list[dict[str, Any]], caption: str = "Event subscriptions") -> str:
        if not subscriptions:
            return (
                f'<p class="hint">{_e(caption)}: none yet. Activating a flow on a survey subscribes one '
                "(the product needs a PUBLIC_BASE_URL for that; <code>./scripts/run</code> sets it).</p>"
            )
        rows = "".join(
            f'<tr><td class="wrap">{_e(s["publicationUrl"])}</td><td><code>{_e(s["topics"])}</code></td>'
            f"<td>{_e(s.get('successfulPublications', 0))}</td></tr>"
            for s in subscriptions
        )
        return _scrolling(
            f'<table class="subscriptions"><caption>{_e(caption)}</caption><thead><tr><th>URL</th>'
            f"<th>Topics</th><th>Delivered</th></tr></thead><tbody>{rows}</tbody></table>",
            caption,
        )

    def survey_form(self, *, survey_id: str, **_: Any) -> Reply:
        with self.state.lock:
            found = self._find_survey(survey_id)
            if found is None:
                return self._not_found(f"Survey {survey_id} does not exist in the sandbox.")
            return self._form(*found, given={})

    def _form(
        self, brand: Brand, survey: Survey, given: dict[str, list[str]], *, error: str = "", status: int = 200
    ) -> Reply:
        questions = "\n".join(
            self._question(qid, question, given) for qid, question in survey.questions.items()
        ) or '<p class="hint">This survey has no questions; the response holds its metadata only.</p>'
        recipient = "".join(
            self._field(f"r.{key}", label, given, kind=kind) for key, label, kind in RECIPIENT_FIELDS
        )
        embedded = (
            '<fieldset class="embedded"><legend>Embedded data</legend>'
            + "".join(self._field(f"e.{name}", name, given) for name in survey.embedded_data)
            + "</fieldset>"
            if survey.embedded_data
            else ""
        )
        subscriptions = self._subscriptions_for(brand, survey)
        body = (
            f'<p class="muted">Survey <code>{_e(survey.survey_id)}</code> of brand <code>{_e(brand.brand_id)}</code>'
            f" · {len(survey.responses)} responses so far</p>"
            + (f'<p class="error" role="alert">{_e(error)}</p>' if error else "")
            + f'<form method="post" action="/surveys/{_e(quote(survey.survey_id))}/responses" class="response">'
            + questions
            + f'<fieldset class="recipient"><legend>Recipient</legend>{recipient}</fieldset>'
            + embedded
            + self._subscriptions_table(subscriptions, "Event subscriptions that get this response")
            + '<button type="submit">Record response and send webhook</button></form>'
        )
        return self._page(survey.name, body, status=status, title=f"Record a response: {survey.name}")

    @staticmethod
    def _question(qid: str, question: dict[str, Any], given: dict[str, list[str]]) -> str:
        kind = question_kind(question)
        name = question.get("questionName") or qid
        text = question.get("questionText") or ""
        if kind == "text":
            qtype = question.get("questionType") or {}
            note = (
                f' <span class="muted">({_e(qtype.get("type"))} question, recorded as text)</span>'
                if qtype.get("type") not in ("TE", None)
                else ""
            )
            field_name = f"q.{qid}_TEXT"
            value = (given.get(field_name) or [""])[0]
            element_id = f"q-{qid}"
            if qtype.get("selector") in ("ML", "ESTB"):
                control = f'<textarea id="{_e(element_id)}" name="{_e(field_name)}" rows="3">{_e(value)}</textarea>'
            else:
                control = f'<input id="{_e(element_id)}" type="text" name="{_e(field_name)}" value="{_e(value)}">'
            return (
                f'<fieldset class="question" data-qid="{_e(qid)}"><legend>{_e(name)}</legend>'
                f'<label class="field" for="{_e(element_id)}">{_e(text)}{note}</label>{control}</fieldset>'
            )
        field_name = f"q.{qid}"
        chosen = set(given.get(field_name) or [])
        input_type = "checkbox" if kind == "multi" else "radio"
        choices = "".join(
            f'<label><input type="{input_type}" name="{_e(field_name)}" value="{_e(choice["recode"])}"'
            f"{' checked' if str(choice['recode']) in chosen else ''}> {_e(choice.get('choiceText'))}</label>"
            for choice in (question.get("choices") or {}).values()
        )
        hint = {"multi": "Choose any.", "nps": "0 = not at all likely, 10 = extremely likely."}.get(kind, "Choose one.")
        return (
            f'<fieldset class="question" data-qid="{_e(qid)}"><legend>{_e(name)} · {_e(text)}</legend>'
            f'<p class="hint">{_e(hint)}</p><div class="choices {_e(kind)}">{choices}</div></fieldset>'
        )

    @staticmethod
    def _field(name: str, label: str, given: dict[str, list[str]], *, kind: str = "text") -> str:
        value = (given.get(name) or [""])[0]
        return f'<label class="field">{_e(label)} <input type="{kind}" name="{_e(name)}" value="{_e(value)}"></label>'

    def record(self, *, survey_id: str, body: bytes, **_: Any) -> Reply:
        given: dict[str, list[str]] = {}
        for key, value in parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True):
            given.setdefault(key, []).append(value)
        with self.state.lock:
            found = self._find_survey(survey_id)
            if found is None:
                return self._not_found(f"Survey {survey_id} does not exist in the sandbox.")
            brand, survey = found
            values = self._values(survey, given)
            expected = len(self._subscriptions_for(brand, survey))
            try:
                # As POST /_sandbox/responses does: a finished response, and a delivery to each
                # subscription whose topics match.
                response_id = self.sandbox.record_response(survey.survey_id, values, brand_id=brand.brand_id)
            except ValueError as exc:  # SurveyDataError, or metadata that is not a number
                return self._form(brand, survey, given, error=str(exc), status=400)
            self._expected[response_id] = (self.state.generation, expected)
            while len(self._expected) > self.EXPECTED_KEPT:
                self._expected.popitem(last=False)
        return Reply(303, {"Location": f"/responses/{quote(response_id)}", "Cache-Control": "no-store"}, b"")

    @staticmethod
    def _values(survey: Survey, given: dict[str, list[str]]) -> dict[str, Any]:
        """The response's `values` from the form; unanswered questions and empty fields are left out."""

        def first(name: str) -> str:
            return (given.get(name) or [""])[0]

        values: dict[str, Any] = {}
        for qid, question in survey.questions.items():
            kind = question_kind(question)
            if kind == "text":
                if first(f"q.{qid}_TEXT").strip():
                    values[f"{qid}_TEXT"] = first(f"q.{qid}_TEXT")
            elif kind == "multi":
                codes = [code for code in given.get(f"q.{qid}", []) if code]
                if codes:
                    values[qid] = codes
            elif first(f"q.{qid}"):
                values[qid] = first(f"q.{qid}")
        for key, _label, _kind in RECIPIENT_FIELDS:
            if first(f"r.{key}").strip():
                values[key] = first(f"r.{key}").strip()
        for name in survey.embedded_data:
            if first(f"e.{name}"):
                values[name] = first(f"e.{name}")
        return values

    def response_page(self, *, response_id: str, **_: Any) -> Reply:
        with self.state.lock:
            generation, expected = self._expected.get(response_id, (None, 0))
            if generation != self.state.generation:
                expected = 0
        if expected:
            self.state.wait_for(lambda: len(self._deliveries_for(response_id)) >= expected, self.PENDING_WAIT)
        with self.state.lock:
            found = self._find_response(response_id)
            if found is None:
                return self._not_found(f"Response {response_id} does not exist in the sandbox.")
            brand, survey, response = found
            deliveries = self._deliveries_for(response_id)
            subscriptions = self._subscriptions_for(brand, survey)
            survey_link = f'<a href="/surveys/{_e(quote(survey.survey_id))}">{_e(survey.name)}</a>'
            api_path = f"/{brand.datacenter}/API/v3/surveys/{survey.survey_id}/responses/{response_id}"
            parts = [
                f'<p class="notice">Recorded response <code id="response-id">{_e(response_id)}</code> in '
                f"{survey_link} at {_e(response.values.get('recordedDate'))}.</p>",
                f'<p class="hint">The API has it at <code>GET {_e(api_path)}</code> (with an X-API-TOKEN '
                "header).</p>",
                "<h2>Deliveries</h2>",
            ]
            if deliveries:
                parts.append(self._deliveries_table(list(reversed(deliveries)), with_response=False))
            if len(deliveries) < expected:
                parts.append(
                    f'<p class="hint">{expected - len(deliveries)} more on the way: '
                    f'<a href="/responses/{_e(quote(response_id))}">reload</a> to see them.</p>'
                )
            elif not deliveries:
                parts.append(
                    '<p class="hint">None: no event subscription of this brand listens for this survey\'s '
                    "completed responses, so no webhook was sent. Activate a flow on this survey first."
                    + (" (The subscriptions were made after this response.)" if subscriptions else "")
                    + "</p>"
                )
            rows = "".join(
                f"<tr><td><code>{_e(key)}</code></td><td>{_e(_shown(value))}</td>"
                f"<td>{_e(_shown(response.labels.get(key, '')))}</td></tr>"
                for key, value in response.values.items()
            )
            parts.append(
                '<h2>Values</h2>'
                + _scrolling(
                    '<table class="values"><thead><tr><th>Field</th><th>Value</th><th>Label</th></tr>'
                    f"</thead><tbody>{rows}</tbody></table>",
                    "Values",
                )
            )
            parts.append(
                f'<p><a href="/surveys/{_e(quote(survey.survey_id))}">Record another response</a> · '
                '<a href="/deliveries">All deliveries</a></p>'
            )
        heading = "Response recorded" if response_id in self._expected else "Response"
        return self._page(heading, "\n".join(parts), title=f"Response {response_id}")

    def deliveries_page(self, **_: Any) -> Reply:
        with self.state.lock:
            deliveries = list(reversed(self.state.deliveries))
            total = self.state.delivery_count
            known = {
                response_id
                for brand in self.state.brands.values()
                for survey in brand.surveys.values()
                for response_id in survey.responses
            }
        if deliveries:
            intro = (
                f'<p class="hint">{len(deliveries)} delivery attempts, newest first ({total} since the sandbox '
                f"was last reset; it keeps the last {self.state.deliveries.maxlen}).</p>"
            )
            body = intro + self._deliveries_table(deliveries, known=known)
        else:
            body = (
                '<p class="hint">No deliveries yet. <a href="/">Record a response</a> to a survey that an active '
                "flow listens to.</p>"
            )
        return self._page("Deliveries", body)

    @staticmethod
    def _deliveries_table(
        deliveries: list[dict[str, Any]], *, with_response: bool = True, known: set[str] | None = None
    ) -> str:
        rows = []
        for delivery in deliveries:
            status = delivery.get("status")
            if delivery.get("dropped"):
                answered, css = "dropped (never sent)", "status-failed"
            elif status is None:
                answered, css = "no answer", "status-failed"
            else:
                answered, css = str(status), "status-ok" if 200 <= status < 300 else "status-failed"
            cells = [
                f"<td>{_e(_when(delivery.get('at') or 0))}</td>",
                f'<td class="wrap">{_e(delivery.get("url"))}</td>',
                f'<td class="wrap"><code>{_e(delivery.get("topic"))}</code></td>',
            ]
            if with_response:
                response_id = response_id_of(delivery) or ""
                shown = f"<code>{_e(response_id)}</code>"
                if known is not None and response_id in known:
                    shown = f'<a href="/responses/{_e(quote(response_id))}">{shown}</a>'
                cells.append(f"<td>{shown}</td>")
            cells.append(f'<td class="{css}">{_e(answered)}</td>')
            cells.append(f'<td class="wrap">{_e(delivery.get("error"))}</td>')
            rows.append(f'<tr class="delivery">{"".join(cells)}</tr>')
        response_header = "<th>Response</th>" if with_response else ""
        return _scrolling(
            '<table class="deliveries"><thead><tr><th>Time (UTC)</th><th>Subscription URL</th><th>Topic</th>'
            f"{response_header}<th>HTTP status</th><th>Error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
            "Deliveries",
        )

    # Replies ------------------------------------------------------------------------------------

    def _not_found(self, message: str) -> Reply:
        return self._page("Not found", f'<p>{_e(message)} <a href="/">All surveys</a></p>', status=404)

    @staticmethod
    def _page(heading: str, body: str, *, status: int = 200, title: str | None = None) -> Reply:
        document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title or heading)} · Qualtrics sandbox</title>
<link rel="stylesheet" href="/sandbox.css">
</head>
<body>
<header><a class="home" href="/">Qualtrics sandbox</a>
<nav><a href="/">Surveys</a> · <a href="/deliveries">Deliveries</a></nav></header>
<main>
<h1>{_e(heading)}</h1>
{body}
</main>
</body>
</html>
"""
        return Reply(status, dict(HTML_HEADERS), document.encode())
