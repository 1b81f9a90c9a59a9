"""The Schedule and Webhook triggers with real worker processes: the database worker on the
embedded default and (marked `scaleout`) Celery on PostgreSQL + Redis, as tests/test_workers.py.

A scheduled flow runs from the workers' scheduler thread alone, once per tick, and a worker killed
and started again neither repeats a tick nor runs the ticks it missed more than once. A webhook
flow runs once per delivery, and once per event id when the same delivery is sent again.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.activation import flow_activate
from designer.models import Activation, Run, RunStatus
from tests.processes import wait_for

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


def saved_flow(team, name: str, definition: dict):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name=name)
    services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
    services.flow_publish(membership=membership, flow=flow)
    return flow


def runs(flow) -> list[Run]:
    return list(Run.objects.filter(flow=flow).select_related("delivery").order_by("pk"))


def settled(flow, count: int, seconds: float = 3.0) -> list[Run]:
    """Waits until `count` runs have finished, then a little longer to see that no more come."""
    wait_for(lambda: Run.objects.filter(flow=flow, status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]).count() >= count,
             timeout=90)
    time.sleep(seconds)
    found = runs(flow)
    assert len(found) == count, [(r.delivery.event_id, r.status) for r in found]
    assert all(r.status == RunStatus.SUCCEEDED for r in found), [r.error for r in found]
    return found


def test_a_flow_every_minute_runs_once_per_minute_across_a_worker_restart(workers, team):
    flow = saved_flow(team, "Every minute", {
        "event": {"id": "trigger", "card": "schedule.every", "configuration": None,
                  "options": {"mode": "interval", "every_minutes": 1, "timezone": "UTC"}},
        "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "Tick at {{trigger.scheduled_at}}"}}],
    })
    activation = flow_activate(flow=flow)
    assert activation.status == "active_schedule"
    # The first check below waits a few seconds to see that no second run comes: start it well
    # inside a minute, so the next minute's tick (a rightful second run) cannot arrive meanwhile.
    second = datetime.now(UTC).second
    if second >= 45:
        time.sleep(61 - second)
    # The workers were down for two and a half minutes after it was activated: the ticks missed
    # meanwhile run once, as one run for the latest of them.
    Activation.objects.filter(pk=activation.pk).update(
        activated_at=timezone.now() - timedelta(seconds=150), next_poll_at=timezone.now()
    )
    first = workers(scheduler_interval=1)
    [missed] = settled(flow, 1)
    tick = datetime.fromisoformat(missed.delivery.event_id.replace("Z", "+00:00"))
    assert tick <= datetime.now(UTC) and tick.second == 0
    assert missed.trigger["scheduled_at"] == missed.delivery.event_id
    assert missed.steps.get(step_id="step_1").outputs["text"] == f"Tick at {missed.delivery.event_id}"

    first.kill()  # no clean shutdown, mid-scheduler
    workers(scheduler_interval=1)
    time.sleep(3)
    ticks = [r.delivery.event_id for r in runs(flow)]
    next_tick = (tick + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The next minute may have begun meanwhile; the tick already run never comes again.
    assert ticks in ([missed.delivery.event_id], [missed.delivery.event_id, next_tick]), \
        f"a restarted worker ran a tick again: {ticks}"

    # The next minute comes once.
    wait_for(lambda: len(runs(flow)) == 2, timeout=75)
    later = settled(flow, 2)[1]
    assert later.delivery.event_id == next_tick
    assert later.delivery.source == "schedule"


@pytest.fixture
def contact_flow(team, sandbox_configuration, qualtrics_sandbox):
    def make(options: dict):
        return saved_flow(team, f"Inbound {len(options)}", {
            "event": {"id": "trigger", "card": "webhook.catch", "configuration": None, "options": options},
            "steps": [{
                "id": "step_1", "card": "qualtrics.create_contact_in_mailing_list",
                "configuration": sandbox_configuration.pk,
                "options": {"directory_id": qualtrics_sandbox.directory_id,
                            "mailing_list_id": qualtrics_sandbox.mailing_list_id},
                "inputs": {"email": {"ref": "trigger.body.email"}, "first_name": {"ref": "trigger.body.name"}},
            }],
        })

    return make


def contacts(sandbox) -> list[str]:
    client = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)
    return sorted(c["email"] for c in client.list_mailing_list_contacts(sandbox.directory_id, sandbox.mailing_list_id))


def test_a_webhook_flow_runs_once_per_delivery_and_once_per_event_id(
    workers, contact_flow, qualtrics_sandbox, live_server
):
    workers()
    plain = flow_activate(flow=contact_flow({}))
    keyed = flow_activate(flow=contact_flow({"event_id_path": "order.id"}))
    assert plain.status == keyed.status == "active_webhook"
    session = requests.Session()

    def post(activation, body: dict) -> requests.Response:
        url = live_server.url + reverse("webhook_webhook", args=[activation.pk, activation.secret])
        return session.post(url, json=body, timeout=10)

    # Without an event id path every delivery is its own event.
    for index in range(2):
        answer = post(plain, {"email": f"plain{index}@example.com", "name": "Sam"})
        assert answer.status_code == 200 and answer.json()["detail"] == "Accepted."
    # With one, the same order sent again (a retrying sender) is stored and run once.
    for _ in range(3):
        answer = post(keyed, {"order": {"id": "ord_1"}, "email": "ord1@example.com", "name": "Ola"})
        assert answer.status_code == 200
    assert answer.json()["detail"] == "Already received."
    assert post(keyed, {"order": {"id": "ord_2"}, "email": "ord2@example.com", "name": "Ole"}).status_code == 200
    assert post(keyed, {"email": "no-id@example.com"}).status_code == 400

    settled(plain.flow, 2)
    settled(keyed.flow, 2)
    assert [r.delivery.event_id for r in runs(keyed.flow)] == ["ord_1", "ord_2"]
    assert contacts(qualtrics_sandbox) == ["ord1@example.com", "ord2@example.com", "plain0@example.com",
                                           "plain1@example.com"]
