"""The generic machinery with the Schedule and Webhook triggers, in one process: activation,
the scheduler's polls, deliveries to a flow's own URL, and the engine running the event card."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from designer import services
from designer.activation import ActivationError, flow_activate, flow_deactivate
from designer.engine import run_execute
from designer.models import Activation, Delivery, Run, RunStatus
from designer.polling import activation_poll

pytestmark = pytest.mark.django_db

COMPOSE = {"id": "step_1", "card": "core.compose", "inputs": {"template": "Hello {{trigger.body.name}}"}}


@pytest.fixture
def dummy_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def make_flow(team, event: dict, steps: list | None = None):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name="Triggered")
    services.flow_save(membership=membership, flow=flow, base_version=0,
                       definition={"event": {"id": "trigger", "configuration": None, **event}, "steps": steps or []})
    services.flow_publish(membership=membership, flow=flow)
    return flow


def schedule(every: int = 1, **options) -> dict:
    return {"card": "schedule.every", "options": {"mode": "interval", "every_minutes": every, "timezone": "UTC", **options}}


def test_a_scheduled_flow_activates_without_a_connection_and_polls_at_its_next_tick(team, dummy_tasks):
    activation = flow_activate(flow=make_flow(team, schedule(15)))
    assert activation.status == "active_schedule" and activation.mode == "schedule"
    assert activation.configuration is None and activation.reason.startswith("Runs every 15 minutes")
    assert activation_poll(activation.pk) == 0  # nothing is due right after activation
    activation.refresh_from_db()
    assert timezone.now() < activation.next_poll_at <= timezone.now() + timedelta(minutes=15)


def test_ticks_missed_while_no_worker_ran_start_one_run_and_a_repeated_poll_none(team, dummy_tasks):
    flow = make_flow(team, schedule(1), [{"id": "step_1", "card": "core.compose",
                                          "inputs": {"template": "At {{trigger.scheduled_at}}"}}])
    activation = flow_activate(flow=flow)
    Activation.objects.filter(pk=activation.pk).update(activated_at=timezone.now() - timedelta(minutes=5, seconds=30))
    assert activation_poll(activation.pk) == 1
    assert activation_poll(activation.pk) == 0
    [run] = Run.objects.filter(flow=flow)
    assert run.delivery.source == "schedule"
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.trigger["scheduled_at"] == run.delivery.event_id
    assert run.steps.get(step_id="step_1").outputs == {"text": f"At {run.delivery.event_id}"}


def test_an_invalid_schedule_is_refused_at_activation_with_its_reason(team):
    with pytest.raises(ActivationError, match="hour field"):
        flow_activate(flow=make_flow(team, schedule(mode="cron", cron="0 25 * * *")))


@pytest.fixture
def hooked(team, dummy_tasks):
    def make(**options):
        return flow_activate(flow=make_flow(team, {"card": "webhook.catch", "options": options}, [COMPOSE]))

    return make


def url_of(activation, connector: str = "webhook") -> str:
    return reverse(f"{connector}_webhook", args=[activation.pk, activation.secret])


def test_each_delivery_to_a_flows_url_is_stored_and_runs_the_event_card(hooked):
    activation = hooked()
    assert activation.status == "active_webhook"
    answers = [Client().post(url_of(activation), {"name": "Ada"}, content_type="application/json") for _ in range(2)]
    assert [a.json()["detail"] for a in answers] == ["Accepted.", "Accepted."]
    runs = list(Run.objects.filter(flow=activation.flow).order_by("pk"))
    assert len(runs) == 2 and runs[0].delivery.event_id != runs[1].delivery.event_id
    assert run_execute(runs[0].pk) == RunStatus.SUCCEEDED
    assert runs[0].steps.get(step_id="step_1").outputs == {"text": "Hello Ada"}
    trigger = runs[0].steps.get(step_id="trigger")
    assert trigger.outputs["body"] == {"name": "Ada"} and trigger.outputs["content_type"] == "application/json"


def test_a_resent_event_id_runs_once_and_a_bad_signature_stores_nothing(hooked):
    activation = hooked(event_id_path="id", signature_header="X-Signature", signing_key="k" * 20)
    body = json.dumps({"id": "evt_1", "name": "Bo"}).encode()
    signature = "sha256=" + hmac.new(b"k" * 20, body, hashlib.sha256).hexdigest()
    post = lambda sig: Client().post(url_of(activation), body, content_type="application/json",  # noqa: E731
                                     headers={"X-Signature": sig})
    assert [post(signature).json()["detail"] for _ in range(3)] == ["Accepted.", "Already received.", "Already received."]
    refused = post("sha256=" + "0" * 64)
    assert refused.status_code == 401 and "does not match" in refused.json()["detail"]
    assert Delivery.objects.filter(flow=activation.flow).count() == 1


def test_a_flows_url_under_another_connector_or_after_deactivation_starts_nothing(hooked):
    activation = hooked()
    assert Client().post(url_of(activation, "qualtrics"), {"MSG": "{}"}).status_code == 404
    secret = activation.secret
    flow_deactivate(flow=activation.flow)
    gone = Client().post(reverse("webhook_webhook", args=[activation.pk, secret]), {}, content_type="application/json")
    assert gone.status_code == 404
    assert not Run.objects.filter(flow=activation.flow).exists()


def test_the_status_page_shows_editors_the_flows_url(hooked, client, member):
    activation = hooked()
    client.force_login(member(Role.EDITOR))
    page = client.get(reverse("flow_status", args=[activation.flow.pk])).content.decode()
    assert f"/hooks/webhook/{activation.pk}/{activation.secret}/" in page
    client.force_login(member(Role.VIEWER, username="watcher"))
    assert activation.secret not in client.get(reverse("flow_status", args=[activation.flow.pk])).content.decode()
