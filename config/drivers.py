"""Keeps the PostgreSQL driver out of processes whose database is SQLite.

Django REST framework's compatibility module imports `django.contrib.postgres.fields` whenever
psycopg is installed, which loads psycopg and its bundled libpq and OpenSSL: about 20 MB of
resident memory in every process (the server, each worker) that never talks to PostgreSQL. The
scale-out install needs the driver, so it stays in the requirements; a process configured for
SQLite refuses to import it instead, and DRF carries on without its PostgreSQL fields, as it does
where the driver is not installed.
"""

from __future__ import annotations

import importlib.abc
import sys

POSTGRES_DRIVERS = frozenset({"psycopg", "psycopg_binary", "psycopg_c", "psycopg_pool", "psycopg2"})


class PostgresDriverUnavailable(importlib.abc.MetaPathFinder):
    """Refuses the PostgreSQL driver's packages with ModuleNotFoundError."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in POSTGRES_DRIVERS:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: this process uses SQLite, so the PostgreSQL driver is not "
                "loaded (config/drivers.py). Set DATABASE_URL to a PostgreSQL database to use it.",
                name=fullname,
            )
        return None


def skip_postgres_driver() -> None:
    """Install the finder once, unless the driver is already loaded (it is then left usable)."""
    if any(name in sys.modules for name in POSTGRES_DRIVERS):
        return
    if not any(isinstance(finder, PostgresDriverUnavailable) for finder in sys.meta_path):
        sys.meta_path.insert(0, PostgresDriverUnavailable())
