"""Pushes run and activation changes to the editor and the runs pages over channels."""

from __future__ import annotations

import logging
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


def _send(groups: list[str], message: Callable[[], dict]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = _reachable(layer, groups)
    if not groups:
        return
    try:
        async_to_sync(_group_send)(layer, groups, message())
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
