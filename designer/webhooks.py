"""The Qualtrics webhook receiver: check, store, enqueue, answer. It never calls Qualtrics.

When the database is unavailable it answers 503 with Retry-After, so Qualtrics sends the delivery
again; a delivery already stored is not run twice.

Qualtrics posts form fields Topic, MSG (a JSON string) and HMAC (hex HMAC-SHA512 of MSG keyed
with the subscription's shared key) [qualtrics-api.md §9].
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from django.db import DatabaseError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

from designer.models import Activation, ActivationStatus, DeliverySource
from designer.runs import delivery_accept

logger = logging.getLogger(__name__)
COMPLETED_RESPONSE = "surveyengine.completedResponse."
ACTIVE = (ActivationStatus.ACTIVE_WEBHOOK, ActivationStatus.ACTIVE_POLLING, ActivationStatus.FAILING)


def _answer(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@csrf_exempt
def qualtrics_webhook(request, activation_id: int, secret: str):
    try:
        return _receive(request, activation_id, secret)
    except DatabaseError as exc:
        logger.warning("Webhook for activation %s refused with 503, the database is unavailable: %s", activation_id, exc)
        response = _answer(503, "The database is briefly unavailable. Send this delivery again.")
        response["Retry-After"] = "10"
        return response


def _receive(request, activation_id: int, secret: str):
    if request.method == "GET":
        return HttpResponse("ok")  # some set-ups probe the URL before posting
    if request.method != "POST":
        return _answer(405, "POST only.")
    activation = (
        Activation.objects.select_related("flow", "version")
        .only("id", "secret", "status", "survey_id", "shared_key_encrypted", "version", "flow__id", "flow__team_id", "flow__name")
        .filter(pk=activation_id)
        .first()
    )
    if activation is None or not activation.secret or not constant_time_compare(activation.secret, secret):
        return _answer(404, "Unknown webhook.")
    if activation.status not in ACTIVE:
        logger.info("Webhook for inactive flow %s ignored", activation.flow_id)
        return _answer(200, "Flow is not active; ignored.")

    message = request.POST.get("MSG")
    topic = request.POST.get("Topic", "")
    supplied = request.POST.get("HMAC", "")
    if message is None:
        return _answer(400, "Missing MSG field.")
    expected = hmac.new(activation.shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()
    if not constant_time_compare(expected, supplied.strip().lower()):
        logger.warning("Webhook for flow %s refused: bad HMAC", activation.flow_id)
        return _answer(403, "Signature does not match.")

    try:
        payload = json.loads(message)
        if not isinstance(payload, dict):
            raise ValueError
    except ValueError:
        return _answer(400, "MSG is not a JSON object.")
    # Topic arrives prefixed with the brand id: {BrandID}.surveyengine.completedResponse.{SurveyID}
    if COMPLETED_RESPONSE not in topic:
        logger.info("Webhook topic %r for flow %s ignored", topic, activation.flow_id)
        return _answer(200, "Topic ignored.")
    survey_id = payload.get("SurveyID") or topic.rsplit(".", 1)[-1]
    response_id = str(payload.get("ResponseID") or "")
    if survey_id != activation.survey_id or not response_id.startswith("R_"):
        logger.info("Webhook for flow %s about survey %r ignored", activation.flow_id, survey_id)
        return _answer(200, "Not this flow's survey; ignored.")

    # One commit stores the delivery, its run (and on the database task backend its task) and
    # the activation's last event time; the answer goes out only after it.
    with transaction.atomic():
        run = delivery_accept(
            flow=activation.flow, version=activation.version, response_id=response_id, survey_id=survey_id,
            source=DeliverySource.WEBHOOK, topic=topic[:300], payload=payload,
        )
        Activation.objects.filter(pk=activation.pk).update(last_event_at=timezone.now())
    return _answer(200, "Accepted." if run else "Already received.")
