"""Pushes run and activation changes to the editor and the runs pages over channels."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)


def flow_group(flow_id: int) -> str:
    return f"flow_{flow_id}"


def team_group(team_id: int) -> str:
    return f"team_{team_id}_runs"


def _reachable(layer, groups: list[str]) -> list[str]:
    """The groups a message can reach. The in-memory layer only reaches consumers of this
    process, so a worker process (where nobody listens) sends nothing; pages served by another
    process see the change through their own database poll."""
    if isinstance(layer, InMemoryChannelLayer):
        return [group for group in groups if layer.groups.get(group)]
    return groups


async def _group_send(layer, groups: list[str], message: dict) -> None:
    for group in groups:
        await layer.group_send(group, message)


# Publishing to a server layer (Redis) from sync code: one event loop per process, in its own
# thread, so the layer keeps its connections between messages. async_to_sync would start a new
# loop, and so a new Redis connection, for every message: half a run's time on a Celery worker.
PUBLISH_TIMEOUT_SECONDS = 5.0
_loop_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _publisher_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    if _loop is None or _loop_pid != os.getpid():  # a forked worker (Celery prefork) starts its own
        with _loop_lock:
            if _loop is None or _loop_pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="live-publisher", daemon=True).start()
                _loop, _loop_pid = loop, os.getpid()
    return _loop


def _send(groups: list[str], message: Callable[[], dict]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = _reachable(layer, groups)
    if not groups:
        return
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # Its consumers live on the server's loop, which async_to_sync uses from its threads.
            async_to_sync(_group_send)(layer, groups, message())
        else:
            future = asyncio.run_coroutine_threadsafe(_group_send(layer, groups, message()), _publisher_loop())
            future.result(PUBLISH_TIMEOUT_SECONDS)
    except Exception:  # live updates must never break a run
        logger.warning("Could not publish a live update", exc_info=True)


def publish_run(run) -> None:
    from designer.serializers import run_json

    _send([flow_group(run.flow_id), team_group(run.team_id)],
          lambda: {"type": "live.event", "event": {"type": "run.updated", "run": run_json(run)}})


def publish_activation(activation) -> None:
    from designer.serializers import activation_json

    _send([flow_group(activation.flow_id)],
          lambda: {"type": "live.event", "event": {"type": "activation.updated", "activation": activation_json(activation)}})
