"""Websockets for live run and activation status (in-memory layer, or Redis when REDIS_URL is set)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import Role
from config.asgi import application
from designer import services
from designer.consumers import FlowConsumer, RunsConsumer
from designer.live import publish_run
from designer.models import Run

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def communicator(consumer, path, user, flow_id=None):
    comm = WebsocketCommunicator(consumer.as_asgi(), path)
    comm.scope["user"] = user
    comm.scope["session"] = {}
    comm.scope["url_route"] = {"kwargs": {"flow_id": flow_id} if flow_id else {}}
    return comm


@database_sync_to_async
def make_flow_and_run(team):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(membership=membership, name="Live", definition={
        "event": None, "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "x"}}]})
    run = Run.objects.create(flow=flow, team=team, version=flow.versions.first())
    return flow, run, membership.user


@database_sync_to_async
def finish(run):
    run.status = "succeeded"
    run.save()
    publish_run(Run.objects.select_related("flow", "version", "delivery").get(pk=run.pk))


async def test_a_member_sees_a_run_change_live_on_the_flow_socket(team):
    flow, run, owner = await make_flow_and_run(team)
    comm = communicator(FlowConsumer, f"/ws/flows/{flow.pk}/", owner, flow.pk)
    connected, _ = await comm.connect()
    assert connected
    await finish(run)
    message = await comm.receive_json_from(timeout=5)
    assert message["type"] == "run.updated" and message["run"]["id"] == run.pk and message["run"]["status"] == "succeeded"
    await comm.disconnect()


async def test_the_runs_socket_carries_the_teams_runs(team):
    flow, run, owner = await make_flow_and_run(team)
    comm = communicator(RunsConsumer, "/ws/runs/", owner)
    connected, _ = await comm.connect()
    assert connected
    await finish(run)
    message = await comm.receive_json_from(timeout=5)
    assert message["run"]["flow"]["name"] == "Live"
    await comm.disconnect()


async def test_another_team_cannot_open_the_flow_socket(team, other_team):
    flow, run, owner = await make_flow_and_run(team)
    stranger = await database_sync_to_async(lambda: other_team.memberships.first().user)()
    comm = communicator(FlowConsumer, f"/ws/flows/{flow.pk}/", stranger, flow.pk)
    connected, code = await comm.connect()
    assert not connected and code == 4403


async def test_anonymous_users_are_refused(db):
    from django.contrib.auth.models import AnonymousUser

    comm = communicator(RunsConsumer, "/ws/runs/", AnonymousUser())
    connected, code = await comm.connect()
    assert not connected and code == 4401


async def test_the_asgi_application_routes_websockets_and_checks_the_origin(team):
    comm = WebsocketCommunicator(application, "/ws/runs/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await comm.connect()
    assert not connected


@database_sync_to_async
def burst(run, updates: int):
    run = Run.objects.select_related("flow", "version", "delivery").get(pk=run.pk)
    run.status = "running"
    for n in range(updates):
        run.progress = float(n)
        publish_run(run)
    run.status = "succeeded"
    publish_run(run)


async def test_a_burst_of_updates_to_one_run_arrives_in_order_and_ends_with_its_newest_state(team):
    flow, run, owner = await make_flow_and_run(team)
    comm = communicator(FlowConsumer, f"/ws/flows/{flow.pk}/", owner, flow.pk)
    connected, _ = await comm.connect()
    assert connected
    await burst(run, 50)
    seen = []
    while not seen or seen[-1]["status"] != "succeeded":
        seen.append((await comm.receive_json_from(timeout=5))["run"])
    # Updates still waiting when a newer one came were replaced by it: never out of order.
    done = [r["progress"] for r in seen[:-1]]
    assert done == sorted(done) and len(seen) <= 51
    assert seen[-1]["progress"] == 49.0
    await comm.disconnect()


async def test_a_socket_opened_while_the_publisher_takes_its_group_for_empty_still_gets_the_change(team):
    from designer import live

    flow, run, owner = await make_flow_and_run(team)
    await burst(run, 1)  # nobody listens yet: the publisher takes the flow's group for empty a moment
    assert await database_sync_to_async(lambda: live.publisher().wait_idle(5))()
    comm = communicator(FlowConsumer, f"/ws/flows/{flow.pk}/", owner, flow.pk)
    connected, _ = await comm.connect()
    assert connected
    await finish(run)  # its message is dropped; the socket's look at the database finds the change
    message = await comm.receive_json_from(timeout=5)
    assert message["run"]["id"] == run.pk and message["run"]["status"] == "succeeded"
    await comm.disconnect()
