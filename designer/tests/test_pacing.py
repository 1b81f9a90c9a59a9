"""The hold on the webhook intake's answers follows the queue of runs waiting for a worker."""

from __future__ import annotations

import pytest

from designer.models import Run, RunStatus
from designer.pacing import Pacer

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db]


def queue_runs(flow, count: int, status: str = RunStatus.QUEUED) -> None:
    version = flow.versions.first()
    Run.objects.bulk_create(Run(flow=flow, team_id=flow.team_id, version=version, status=status) for _ in range(count))


def test_no_hold_up_to_the_threshold_then_longer_as_the_queue_grows(flow):
    pacer = Pacer(start=4, full=12, max_hold=0.2, every=0)
    assert pacer.hold() == 0.0
    queue_runs(flow, 4)
    assert pacer.hold() == 0.0
    queue_runs(flow, 4)
    assert pacer.hold() == pytest.approx(0.1)
    queue_runs(flow, 4)
    assert pacer.hold() == pytest.approx(0.2)
    queue_runs(flow, 40)
    assert pacer.hold() == pytest.approx(0.2)  # never longer than the longest hold


def test_only_runs_waiting_for_a_worker_count(flow):
    pacer = Pacer(start=0, full=10, max_hold=1.0, every=0)
    for status in (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ATTENTION):
        queue_runs(flow, 5, status)
    assert pacer.hold() == 0.0
    queue_runs(flow, 5)
    assert pacer.hold() == pytest.approx(0.5)


def test_the_queue_is_counted_at_most_every_interval_and_never_past_the_full_count(flow, django_assert_num_queries):
    pacer = Pacer(start=1, full=3, max_hold=0.3, every=3600)
    queue_runs(flow, 50)
    with django_assert_num_queries(1) as captured:
        assert pacer.hold() == pytest.approx(0.3)
        assert pacer.hold() == pytest.approx(0.3)
    sql = captured.captured_queries[0]["sql"]
    assert "LIMIT 3" in sql and "ORDER BY" not in sql  # counted from the status index alone
    Run.objects.all().delete()
    assert pacer.hold() == pytest.approx(0.3)  # the count of an hour ago still stands


def test_a_longest_hold_of_zero_never_counts(flow, django_assert_num_queries, settings):
    settings.WEBHOOK_PACE_MAX_HOLD_MS = 0
    queue_runs(flow, 5)
    pacer = Pacer(start=0, full=1)
    with django_assert_num_queries(0):
        assert pacer.hold() == 0.0


def test_the_settings_give_the_defaults(settings):
    settings.WEBHOOK_PACE_FROM_RUNS, settings.WEBHOOK_PACE_FULL_RUNS, settings.WEBHOOK_PACE_MAX_HOLD_MS = 7, 3, 250
    pacer = Pacer()
    assert (pacer.start, pacer.full, pacer.max_hold) == (7, 8, 0.25)  # a full count below the start is one past it
