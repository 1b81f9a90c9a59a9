"""Django tasks: run by the django-tasks-db worker, or by Celery workers when REDIS_URL is set."""

from __future__ import annotations

from django.tasks import task


@task()
def execute_run(run_id: int) -> str | None:
    from designer.engine import run_execute

    return run_execute(run_id)


@task()
def execute_runs(run_ids: list[int]) -> None:
    """Several runs' turns in one task, one after the other: how the webhook inbox hands a batch's
    runs to Celery (designer/runs.py `_hand_over_batch`), so that a worker takes one message, and
    makes one task's bookkeeping, for a few runs. Each turn is `execute_run`'s: a run that fails
    does not keep the turns after it from running, and the next turn's claim is sent with the
    finish of the run before (`designer.engine.runs_execute`)."""
    from designer.engine import runs_execute

    runs_execute(run_ids)


@task()
def poll_activation(activation_id: int) -> int:
    from designer.polling import activation_poll

    return activation_poll(activation_id)
