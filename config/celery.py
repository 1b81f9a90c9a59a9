"""Celery app for the scale-out path (REDIS_URL set); tasks are Django tasks."""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup
from celery.signals import worker_process_init, worker_ready
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class _KeptConnections(DjangoWorkerFixup):
    """Celery's Django fix-up, except around a task: there it closes every database connection
    (before and after each task), so a worker opened a PostgreSQL connection per run. A task is
    treated as Django treats a request instead: a connection is closed only when it is unusable
    or older than CONN_MAX_AGE, and checked before its first use in the next task
    (CONN_HEALTH_CHECKS). Connections inherited by forked pool children are still closed."""

    def on_task_prerun(self, sender, **kwargs):  # noqa: ANN001
        if not getattr(sender.request, "is_eager", False):
            close_old_connections()

    def on_task_postrun(self, sender, **kwargs):  # noqa: ANN001
        if not getattr(sender.request, "is_eager", False):
            close_old_connections()
            self.close_cache()


class _DjangoFixup(DjangoFixup):
    """Celery's Django fix-up (django.setup(), the task class) with the worker part above."""

    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = _KeptConnections(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def _django_fixup(app):  # noqa: ANN001
    return _DjangoFixup(app).install()


def _celery_settings() -> dict:
    """The CELERY_* Django settings under Celery's names, read once. Read through the namespace
    instead, each of the seven settings Celery consults per message sent went through Django's
    lazy settings under two names before its own defaults: a third of handing a run over."""
    from django.conf import settings

    return {name.removeprefix("CELERY_").lower(): getattr(settings, name)
            for name in dir(settings) if name.startswith("CELERY_")}


app = Celery("qflows", fixups=[_django_fixup])
app.config_from_object(_celery_settings())
app.conf.task_acks_late = True
app.conf.task_reject_on_worker_lost = True
app.conf.worker_prefetch_multiplier = 1
# No acknowledgement emulation on Redis: with it, kombu stored every message it handed to a
# worker in a Redis hash and removed it when acknowledged, two round trips per task in the
# worker's one event loop, to hand a task lost with its worker to another one after
# `visibility_timeout` (an hour). A run's state is in the database, and the scheduler already
# hands over within a minute a queued run that the queue has no task for, and a run whose lease
# expired (designer/runs.py `runs_requeue_stalled`). A worker that stops cleanly still puts back
# the tasks it had taken but not started.
app.conf.broker_transport_options = {**app.conf.broker_transport_options, "ack_emulation": False}
# Threads: a run mostly waits on Qualtrics and the database, and one process with a thread per
# concurrent run needs a third of the memory of prefork's master and children (bench/README.md).
# Eight of them, whatever the cores: with one per core a worker spent most of its time waiting,
# and eight did 42 → 58 runs/s at c=50 on two cores (sixteen did no more).
app.conf.worker_pool = "threads"
app.conf.worker_concurrency = 8


@app.on_after_finalize.connect
def _import_tasks(sender, **kwargs):  # noqa: ANN001
    # Importing the modules registers their Django tasks with this app.
    import designer.tasks  # noqa: F401


@worker_ready.connect
def _quiet_task_lines(sender, **kwargs):  # noqa: ANN001
    """django.tasks logs every task's start and success at INFO. Celery logs its own lines for
    them at INFO and DEBUG; the two more per run, under a handler lock that the pool's threads
    take in turn, cost a busy worker about 2 % of its time. They are kept at `--loglevel DEBUG`;
    failures are logged at every level. (Django's LOGGING, applied after Celery's own logging
    set-up, is what let them through at `--loglevel WARNING`.)"""
    if int(os.environ.get("CELERY_LOG_LEVEL") or logging.WARNING) > logging.DEBUG:
        logging.getLogger("django.tasks").setLevel(logging.WARNING)


@worker_ready.connect
@worker_process_init.connect
def _settle_heap(sender=None, **kwargs):  # noqa: ANN001
    # The main process (where a thread pool runs the tasks) and each child of a prefork pool.
    from config import heap

    heap.settle()


@worker_ready.connect
def _start_scheduler(sender, **kwargs):  # noqa: ANN001
    # The worker's main process runs the scheduler's duties (polls, reconciliations, stalled runs)
    # in a thread, so the scale-out path has no separate scheduler process either.
    from django.conf import settings

    if settings.SCHEDULER_IN_WORKERS:
        from designer import scheduler

        scheduler.start_in_background(scheduler.interval_seconds())
