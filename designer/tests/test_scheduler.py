"""The scheduler's round, which task workers run in a thread: due polls are enqueued once."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from designer import scheduler
from designer.activation import flow_activate
from designer.models import ActivationStatus

pytestmark = pytest.mark.django_db


def polls_enqueued() -> int:
    return DBTaskResult.objects.filter(task_path__endswith="poll_activation").count()


def test_a_due_poll_is_enqueued_once_then_not_before_the_interval(settings, flow):
    settings.PUBLIC_BASE_URL = ""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    activation = flow_activate(flow=flow)
    assert activation.status == ActivationStatus.ACTIVE_POLLING

    assert scheduler.tick() == 1
    assert scheduler.tick() == 0  # the next round (of this or another worker): not due yet
    assert polls_enqueued() == 1
    activation.refresh_from_db()
    assert activation.next_poll_at > timezone.now()


def test_a_poll_falls_due_again_after_the_interval(settings, flow):
    settings.PUBLIC_BASE_URL = ""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    activation = flow_activate(flow=flow)
    settings.POLL_INTERVAL_SECONDS = 0
    assert scheduler.tick() == 1
    assert scheduler.tick() == 1
    assert polls_enqueued() == 2
    activation.refresh_from_db()
    assert activation.status == ActivationStatus.ACTIVE_POLLING
