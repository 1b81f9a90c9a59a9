"""Pacing the webhook intake's answers to the pace at which the workers run.

The intake stores a delivery in a few tenths of a millisecond; a run takes the workers a few
milliseconds. A sender that posts as fast as it is answered (a survey platform sending
responses as they come, a retrying sender its backlog) would otherwise build a queue of runs
that outlives its burst by minutes, and every other flow's runs would wait behind it.

Once more runs wait for a worker than `WEBHOOK_PACE_FROM_RUNS`, the intake's inbox
(designer/webhooks.py) gathers each batch of deliveries a little longer before it stores and
answers them: the first delivery of a batch is answered up to a hold after it arrived, the
hold longer as the queue grows, up to `WEBHOOK_PACE_MAX_HOLD_MS` at `WEBHOOK_PACE_FULL_RUNS` and
beyond. A sender that waits for its answers then sends at about the pace of the workers, the
queue stays near the threshold, and the deliveries gathered meanwhile are stored in one commit.

Nothing is refused and nothing is lost: every delivery is answered once it is stored, as
without pacing; the hold is short beside any sender's timeout, and a sender that gave up and
sent again is answered "Already received.". Where the queue cannot be counted, nothing is held.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import DatabaseError, connection

from designer.models import Run, RunStatus

logger = logging.getLogger(__name__)


class Pacer:
    """The hold of the inbox's next batch; used by the inbox's one thread.

    The queue is counted at most every `every` seconds (and never past the point where the hold
    is full, so a long queue costs no more to count than a short one)."""

    def __init__(self, *, start: int | None = None, full: int | None = None, max_hold: float | None = None,
                 every: float = 0.05) -> None:
        self.start = settings.WEBHOOK_PACE_FROM_RUNS if start is None else start
        self.full = max(self.start + 1, settings.WEBHOOK_PACE_FULL_RUNS if full is None else full)
        self.max_hold = settings.WEBHOOK_PACE_MAX_HOLD_MS / 1000 if max_hold is None else max_hold
        self.every = every
        self._counted_at = float("-inf")
        self._queued = 0
        self._failing = False  # the last count failed (logged once until a count works again)

    def hold(self) -> float:
        """Seconds from a batch's first delivery's arrival to its answer, as the queue stands now."""
        if self.max_hold <= 0:
            return 0.0
        now = time.monotonic()
        if now - self._counted_at >= self.every:
            self._counted_at = now
            try:
                self._queued, self._failing = self.queued(), False
            except DatabaseError as exc:
                if not self._failing:
                    logger.warning("The queue of runs could not be counted; answers are not held: %s", exc)
                connection.close()
                self._queued, self._failing = 0, True
        if self._queued <= self.start:
            return 0.0
        return self.max_hold * min(1.0, (self._queued - self.start) / (self.full - self.start))

    def queued(self) -> int:
        """Runs waiting for a worker, counted up to `full`."""
        return Run.objects.filter(status=RunStatus.QUEUED).order_by().values("pk")[:self.full].count()
