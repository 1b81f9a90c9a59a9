"""Two people pressing Activate at the same moment make one Qualtrics subscription, not two, and
leave none behind (issue: two simultaneous activations created two and left one behind)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import Role
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.activation import ActivationError, flow_activate, flow_deactivate

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_activations_make_one_subscription(team, sandbox_configuration, qualtrics_sandbox, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # Qualtrics never calls it here; only the subscription counts
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name="Raced")
    services.flow_save(membership=membership, flow=flow, base_version=0, definition={
        "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": sandbox_configuration.pk,
                  "options": {"survey_id": qualtrics_sandbox.survey_id}},
        "steps": [],
    })
    services.flow_publish(membership=membership, flow=flow)
    qualtrics_sandbox.add_latency(0.5, "eventsubscriptions", method="POST", count=1)  # the first one is slow
    start, outcomes = threading.Barrier(4), []

    def press() -> None:
        start.wait()
        try:
            outcomes.append(flow_activate(flow=flow).status)
        except ActivationError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    assert len(client.list_event_subscriptions()) == 1, outcomes
    assert "active_webhook" in outcomes
    assert all(o in ("active_webhook", "This flow is being activated already.") for o in outcomes), outcomes
    flow_deactivate(flow=flow)
    assert client.list_event_subscriptions() == []
