"""Live-update websockets through the whole ASGI application (config.asgi): who may open one,
from which page origin, and that a member removed from the team stops receiving its runs."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import Membership, Role
from designer import services
from designer.models import Run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@database_sync_to_async
def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@database_sync_to_async
def make_run(team):
    membership = team.memberships.get(role=Role.OWNER)
    flow = services.flow_create(
        membership=membership,
        name="Live",
        definition={"event": None, "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "x"}}]},
    )
    return Run.objects.create(flow=flow, team=team, version=flow.versions.first())


@database_sync_to_async
def touch_and_publish(run_id: int) -> None:
    from designer.live import publish_run

    run = Run.objects.select_related("flow", "version", "delivery").get(pk=run_id)
    run.status = "succeeded"
    run.save()
    publish_run(run)


async def open_socket(path: str, *, session: str, origin: bytes, host: bytes = b"testserver"):
    from config.asgi import application

    headers = [(b"origin", origin), (b"host", host), (b"cookie", f"sessionid={session}".encode())]
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def outputs_for(communicator, seconds: float) -> list[dict]:
    """What the application sent within `seconds` (receive_output's own timeout would cancel it)."""
    await asyncio.sleep(seconds)
    found = []
    while not communicator.output_queue.empty():
        found.append(communicator.output_queue.get_nowait())
    return found


@pytest.mark.parametrize(
    ("origin", "host", "opens"),
    [
        (b"http://testserver", b"testserver", True),
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"http://testserver:8666", b"testserver", False),  # another port: another site
        (b"http://127.0.0.1:9999", b"127.0.0.1:8000", False),
        (b"https://testserver", b"testserver", False),  # another scheme
        (b"http://127.0.0.1", b"127.0.0.1:8000", False),
        (b"http://evil.example", b"testserver", False),
    ],
)
async def test_a_websocket_opens_only_from_a_page_of_the_same_scheme_host_and_port(team, origin, host, opens):
    owner = await database_sync_to_async(lambda: team.memberships.get(role=Role.OWNER).user)()
    communicator, connected, _ = await open_socket("/ws/runs/", session=await session_of(owner), origin=origin, host=host)
    assert connected is opens
    if connected:
        await communicator.disconnect()


async def test_the_public_base_url_is_an_allowed_origin_behind_a_proxy(team, settings):
    settings.PUBLIC_BASE_URL = "https://flows.example.com"
    settings.ALLOWED_HOSTS = ["flows.example.com"]
    owner = await database_sync_to_async(lambda: team.memberships.get(role=Role.OWNER).user)()
    session = await session_of(owner)
    # The proxy speaks plain HTTP to the server; the browser's page was https://flows.example.com.
    good, connected, _ = await open_socket("/ws/runs/", session=session, origin=b"https://flows.example.com",
                                           host=b"flows.example.com")
    assert connected
    await good.disconnect()
    _, connected, _ = await open_socket("/ws/runs/", session=session, origin=b"https://flows.example.com:8443",
                                        host=b"flows.example.com")
    assert not connected


@pytest.mark.parametrize("path", ["runs", "flow"])
async def test_a_member_removed_from_the_team_stops_receiving_its_runs_on_an_open_socket(team, member, path):
    editor = await database_sync_to_async(member)(Role.EDITOR)
    run = await make_run(team)
    url = "/ws/runs/" if path == "runs" else f"/ws/flows/{run.flow_id}/"
    communicator, connected, code = await open_socket(url, session=await session_of(editor), origin=b"http://testserver")
    assert connected, code

    await touch_and_publish(run.pk)
    before = await outputs_for(communicator, 2.5)
    assert any(o["type"] == "websocket.send" and f'"id": {run.pk}' in o["text"] for o in before), before

    await database_sync_to_async(Membership.objects.filter(team=team, user=editor).delete)()
    await touch_and_publish(run.pk)
    after = await outputs_for(communicator, 2.5)
    assert not [o for o in after if o["type"] == "websocket.send"], after
    assert after and after[-1]["type"] == "websocket.close", "the socket of a removed member is closed"
    await communicator.disconnect()
