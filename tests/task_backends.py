"""Task backends that stand in for a broken task queue in tests (a broker that cannot be reached)."""

from __future__ import annotations

from django.tasks.backends.dummy import DummyBackend


class UnreachableQueue(DummyBackend):
    """Every enqueue fails, as Celery's does when Redis refuses the connection."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
