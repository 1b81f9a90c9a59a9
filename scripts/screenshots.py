#!/usr/bin/env python3
"""Regenerates the README's screenshot, docs/editor.png: the editor after a sample response was
loaded (its values on the event's output chips) and a step was tested on it. It runs the browser
journey tests/e2e/test_step_test_journey.py, which takes the screenshot at its end when
QFLOWS_EDITOR_SCREENSHOT names a file.

    .venv/bin/python scripts/screenshots.py        (after ./scripts/test has installed Chromium)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOURNEY = "tests/e2e/test_step_test_journey.py"
TARGET = ROOT / "docs" / "editor.png"


def main() -> int:
    env = {**os.environ, "QFLOWS_EDITOR_SCREENSHOT": str(TARGET), "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}
    before = TARGET.stat().st_mtime if TARGET.exists() else None
    status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "e2e", JOURNEY], cwd=ROOT, env=env)
    if status != 0:
        return status
    if not TARGET.exists() or TARGET.stat().st_mtime == before:
        print(f"The journey passed but did not write {TARGET.relative_to(ROOT)}.", file=sys.stderr)
        return 1
    print(f"Wrote {TARGET.relative_to(ROOT)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
