"""The ASGI webhook intake (designer.webhooks.webhook_intake) answers as the Django view does.

Requests are sent to config.asgi's application in-process, the way the server calls it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from designer import services
from designer.models import Activation, ActivationStatus, Delivery, Run
from tests.asgi import asgi_request

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def activation(team, immediate_tasks):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name="Hooked", definition={
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": None,
                  "options": {"survey_id": "SV_1"}},
        "steps": [],
    })
    item = Activation.objects.get(flow=flow)
    item.status = ActivationStatus.ACTIVE_WEBHOOK
    item.version = flow.versions.first()
    item.trigger = "qualtrics.new_response"
    item.options = {"survey_id": "SV_1"}
    item.mode = "webhook"
    item.secret = "s3cret-path"
    item.shared_key = "shared-key"
    item.save()
    return item


def form(response_id: str, *, key: str = "shared-key", survey_id: str = "SV_1", msg: str | None = None) -> dict:
    msg = msg if msg is not None else json.dumps({"Status": "Complete", "SurveyID": survey_id, "ResponseID": response_id})
    return {"Topic": f"brand.surveyengine.completedResponse.{survey_id}", "MSG": msg,
            "HMAC": hmac.new(key.encode(), msg.encode(), hashlib.sha512).hexdigest()}


async def asgi_post(path: str, data: dict | bytes, *, host: bytes = b"127.0.0.1", method: str = "POST",
                    content_type: bytes = b"application/x-www-form-urlencoded") -> tuple[int, dict, bytes]:
    body = data if isinstance(data, bytes) else urlencode(data).encode()
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    return await asgi_request(path, method=method, host=host, headers=headers, body=body)


def path_of(activation, secret: str | None = None) -> str:
    return reverse("qualtrics_webhook", args=[activation.pk, secret or activation.secret])


@pytest.mark.asyncio
async def test_the_intake_answers_every_case_as_the_view_does(activation):
    view = Client()
    cases = [
        (path_of(activation, "guess"), form("R_guess"), 404),
        (path_of(activation), form("R_badmac", key="other"), 403),
        (path_of(activation), {"Topic": "x"}, 400),
        (path_of(activation), form("R_x", msg="[1]"), 400),
        (path_of(activation), form("R_other", survey_id="SV_2"), 200),
        (path_of(activation), {**form("R_topic"), "Topic": "brand.surveyengine.startedResponse.SV_1"}, 200),
    ]
    for path, data, expected_status in cases:
        status, headers, body = await asgi_post(path, data)
        expected = await database_sync_to_async(lambda p=path, d=data: view.post(p, d))()
        assert (status, json.loads(body)) == (expected.status_code, expected.json()), (path, data)
        assert status == expected_status
        assert headers["content-type"] == "application/json"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    assert await database_sync_to_async(lambda: Delivery.objects.count())() == 0

    status, _, body = await asgi_post(path_of(activation), form("R_accepted"))
    assert (status, json.loads(body)) == (200, {"detail": "Accepted."})
    status, _, body = await asgi_post(path_of(activation), form("R_accepted"))
    assert (status, json.loads(body)) == (200, {"detail": "Already received."})
    expected = await database_sync_to_async(lambda: view.post(path_of(activation), form("R_accepted")))()
    assert (expected.status_code, expected.json()) == (200, {"detail": "Already received."})
    assert await database_sync_to_async(lambda: Delivery.objects.filter(event_id="R_accepted").count())() == 1
    assert await database_sync_to_async(lambda: Run.objects.filter(delivery__event_id="R_accepted").count())() == 1


@pytest.mark.asyncio
async def test_concurrent_deliveries_are_stored_once_each_and_answered_after_storing(activation):
    ids = [f"R_burst{index}" for index in range(40)]
    deliveries = ids + ids[::4]  # every fourth one twice
    answers = await asyncio.gather(*(asgi_post(path_of(activation), form(r)) for r in deliveries))
    details = [json.loads(body)["detail"] for _, _, body in answers]
    assert {status for status, _, _ in answers} == {200}
    assert details.count("Accepted.") == len(ids)
    assert details.count("Already received.") == len(ids[::4])
    stored = await database_sync_to_async(lambda: sorted(Run.objects.values_list("delivery__event_id", flat=True)))()
    assert stored == sorted(ids)
    last_event = await database_sync_to_async(lambda: Activation.objects.get(pk=activation.pk).last_event_at)()
    assert last_event is not None


@pytest.mark.asyncio
async def test_requests_the_intake_does_not_handle_plainly_go_to_django(activation):
    status, _, body = await asgi_post(path_of(activation), b"", method="GET")
    assert (status, body) == (200, b"ok")
    status, _, _ = await asgi_post(path_of(activation), form("R_host"), host=b"evil.example")
    assert status == 400  # Django refuses the host
    status, _, body = await asgi_post(path_of(activation), json.dumps(form("R_json")).encode(),
                                      content_type=b"application/json")
    assert (status, json.loads(body)["detail"]) == (400, "Missing MSG field.")
    status, _, body = await asgi_post(path_of(activation).rstrip("/"), form("R_slash"))
    assert status in (301, 404, 500)  # not the intake's: Django's own handling of a path without its slash
    assert await database_sync_to_async(lambda: Delivery.objects.count())() == 0


def test_a_changed_shared_key_is_the_one_read(activation):
    """The key is decrypted once per activation and ciphertext: a key set on the activation, or
    saved elsewhere and read back, is the one deliveries are checked against."""
    from accounts.crypto import encrypt_text

    assert activation.shared_key == "shared-key"
    activation.shared_key = "rotated"
    assert activation.shared_key == "rotated"
    Activation.objects.filter(pk=activation.pk).update(shared_key_encrypted=encrypt_text("saved elsewhere"))
    activation.refresh_from_db()
    assert activation.shared_key == "saved elsewhere"
    activation.shared_key = ""
    assert activation.shared_key == ""
