#!/usr/bin/env python3
"""Regenerates the docs' screenshots: docs/editor.png (the editor after a sample response was
loaded, its values on the event's output chips, and a step tested on it), and the dashboard and
a run's page at 1,400 and 390 px wide (docs/dashboard-*.png, docs/run-page-*.png). It runs the
browser journeys that take them at their end when QFLOWS_SCREENSHOTS names a folder
(tests/e2e/screenshots.py).

    .venv/bin/python scripts/screenshots.py        (after ./scripts/test has installed Chromium)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOURNEYS = ["tests/e2e/test_step_test_journey.py", "tests/e2e/test_runs_journey.py"]
TARGET = ROOT / "docs" / "editor.png"


def main() -> int:
    env = {**os.environ, "QFLOWS_SCREENSHOTS": str(TARGET.parent), "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}
    before = TARGET.stat().st_mtime if TARGET.exists() else None
    status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "e2e", *JOURNEYS], cwd=ROOT, env=env)
    if status != 0:
        return status
    if not TARGET.exists() or TARGET.stat().st_mtime == before:
        print(f"The journey passed but did not write {TARGET.relative_to(ROOT)}.", file=sys.stderr)
        return 1
    print(f"Wrote the screenshots in {TARGET.parent.relative_to(ROOT)}/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
