"""Drafts and publish (issue #14): an active flow runs its published version while the draft
changes; Publish switches the live version atomically, and deliveries arriving meanwhile run on
exactly one of the two versions."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from designer import services
from designer.activation import flow_activate
from designer.models import Delivery, Run

COMPOSE = {"id": "step_1", "card": "core.compose", "inputs": {"template": "v1 {{trigger.body.n}}"}}


@pytest.fixture
def dummy_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def hooked_flow(team):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name="Hooked")
    definition = {"event": {"id": "trigger", "card": "webhook.catch", "configuration": None, "options": {}},
                  "steps": [COMPOSE]}
    services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
    activation = flow_activate(flow=flow, user=membership.user)  # publishes version 1 first
    assert activation.status == "active_webhook" and activation.version.number == 1
    return membership, flow, activation


def changed(flow, template: str) -> dict:
    return {**flow.definition, "steps": [{**COMPOSE, "inputs": {"template": template}}]}


@pytest.mark.django_db
def test_an_active_flow_keeps_its_version_while_the_draft_changes_and_publish_switches_it(team, dummy_tasks):
    membership, flow, activation = hooked_flow(team)
    url = reverse("webhook_webhook", args=[activation.pk, activation.secret])
    services.flow_save(membership=membership, flow=flow, definition=changed(flow, "v2"), base_version=flow.revision)
    assert Client().post(url, {"n": 1}, content_type="application/json").json()["detail"] == "Accepted."
    activation.refresh_from_db()
    assert activation.version.number == 1 and Run.objects.get().version.number == 1

    version = services.flow_publish(membership=membership, flow=flow)
    activation.refresh_from_db()
    flow.refresh_from_db()
    # The same subscription (secret) goes on; only the pinned version changed.
    assert version.number == 2 and activation.version == version == flow.live_version
    assert activation.status == "active_webhook" and activation.secret in url
    assert Client().post(url, {"n": 2}, content_type="application/json").json()["detail"] == "Accepted."
    assert [r.version.number for r in Run.objects.order_by("pk")] == [1, 2]


@pytest.mark.django_db
def test_a_draft_with_problems_is_never_run_and_publish_refuses_it(team, dummy_tasks):
    membership, flow, activation = hooked_flow(team)
    broken = {**flow.definition, "steps": [{"id": "step_1", "card": "core.compose", "inputs": {}}]}
    problems = services.flow_save(membership=membership, flow=flow, definition=broken, base_version=flow.revision)
    assert problems and problems[0].step == "step_1"
    with pytest.raises(services.FlowInvalid):
        services.flow_publish(membership=membership, flow=flow)
    url = reverse("webhook_webhook", args=[activation.pk, activation.secret])
    Client().post(url, {"n": 1}, content_type="application/json")
    activation.refresh_from_db()
    assert activation.version.number == 1 and Run.objects.get().version.definition["steps"] == [COMPOSE]


@pytest.mark.django_db(transaction=True)
def test_deliveries_during_a_publish_run_on_exactly_one_of_the_two_versions(team, dummy_tasks):
    membership, flow, activation = hooked_flow(team)
    url = reverse("webhook_webhook", args=[activation.pk, activation.secret])
    services.flow_save(membership=membership, flow=flow, definition=changed(flow, "v2"), base_version=flow.revision)
    senders, per_sender = 4, 15
    start = threading.Barrier(senders + 1)
    answers: list[str] = []
    failures: list[BaseException] = []

    def send(worker: int) -> None:
        try:
            client = Client()
            start.wait()
            for i in range(per_sender):
                answer = client.post(url, {"n": f"{worker}-{i}"}, content_type="application/json")
                answers.append(answer.json()["detail"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    def publish() -> None:
        try:
            start.wait()
            services.flow_publish(membership=membership, flow=flow)
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)] + [threading.Thread(target=publish)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    total = senders * per_sender
    assert answers == ["Accepted."] * total
    runs = list(Run.objects.filter(flow=flow).select_related("version"))
    by_version = {n: sum(1 for r in runs if r.version.number == n) for n in (1, 2)}
    # Every delivery made exactly one run, on version 1 or version 2, none on anything else.
    assert Delivery.objects.filter(flow=flow).count() == total
    assert len(runs) == total and by_version[1] + by_version[2] == total
    assert {r.delivery_id for r in runs} == set(Delivery.objects.filter(flow=flow).values_list("pk", flat=True))
    activation.refresh_from_db()
    assert activation.version.number == 2
    # Once the publish is done, every delivery runs on version 2.
    Client().post(url, {"n": "after"}, content_type="application/json")
    assert Run.objects.filter(flow=flow).latest("pk").version.number == 2


@pytest.mark.django_db
def test_a_delivery_checked_before_a_publish_and_stored_after_it_runs_the_new_version(team, dummy_tasks):
    from connectors.specs import InboundRequest
    from designer.webhooks import _load_activation, _store, _verify

    membership, flow, activation = hooked_flow(team)
    request = InboundRequest(method="POST", headers={}, query={}, body=b'{"n": 1}', content_type="application/json")
    verdict = _verify(_load_activation(activation.pk), "webhook", activation.secret, request)
    assert verdict.store[0]["version_id"] == flow.versions.get(number=1).pk  # read when it was checked
    services.flow_save(membership=membership, flow=flow, definition=changed(flow, "v2"), base_version=flow.revision)
    services.flow_publish(membership=membership, flow=flow)
    _store([verdict])
    assert verdict.message == "Accepted." and Run.objects.get().version.number == 2
