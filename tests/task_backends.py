"""Task backends that stand in for a broken task queue in tests (a broker that cannot be reached)."""

from __future__ import annotations

from django.tasks.backends.dummy import DummyBackend


class UnreachableQueue(DummyBackend):
    """Every enqueue fails, as Celery's does when Redis refuses the connection."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")


def _unreachable_celery():
    from celery import Celery

    app = Celery("unreachable", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.update(task_publish_retry=False, broker_connection_retry=False, broker_connection_timeout=1)
    return app


# A Celery app whose broker refuses every connection (the `CELERY_APP` of a CeleryBackend).
unreachable_celery = _unreachable_celery()
