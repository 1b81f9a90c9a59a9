import gc

import pytest

from config import heap


@pytest.fixture
def collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_freezes_what_start_up_made_and_leaves_later_cycles_collectable(collector):
    class Node:
        pass

    kept = Node()
    kept.itself = kept  # a cycle made at start-up and still referenced

    frozen = heap.settle()

    assert frozen > 1000  # the modules, Django's apps, this test's objects
    # A frozen object still goes when its last reference does (another thread's, say), so the
    # count can only have fallen since.
    assert frozen - 100 < gc.get_freeze_count() <= frozen
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    assert not any(obj is kept for obj in gc.get_objects())  # out of the collector's scans

    later = Node()
    later.itself = later
    gc.collect()
    assert any(obj is later for obj in gc.get_objects())  # alive: tracked
    del later
    assert gc.collect() >= 1  # the new cycle is collected as before
