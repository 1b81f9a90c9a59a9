"""The periodic duties: enqueue due polls and reconciliations, re-enqueue stalled runs, and
enqueue waiting runs whose time has come.

They run in a thread of each task worker (`manage.py worker`, or a Celery worker), so a set-up
has no separate scheduler process to start, watch and pay memory for; `manage.py scheduler`
runs them alone where that is wanted. Several workers may tick at once: a poll is enqueued only
by the one whose conditional update claims it, and a run enqueued twice is claimed once.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

def tick() -> int:
    """One round of the duties; returns how many polls it enqueued."""
    from alerts.services import alerts_send_due
    from designer.polling import activations_claim_due
    from designer.runs import runs_requeue_stalled, runs_resume_waiting
    from designer.tasks import poll_activation

    claimed = activations_claim_due()
    for activation_id in claimed:
        poll_activation.enqueue(activation_id)
    runs_requeue_stalled()
    alerts_send_due()  # failure alerts (alerts/services.py); never raises
    runs_resume_waiting()
    return len(claimed)


def interval_seconds() -> float:
    return float(settings.SCHEDULER_INTERVAL_SECONDS)


def run_forever(interval: float, stop: threading.Event | None = None) -> None:
    """Ticks every `interval` seconds until `stop` is set; a failed tick is logged, not fatal."""
    stop = stop or threading.Event()
    while not stop.is_set():
        close_old_connections()
        try:
            tick()
        except Exception:
            logger.exception("Scheduler tick failed")
        stop.wait(interval)
    close_old_connections()


def start_in_background(interval: float) -> threading.Event:
    """Starts the duties in a daemon thread of this process; set the returned event to stop them."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(interval, stop), name="scheduler", daemon=True).start()
    logger.info("Scheduler running in this process every %g s", interval)
    return stop
