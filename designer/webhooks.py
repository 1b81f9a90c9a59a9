"""The webhook receiver of every trigger that takes deliveries: check, store, enqueue, answer.
It never calls the service that sent the delivery.

When the database is unavailable it answers 503 with Retry-After, so the sender sends the
delivery again; a delivery already stored is not run twice.

Deliveries are posted to `/hooks/<connector>/<activation id>/<secret>/` (routes generated per
connector by `webhook_urls()`). The path secret picks the activation; the trigger of its event
card checks the delivery (a signature, its topic) and turns it into events; each event is stored
once per (flow, event id).

Two entrances share the checks and the storing: the Django view `hook` (any server, the test
client), and `webhook_intake(app)`, the ASGI application the server serves (config/asgi.py), which
takes well-formed form and JSON posts before Django's request machinery and stores them through
one `WebhookInbox` thread, many deliveries per commit. Anything it does not handle plainly
(other methods, hosts, encodings, HTTPS redirects) goes to Django as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from config.parsers import json_problem
from connectors import registry
from connectors.specs import DeliveryRefused, InboundRequest, TriggerContext
from designer.models import Activation, Delivery, DeliverySource
from designer.pacing import Pacer
from designer.runs import deliveries_accept, hand_over_later, hand_over_now, pinned_versions

logger = logging.getLogger(__name__)
EVENT_ID_MAX = Delivery._meta.get_field("event_id").max_length
UNAVAILABLE = "The database is briefly unavailable. Send this delivery again."
RETRY_AFTER_SECONDS = "10"
METHODS = ("POST", "PUT")


@dataclass
class Verdict:
    """The answer to a delivery, or (with `store`) the events to store before answering."""

    status: int
    message: str
    store: list[dict] = field(default_factory=list)
    activation: Activation | None = field(default=None, repr=False)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _load_activation(activation_id: int) -> Activation | None:
    return (
        Activation.objects.select_related("flow")
        .only("id", "secret", "status", "trigger", "options", "state", "shared_key_encrypted", "activated_at",
              "version", "flow__id", "flow__team_id", "flow__name")
        .filter(pk=activation_id)
        .first()
    )


def _verify(activation: Activation | None, connector: str, secret: str, request: InboundRequest) -> Verdict:
    """Every check of a delivery, in order; nothing is stored here."""
    if activation is None or not activation.secret or not constant_time_compare(activation.secret, secret):
        return Verdict(404, "Unknown webhook.")
    trigger = registry.trigger(activation.trigger)
    if trigger is None or not trigger.accepts_deliveries or registry.get(activation.trigger).connector != connector:
        return Verdict(404, "Unknown webhook.")
    if not activation.is_active:
        logger.info("Webhook for inactive flow %s ignored", activation.flow_id)
        return Verdict(200, "Flow is not active; ignored.")
    ctx = TriggerContext(options=dict(activation.options or {}), state=dict(activation.state or {}),
                         shared_key=activation.shared_key, activated_at=activation.activated_at, now=timezone.now())
    try:
        events = trigger.parse(ctx, request)
    except DeliveryRefused as exc:
        logger.info("Webhook for flow %s answered %s: %s", activation.flow_id, exc.status, exc.message)
        return Verdict(exc.status, exc.message)
    if not events:
        return Verdict(200, "Nothing to run; ignored.")
    store = []
    for event in events:
        if not event.id or len(event.id) > EVENT_ID_MAX:
            return Verdict(400, f"An event id must have 1 to {EVENT_ID_MAX} characters.")
        # Refused for good: PostgreSQL could never store these, and a 503 would have the sender retry forever.
        problem = json_problem(dict(event.data)) or json_problem(event.id) or json_problem(event.topic)
        if problem:
            return Verdict(400, f"The delivery {problem}.")
        store.append({
            "flow": activation.flow, "version_id": activation.version_id, "event_id": event.id,
            "source": DeliverySource.WEBHOOK, "topic": event.topic[:300], "payload": dict(event.data),
        })
    return Verdict(200, "", store=store, activation=activation)


def _store(verdicts: list[Verdict]) -> None:
    """Stores the events to store (and their runs and tasks) and the activations' last event
    time in one transaction, and sets each verdict's message; the answers go out only after it.
    An event already stored for its (flow, event id) becomes "Already received."."""
    pending = [v for v in verdicts if v.store]
    if not pending:
        return
    items = [item for v in pending for item in v.store]
    with transaction.atomic():
        # The version each run gets is read here, under the activation's row lock, not when the
        # delivery was checked: Publish switches it under the same lock (designer/services.py
        # flow_publish), so a delivery runs the version that was live when it was stored.
        live = pinned_versions({v.activation.pk for v in pending})
        for verdict in pending:
            version_id = live.get(verdict.activation.pk)
            if version_id is not None:
                for item in verdict.store:
                    item["version_id"] = version_id
        runs = deliveries_accept(items)
        position = 0
        for verdict in pending:
            mine = runs[position:position + len(verdict.store)]
            position += len(verdict.store)
            verdict.message = "Accepted." if any(mine) else "Already received."
        now = timezone.now()
        for activation_id in sorted({v.activation.pk for v in pending}):
            Activation.objects.filter(pk=activation_id).update(last_event_at=now)


# The Django view --------------------------------------------------------------------------------


def _inbound(request) -> InboundRequest:
    content_type = request.content_type or ""
    body = request.body
    form = None
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = {key: request.POST.get(key) for key in request.POST}
    return InboundRequest(
        method=request.method, headers={k.lower(): v for k, v in request.headers.items()},
        query={key: request.GET.get(key) for key in request.GET}, body=body, content_type=content_type, form=form,
    )


@csrf_exempt
def hook(request, connector: str, activation_id: int, secret: str):
    try:
        return _receive(request, connector, activation_id, secret)
    except DatabaseError as exc:
        logger.warning("Webhook for activation %s refused with 503, the database is unavailable: %s", activation_id, exc)
        response = _answer(503, UNAVAILABLE)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response


def _receive(request, connector: str, activation_id: int, secret: str):
    if request.method == "GET":
        return HttpResponse("ok")  # some set-ups probe the URL before posting
    if request.method not in METHODS:
        return _answer(405, "POST only.")
    verdict = _verify(_load_activation(activation_id), connector, secret, _inbound(request))
    _store([verdict])
    return _answer(verdict.status, verdict.message)


def webhook_urls() -> list:
    """A route per connector whose triggers take deliveries, named `<connector>_webhook`."""
    keys = sorted({registry.get(t.card).connector for c in registry.connectors() for t in c.triggers
                   if t.accepts_deliveries})
    return [
        path(f"hooks/{key}/<int:activation_id>/<str:secret>/", hook, {"connector": key}, name=f"{key}_webhook")
        for key in keys
    ]


# The inbox: one thread, one connection, many deliveries per commit ---------------------------------


class WebhookInbox:
    """Checks and stores deliveries on one thread with its own database connection.

    Deliveries that arrive while a commit is under way are stored together in the next one, so
    under load one commit (and one SQLite write lock, or one PostgreSQL flush) serves many
    deliveries; alone, a delivery is stored at once. Each delivery is answered only after the
    commit that stored it, exactly as the view answers it.

    While many runs wait for a worker, a batch is gathered a little longer before it is stored
    (`pacer`, designer/pacing.py), with every delivery that arrives meanwhile, so that its first
    delivery is answered no later than about the pacer's hold after it arrived.
    """

    MAX_BATCH = 100

    def __init__(self, pacer: Pacer | None = None) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pacer = pacer
        self._storing = 0.0  # the longest a recent batch took to store, in seconds (the longest fading)

    def submit(self, connector: str, activation_id: int, secret: str, request: InboundRequest) -> concurrent.futures.Future:
        """A future of (status, message)."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((connector, activation_id, secret, request, future, time.monotonic()))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="webhook-inbox", daemon=True)
                    self._thread.start()
        return future

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            if self._pacer is not None and (hold := self._pacer.hold()):
                # Answered within about `hold` of the first delivery's arrival: storing takes a while too.
                if (left := batch[0][-1] + hold - self._storing - time.monotonic()) > 0:
                    time.sleep(left)  # the deliveries arriving meanwhile join this batch
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            hand_over_later()
            try:
                started = time.monotonic()
                answers = self._handle(batch)
                self._storing = max(time.monotonic() - started, 0.9 * self._storing)
                for (*_, future, _arrived), answer in zip(batch, answers, strict=True):
                    # False when the request's task was cancelled (at shutdown, say).
                    if future.set_running_or_notify_cancel():
                        future.set_result(answer)
            finally:
                # The deliveries are answered once stored; their runs' tasks go to the queue after.
                hand_over_now()

    def _handle(self, batch: list[tuple]) -> list[tuple[int, str]]:
        try:
            self._check_connection()
            activations: dict[int, Activation | None] = {}
            verdicts = []
            for connector, activation_id, secret, request, *_ in batch:
                if activation_id not in activations:
                    activations[activation_id] = _load_activation(activation_id)
                verdicts.append(_verify(activations[activation_id], connector, secret, request))
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

