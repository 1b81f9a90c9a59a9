"""Websockets for live run and activation status.

Group messages arrive through the channel layer. With the in-memory layer the worker runs in
another process and cannot reach it, so the consumer also looks for changed runs itself once a
second. With Redis it looks once, soon after it joins: a publisher that found its groups empty
just before drops their messages for a moment (`designer/live.py`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from designer.live import LISTENERS_CACHE_SECONDS, flow_group, team_group

POLL_SECONDS = 1.0
# A row's updated_at is taken before its write commits, so a look-up can run in between and miss
# it; each look-up goes back this far and skips what it already pushed.
POLL_OVERLAP = timedelta(seconds=5)


class _LiveConsumer(AsyncWebsocketConsumer):
    groups_to_join: list[str]

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.team_id = await self._team_id(user)
        if self.team_id is None or not await self.authorize():
            await self.close(code=4403)
            return
        for group in self.groups_to_join:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.since = timezone.now()
        self.pushed = {}
        if not getattr(settings, "REDIS_URL", ""):
            self.poller = asyncio.create_task(self._poll())
        else:
            self.poller = asyncio.create_task(self._catch_up())

    async def disconnect(self, code):
        for group in getattr(self, "groups_to_join", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "poller", None):
            self.poller.cancel()

    async def live_event(self, message):
        if await self._still_allowed():
            await self.send(text_data=json.dumps(message["event"]))

    async def _poll(self):
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._push_changes()

    async def _catch_up(self):
        """Once, when the publisher no longer takes this socket's groups for empty."""
        await asyncio.sleep(LISTENERS_CACHE_SECONDS + 0.5)
        await self._push_changes()

    async def _push_changes(self):
        events, self.since = await self._changes(self.since)
        if events and await self._still_allowed():
            for event in events:
                await self.send(text_data=json.dumps(event))

    async def _still_allowed(self) -> bool:
        """Whether the user is still a member of the team (and, for a flow, the flow still in it):
        a member removed while the page is open must stop receiving the team's runs at once, so
        this is asked of the database before each relay, and the socket is closed when not."""
        if await self._member_now():
            return True
        if not getattr(self, "closing", False):
            self.closing = True
            await self.close(code=4403)
        return False

    @database_sync_to_async
    def _member_now(self) -> bool:
        from accounts.models import Membership

        return Membership.objects.filter(user_id=self.scope["user"].pk, team_id=self.team_id).exists() and (
            self.still_authorized()
        )

    def still_authorized(self) -> bool:
        return True

    @database_sync_to_async
    def _team_id(self, user):
        from accounts.selectors import membership_current

        session = self.scope.get("session")
        team_id = session.get("team_id") if session else None
        membership = membership_current(user=user, team_id=team_id)
        return membership.team_id if membership else None

    @database_sync_to_async
    def _changes(self, since):
        from designer.models import Run
        from designer.serializers import activation_json, run_json

        now = timezone.now()
        since -= POLL_OVERLAP
        self.pushed = {key: at for key, at in self.pushed.items() if at > since}
        runs = Run.objects.filter(updated_at__gt=since, **self.run_filter()).select_related("flow", "version", "delivery")
        events = [{"type": "run.updated", "run": run_json(r)} for r in runs.order_by("updated_at")[:100] if self._new(r)]
        activation = self.activation_changed(since)
        if activation is not None and self._new(activation):
            events.append({"type": "activation.updated", "activation": activation_json(activation)})
        return events, now

    def _new(self, item) -> bool:
        key = (type(item).__name__, item.pk)
        if self.pushed.get(key) == item.updated_at:
            return False
        self.pushed[key] = item.updated_at
        return True

    def activation_changed(self, since):
        return None


class FlowConsumer(_LiveConsumer):
    async def authorize(self) -> bool:
        self.flow_id = int(self.scope["url_route"]["kwargs"]["flow_id"])
        self.groups_to_join = [flow_group(self.flow_id)]
        return await self._owns_flow()

    @database_sync_to_async
    def _owns_flow(self) -> bool:
        from designer.models import Flow

        return Flow.objects.filter(pk=self.flow_id, team_id=self.team_id).exists()

    def run_filter(self):
        return {"flow_id": self.flow_id}

    def still_authorized(self) -> bool:
        from designer.models import Flow

        return Flow.objects.filter(pk=self.flow_id, team_id=self.team_id).exists()

    def activation_changed(self, since):
        from designer.models import Activation

        return Activation.objects.filter(flow_id=self.flow_id, updated_at__gt=since).select_related("flow", "version").first()


class RunsConsumer(_LiveConsumer):
    async def authorize(self) -> bool:
        self.groups_to_join = [team_group(self.team_id)]
        return True

    def run_filter(self):
        return {"team_id": self.team_id}
