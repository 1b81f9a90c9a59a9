"""The long-running processes' start-up objects kept out of the cyclic garbage collector's scans.

A started process holds tens of thousands of objects that live as long as it does (about 80,000
in the server): modules, Django's apps and models, settings, the card catalog. Python's collector
walks all of them at every full collection, and a busy process allocates fast enough to run one
every few seconds; in the server each such pause also delays the answers waiting on its event loop.
`settle()` collects once, then freezes what is left (`gc.freeze`): those objects
are never scanned again, while everything made afterwards (requests, runs) is collected as
before. The youngest generation is collected every 10,000 new container objects instead of
Python's 700: a request or a run makes thousands, most of which reference counting frees before
a collection comes, so fewer collections walk fewer survivors.

Called by `python -m config.server` before it serves, `manage.py worker` before its first task,
and a Celery worker when it is ready (in each child of a prefork pool).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> int:
    """Collects, then freezes every object tracked so far; answers how many are frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return gc.get_freeze_count()