WEBHOOK_PATH = re.compile(r"/hooks/(?P<connector>[a-z][a-z0-9]*)/(?P<activation_id>[0-9]+)/(?P<secret>[^/]+)/")
FORM_TYPE = "application/x-www-form-urlencoded"


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (content_type.startswith("application/") and content_type.endswith("+json"))


def webhook_intake(app):
    """Wraps Django's ASGI application: webhook posts are taken here, everything else (and any
    webhook request this does not handle plainly) is passed to `app` unchanged."""
    from django.conf import settings
    from django.utils.csp import CSP, build_policy

    from config.asgi_rules import DjangoRules

    inbox = WebhookInbox(Pacer())
    rules = DjangoRules()
    hooked = {p.default_args["connector"] for p in webhook_urls()}
    # The headers Django's middleware puts on the view's JSON answers, besides SecurityMiddleware's.
    answer_headers = [(b"content-type", b"application/json"), (b"x-frame-options", settings.X_FRAME_OPTIONS.encode())]
    for header, config in ((CSP.HEADER_ENFORCE, settings.SECURE_CSP), (CSP.HEADER_REPORT_ONLY, settings.SECURE_CSP_REPORT_ONLY)):
        if config:
            answer_headers.append((str(header).lower().encode(), build_policy(config).encode()))

    def plain(scope, headers: dict[bytes, bytes]) -> bool:
        """A UTF-8 form or JSON post that Django would not redirect or refuse for its host."""
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")
        kind = content_type[0].strip().lower()
        if kind != FORM_TYPE and not _is_json(kind):
            return False
        charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in content_type[1:] if "=" in p
                        and p.split("=", 1)[0].strip().lower() == "charset"), "utf-8")
        if charset not in ("utf-8", "utf8"):
            return False
        return rules.plain(scope, headers)

    async def intake(scope, receive, send):
        match = WEBHOOK_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "POST" or match["connector"] not in hooked:
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
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        fields, parsed = None, limit is None or size <= limit
        if parsed and content_type == FORM_TYPE:
            try:
                fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                                        max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
            except ValueError:
                parsed = False
        if not parsed or message.get("more_body", False):
            return await app(scope, _replay(body, message.get("more_body", False), receive), send)
        request = InboundRequest(
            method="POST", headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers.items()},
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))), body=body,
            content_type=content_type, form=fields,
        )
        status, text = await asyncio.wrap_future(
            inbox.submit(match["connector"], int(match["activation_id"]), match["secret"], request))
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
