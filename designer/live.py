"""Pushes run and activation changes to the editor and the runs pages over channels."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
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
# thread, so the layer keeps its connections between messages (async_to_sync would start a new
# loop, and so a new Redis connection, for every message). The caller does not wait for Redis:
# a run's thread hands its message over and goes on. Messages leave in the order they were
# given; while the loop is behind, a newer message about the same run or activation replaces the
# one still waiting (each is the whole current state, so only the newest is worth sending).
#
# Nobody watches most runs: a group found without members is taken as empty for
# LISTENERS_CACHE_SECONDS, and its messages are dropped meanwhile (a page that joins in that
# time catches up from the database once that time has passed, `designer/consumers.py`). A
# message whose groups are all taken as empty is dropped by the run's thread before it is built.
MAX_WAITING = 10_000
PUBLISH_TIMEOUT_SECONDS = 5.0
LISTENERS_CACHE_SECONDS = 1.0
MAX_EMPTY_GROUPS = 10_000


class _Publisher:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.lock = threading.Lock()
        self.waiting: dict[object, tuple[object, list[str], dict]] = {}
        self.draining = False
        self.idle = threading.Event()
        self.idle.set()
        self.empty_until: dict[str, float] = {}  # group -> when to look again (the loop's thread only)
        threading.Thread(target=self.loop.run_forever, name="live-publisher", daemon=True).start()

    def unheard(self, key: object, groups: list[str]) -> bool:
        """Whether every group is taken as empty now, so that a message to them would be dropped;
        then a message about the same thing still waiting is dropped too (a newer one would have
        replaced it). Called from any thread: `empty_until` is only read here."""
        now = time.monotonic()
        empty_until = self.empty_until
        if not all(empty_until.get(group, 0.0) > now for group in groups):
            return False
        if self.waiting:
            with self.lock:
                self.waiting.pop(key, None)
        return True

    def put(self, key: object, layer, groups: list[str], message: dict) -> None:
        with self.lock:
            if key not in self.waiting and len(self.waiting) >= MAX_WAITING:
                logger.warning("Live updates are not keeping up; one was dropped")
                return
            self.waiting[key] = (layer, groups, message)
            self.idle.clear()
            if self.draining:
                return
            self.draining = True
        self.loop.call_soon_threadsafe(self.loop.create_task, self._drain())

    async def _drain(self) -> None:
        while True:
            with self.lock:
                batch, self.waiting = self.waiting, {}
                if not batch:
                    self.draining = False
                    self.idle.set()
                    return
            for layer, groups, message in batch.values():
                try:
                    await asyncio.wait_for(self._publish(layer, groups, message), PUBLISH_TIMEOUT_SECONDS)
                except Exception:  # live updates must never break anything
                    logger.warning("Could not publish a live update", exc_info=True)

    async def _publish(self, layer, groups: list[str], message: dict) -> None:
        for group in groups:
            if await self._listened(layer, group):
                await layer.group_send(group, message)

    async def _listened(self, layer, group: str) -> bool:
        """Whether the group may have members: one look at its member set (channels_redis keeps
        one per group) a second, instead of group_send's two round trips for every message."""
        now = time.monotonic()
        if self.empty_until.get(group, 0.0) > now:
            return False
        try:
            members = await layer.connection(layer.consistent_hash(group)).zcard(layer._group_key(group))
        except AttributeError:  # a layer that keeps its groups otherwise: always send
            return True
        if members:
            self.empty_until.pop(group, None)
            return True
        if len(self.empty_until) > MAX_EMPTY_GROUPS:  # forget the groups looked at long ago
            self.empty_until = {g: t for g, t in self.empty_until.items() if t > now}
        self.empty_until[group] = now + LISTENERS_CACHE_SECONDS
        return False

    def wait_idle(self, timeout: float) -> bool:
        """Whether every message handed over so far has been sent (or failed) within `timeout`."""
        return self.idle.wait(timeout)


_publisher_lock = threading.Lock()
_publisher: _Publisher | None = None


def publisher() -> _Publisher:
    global _publisher
    if _publisher is None or _publisher.pid != os.getpid():  # a forked worker (Celery prefork) starts its own
        with _publisher_lock:
            if _publisher is None or _publisher.pid != os.getpid():
                _publisher = _Publisher()
    return _publisher


def _send(groups: list[str], message: Callable[[], dict], key: object = None) -> None:
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
            key = key if key is not None else object()
            sender = publisher()
            if not sender.unheard(key, groups):
                sender.put(key, layer, groups, message())
    except Exception:  # live updates must never break a run
        logger.warning("Could not publish a live update", exc_info=True)


def publish_run(run) -> None:
    from designer.serializers import run_json

    _send([flow_group(run.flow_id), team_group(run.team_id)],
          lambda: {"type": "live.event", "event": {"type": "run.updated", "run": run_json(run)}},
          key=("run", run.pk))


def publish_activation(activation) -> None:
    from designer.serializers import activation_json

    _send([flow_group(activation.flow_id)],
          lambda: {"type": "live.event", "event": {"type": "activation.updated", "activation": activation_json(activation)}},
          key=("activation", activation.pk))
