"""Django tasks: run by the django-tasks-db worker, or by Celery workers when REDIS_URL is set."""

from __future__ import annotations

from django.tasks import task


@task()
def execute_run(run_id: int) -> str | None:
    from designer.engine import run_execute

    return run_execute(run_id)


@task()
def poll_activation(activation_id: int) -> int:
    from designer.polling import activation_poll

    return activation_poll(activation_id)
