"""Pushes run and activation changes to the editor and the runs pages over channels."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def flow_group(flow_id: int) -> str:
    return f"flow_{flow_id}"


def team_group(team_id: int) -> str:
    return f"team_{team_id}_runs"


def _send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # live updates must never break a run
        logger.warning("Could not publish a live update", exc_info=True)


def publish_run(run) -> None:
    from designer.serializers import run_json

    _send([flow_group(run.flow_id), team_group(run.team_id)], {"type": "live.event", "event": {"type": "run.updated", "run": run_json(run)}})


def publish_activation(activation) -> None:
    from designer.serializers import activation_json

    _send([flow_group(activation.flow_id)], {"type": "live.event", "event": {"type": "activation.updated", "activation": activation_json(activation)}})
