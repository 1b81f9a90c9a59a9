"""Django's SQLite backend, with a shorter wait for the write lock at the start of a transaction.

Transactions begin IMMEDIATE (config/settings.py), so a writer waits for SQLite's single write
lock at BEGIN. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, … ms between tries, and
a lock held for a fraction of a millisecond (a worker's turn, the webhook inbox's batch) is then
waited for a whole millisecond or more while the core idles. Here BEGIN tries without SQLite's
handler and tries again after POLL_SECONDS, doubling up to POLL_MAX_SECONDS, until the
connection's timeout; every other statement keeps SQLite's handler.
"""

from __future__ import annotations

import sqlite3
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

POLL_SECONDS = 0.00002
POLL_MAX_SECONDS = 0.0005


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self):
        if self.transaction_mode != "IMMEDIATE":
            return super()._start_transaction_under_autocommit()
        cursor = self.cursor()  # BEGIN goes through Django's cursor, seen by execute wrappers as before
        raw = self.connection
        timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute("PRAGMA busy_timeout=0")
        try:
            deadline = time.monotonic() + timeout_ms / 1000
            pause = POLL_SECONDS
            while True:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    return
                except OperationalError as exc:
                    busy = getattr(exc.__cause__, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
                    if not busy or time.monotonic() + pause > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, POLL_MAX_SECONDS)
        finally:
            raw.execute(f"PRAGMA busy_timeout={timeout_ms}")
