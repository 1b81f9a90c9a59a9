"""The Qualtrics webhook receiver: check, store, enqueue, answer. It never calls Qualtrics.

When the database is unavailable it answers 503 with Retry-After, so Qualtrics sends the delivery
again; a delivery already stored is not run twice.

Qualtrics posts form fields Topic, MSG (a JSON string) and HMAC (hex HMAC-SHA512 of MSG keyed
with the subscription's shared key) [qualtrics-api.md §9].

Two entrances share the checks and the storing: the Django view `qualtrics_webhook` (any
server, the test client), and `webhook_intake(app)`, the ASGI application daphne serves
(config/asgi.py), which takes well-formed deliveries before Django's request machinery and
stores them through one `WebhookInbox` thread, many deliveries per commit. Anything it does not
handle plainly (other methods, hosts, encodings, HTTPS redirects) goes to Django as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import json
import logging
import queue
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from config.parsers import HAS_NUL, json_problem
from designer.models import Activation, ActivationStatus, Delivery, DeliverySource
from designer.runs import deliveries_accept, delivery_accept

logger = logging.getLogger(__name__)
RESPONSE_ID_MAX = Delivery._meta.get_field("response_id").max_length
COMPLETED_RESPONSE = "surveyengine.completedResponse."
ACTIVE = (ActivationStatus.ACTIVE_WEBHOOK, ActivationStatus.ACTIVE_POLLING, ActivationStatus.FAILING)
UNAVAILABLE = "The database is briefly unavailable. Send this delivery again."
RETRY_AFTER_SECONDS = "10"


@dataclass
class Verdict:
    """The answer to a delivery, or (with `store`) the delivery to store before answering."""

    status: int
    message: str
    store: dict | None = None
    activation: Activation | None = field(default=None, repr=False)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _load_activation(activation_id: int) -> Activation | None:
    return (
        Activation.objects.select_related("flow", "version")
        .only("id", "secret", "status", "survey_id", "shared_key_encrypted", "version", "flow__id", "flow__team_id", "flow__name")
        .filter(pk=activation_id)
        .first()
    )


def _verify(activation: Activation | None, secret: str, fields: Mapping[str, str]) -> Verdict:
    """Every check of a posted delivery, in order; nothing is stored here."""
    if activation is None or not activation.secret or not constant_time_compare(activation.secret, secret):
        return Verdict(404, "Unknown webhook.")
    if activation.status not in ACTIVE:
        logger.info("Webhook for inactive flow %s ignored", activation.flow_id)
        return Verdict(200, "Flow is not active; ignored.")

    message = fields.get("MSG")
    topic = fields.get("Topic", "")
    supplied = fields.get("HMAC", "")
    if message is None:
        return Verdict(400, "Missing MSG field.")
    expected = hmac.new(activation.shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()
    if not constant_time_compare(expected, supplied.strip().lower()):
        logger.warning("Webhook for flow %s refused: bad HMAC", activation.flow_id)
        return Verdict(403, "Signature does not match.")

    try:
        payload = json.loads(message)
        if not isinstance(payload, dict):
            raise ValueError
    except (ValueError, RecursionError):
        return Verdict(400, "MSG is not a JSON object.")
    # Refused for good: PostgreSQL could never store these, and a 503 would have Qualtrics retry forever.
    problem = json_problem(payload)
    if problem or "\x00" in topic:
        return Verdict(400, f"MSG {problem}." if problem else f"Topic {HAS_NUL}.")
    # Topic arrives prefixed with the brand id: {BrandID}.surveyengine.completedResponse.{SurveyID}
    if COMPLETED_RESPONSE not in topic:
        logger.info("Webhook topic %r for flow %s ignored", topic, activation.flow_id)
        return Verdict(200, "Topic ignored.")
    survey_id = payload.get("SurveyID") or topic.rsplit(".", 1)[-1]
    response_id = str(payload.get("ResponseID") or "")
    if survey_id != activation.survey_id or not response_id.startswith("R_"):
        logger.info("Webhook for flow %s about survey %r ignored", activation.flow_id, survey_id)
        return Verdict(200, "Not this flow's survey; ignored.")
    if len(response_id) > RESPONSE_ID_MAX:
        return Verdict(400, "ResponseID is longer than any Qualtrics response id.")
    store = {
        "flow": activation.flow, "version": activation.version, "response_id": response_id, "survey_id": survey_id,
        "source": DeliverySource.WEBHOOK, "topic": topic[:300], "payload": payload,
    }
    return Verdict(200, "", store=store, activation=activation)


def _store(verdicts: list[Verdict]) -> None:
    """Stores the deliveries to store (and their runs and tasks) and the activations' last event
    time in one transaction, and sets each verdict's message; the answers go out only after it.
    A delivery already stored for its (flow, response) becomes "Already received."."""
    pending = [v for v in verdicts if v.store is not None]
    if not pending:
        return
    with transaction.atomic():
        if len(pending) == 1:
            runs = [delivery_accept(**pending[0].store)]
        else:
            runs = deliveries_accept([v.store for v in pending])
        for verdict, run in zip(pending, runs, strict=True):
            verdict.message = "Accepted." if run else "Already received."
        now = timezone.now()
        for activation_id in sorted({v.activation.pk for v in pending}):
            Activation.objects.filter(pk=activation_id).update(last_event_at=now)


# The Django view --------------------------------------------------------------------------------


@csrf_exempt
def qualtrics_webhook(request, activation_id: int, secret: str):
    try:
        return _receive(request, activation_id, secret)
    except DatabaseError as exc:
        logger.warning("Webhook for activation %s refused with 503, the database is unavailable: %s", activation_id, exc)
        response = _answer(503, UNAVAILABLE)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response


def _receive(request, activation_id: int, secret: str):
    if request.method == "GET":
        return HttpResponse("ok")  # some set-ups probe the URL before posting
    if request.method != "POST":
        return _answer(405, "POST only.")
    verdict = _verify(_load_activation(activation_id), secret, request.POST)
    _store([verdict])
    return _answer(verdict.status, verdict.message)


# The inbox: one thread, one connection, many deliveries per commit ---------------------------------


class WebhookInbox:
    """Checks and stores deliveries on one thread with its own database connection.

    Deliveries that arrive while a commit is under way are stored together in the next one, so
    under load one commit (and one SQLite write lock, or one PostgreSQL flush) serves many
    deliveries; alone, a delivery is stored at once. Each delivery is answered only after the
    commit that stored it, exactly as the view answers it.
    """

    MAX_BATCH = 100

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, activation_id: int, secret: str, fields: Mapping[str, str]) -> concurrent.futures.Future:
        """A future of (status, message)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((activation_id, secret, fields, future))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="webhook-inbox", daemon=True)
                    self._thread.start()
        return future

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            answers = self._handle(batch)
            for (*_, future), answer in zip(batch, answers, strict=True):
                # False when the request was abandoned (its sender hung up and daphne cancelled it).
                if future.set_running_or_notify_cancel():
                    future.set_result(answer)

    def _handle(self, batch: list[tuple]) -> list[tuple[int, str]]:
        try:
            self._check_connection()
            activations: dict[int, Activation | None] = {}
            verdicts = []
            for activation_id, secret, fields, _ in batch:
                if activation_id not in activations:
                    activations[activation_id] = _load_activation(activation_id)
                verdicts.append(_verify(activations[activation_id], secret, fields))
            _store(verdicts)
            return [(v.status, v.message) for v in verdicts]
        except DatabaseError as exc:
            logger.warning("%d webhook(s) refused with 503, the database is unavailable: %s", len(batch), exc)
            connection.close()  # the next batch starts on a new connection
            return [(503, UNAVAILABLE)] * len(batch)
        except Exception:
            logger.exception("Webhook inbox failed on %d delivery(ies)", len(batch))
            connection.close()
            return [(500, "The server failed on this delivery. Send it again.")] * len(batch)

    @staticmethod
    def _check_connection() -> None:
        """This thread keeps its connection between batches: SQLite's for good, a server
        database's within CONN_MAX_AGE and its health checks, as Django does between requests."""
        if connection.vendor != "sqlite":
            connection.close_if_unusable_or_obsolete()


