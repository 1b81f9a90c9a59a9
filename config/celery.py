"""Celery app for the scale-out path (REDIS_URL set); tasks are Django tasks."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("qflows")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1
# Threads: a run mostly waits on Qualtrics and the database, and one process with a thread per
# concurrent run needs a third of the memory of prefork's master and children (bench/README.md).
app.conf.worker_pool = "threads"


@app.on_after_finalize.connect
def _import_tasks(sender, **kwargs):  # noqa: ANN001
    # Importing the modules registers their Django tasks with this app.
    import designer.tasks  # noqa: F401


@worker_ready.connect
def _start_scheduler(sender, **kwargs):  # noqa: ANN001
    # The worker's main process runs the scheduler's duties (polls, reconciliations, stalled runs)
    # in a thread, so the scale-out path has no separate scheduler process either.
    from django.conf import settings

    if settings.SCHEDULER_IN_WORKERS:
        from designer import scheduler

        scheduler.start_in_background(scheduler.interval_seconds())
