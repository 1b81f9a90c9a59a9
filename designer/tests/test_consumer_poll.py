"""The websocket's own look-up for changed runs (in-memory channel layer, worker in another process)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from accounts.models import Role
from designer import services
from designer.consumers import RunsConsumer
from designer.models import Run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.asyncio,
    pytest.mark.skipif(bool(settings.REDIS_URL), reason="with Redis the consumer does not look for changes itself"),
]


@database_sync_to_async
def make_run(team):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(
        membership=membership,
        name="Polled",
        definition={"event": None, "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "x"}}]},
    )
    run = Run.objects.create(flow=flow, team=team, version=flow.versions.first())
    Run.objects.filter(pk=run.pk).update(
        updated_at=timezone.now() - timedelta(minutes=1)
    )  # long before the page opened
    return run, membership.user


@database_sync_to_async
def commit_late(run, stamped_seconds_ago: float):
    """A change whose updated_at was taken a moment before its commit became visible (a busy
    database, a longer transaction): the look-up in between could not see it yet."""
    Run.objects.filter(pk=run.pk).update(
        status="succeeded", updated_at=timezone.now() - timedelta(seconds=stamped_seconds_ago)
    )


async def test_a_change_committed_after_a_look_up_that_it_predates_is_still_pushed(team):
    run, owner = await make_run(team)
    comm = WebsocketCommunicator(RunsConsumer.as_asgi(), "/ws/runs/")
    comm.scope.update({"user": owner, "session": {}, "url_route": {"kwargs": {}}})
    connected, _ = await comm.connect()
    assert connected
    await asyncio.sleep(1.3)  # one look-up has happened since the socket opened
    await commit_late(run, stamped_seconds_ago=0.6)
    message = await comm.receive_json_from(timeout=4)
    assert (
        message["type"] == "run.updated" and message["run"]["id"] == run.pk and message["run"]["status"] == "succeeded"
    )
    assert await comm.receive_nothing(timeout=2.5), "an unchanged run is pushed once"
    await comm.disconnect()