# The ASGI entrance ------------------------------------------------------------------------------

WEBHOOK_PATH = re.compile(r"/hooks/qualtrics/(?P<activation_id>[0-9]+)/(?P<secret>[^/]+)/")
FORM_TYPE = "application/x-www-form-urlencoded"


def webhook_intake(app):
    """Wraps Django's ASGI application: webhook posts are taken here, everything else (and any
    webhook request this does not handle plainly) is passed to `app` unchanged."""
    from django.conf import settings
    from django.utils.csp import CSP, build_policy

    from config.asgi_rules import DjangoRules

    inbox = WebhookInbox()
    rules = DjangoRules()
    # The headers Django's middleware puts on the view's JSON answers, besides SecurityMiddleware's.
    answer_headers = [(b"content-type", b"application/json"), (b"x-frame-options", settings.X_FRAME_OPTIONS.encode())]
    for header, config in ((CSP.HEADER_ENFORCE, settings.SECURE_CSP), (CSP.HEADER_REPORT_ONLY, settings.SECURE_CSP_REPORT_ONLY)):
        if config:
            answer_headers.append((str(header).lower().encode(), build_policy(config).encode()))

    def plain(scope, headers: dict[bytes, bytes]) -> bool:
        """A UTF-8 form post that Django would not redirect or refuse for its host."""
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")
        if content_type[0].strip().lower() != FORM_TYPE:
            return False
        charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in content_type[1:] if "=" in p
                        and p.split("=", 1)[0].strip().lower() == "charset"), "utf-8")
        if charset not in ("utf-8", "utf8"):
            return False
        return rules.plain(scope, headers)

    async def intake(scope, receive, send):
        match = WEBHOOK_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST":
            return await app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if not plain(scope, headers):
            return await app(scope, receive, send)
        chunks, size, limit = [], 0, settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body", False):
                break
            if limit is not None and size > limit:
                break
        body = b"".join(chunks)
        fields = None
        if limit is None or size <= limit:
            try:
                fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                                        max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
            except ValueError:
                fields = None
        if fields is None or (message.get("more_body", False)):
            return await app(scope, _replay(body, message.get("more_body", False), receive), send)
        status, text = await asyncio.wrap_future(
            inbox.submit(int(match["activation_id"]), match["secret"], fields))
        payload = json.dumps({"detail": text}).encode()
        response_headers = [*answer_headers, *rules.security_headers(scope, headers),
                            (b"content-length", str(len(payload)).encode())]
        if status == 503:
            response_headers.append((b"retry-after", RETRY_AFTER_SECONDS.encode()))
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})

    return intake


def _replay(body: bytes, more_body: bool, receive):
    """A receive that gives Django the body read so far, then the rest of the request."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replay
