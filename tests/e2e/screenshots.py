"""Screenshots for the docs, taken at the end of a few journeys when QFLOWS_SCREENSHOTS names a
folder (scripts/screenshots.py sets it to docs/). Without it nothing is written."""

from __future__ import annotations

import os
from pathlib import Path

FOLDER = os.environ.get("QFLOWS_SCREENSHOTS")
WIDE, PHONE = {"width": 1400, "height": 900}, {"width": 390, "height": 844}


def wanted() -> bool:
    return bool(FOLDER)


def shoot(page, name: str, sizes=(WIDE, PHONE), full_page: bool = True) -> None:
    """`<name>-<width>.png` in the folder for each size, the page as it is now."""
    if not FOLDER:
        return
    for size in sizes:
        page.set_viewport_size(size)
        page.mouse.move(0, 0)
        page.screenshot(path=str(Path(FOLDER) / f"{name}-{size['width']}.png"), full_page=full_page)
