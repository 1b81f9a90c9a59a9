"""Django's SQLite backend, with a shorter wait for the write lock at the start of a transaction.

Transactions begin IMMEDIATE (config/settings.py), so a writer waits for SQLite's single write
lock at BEGIN. SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, … ms between tries, and
a lock held for a fraction of a millisecond (a worker's turn, the webhook inbox's batch) is then
waited for a whole millisecond or more while the core idles. Here BEGIN tries without SQLite's
handler and tries again after POLL_SECONDS, doubling up to POLL_MAX_SECONDS, until the
connection's timeout; every other statement keeps SQLite's handler. The first try goes through
Django's cursor (execute wrappers see one BEGIN per transaction), the tries after it straight to
the driver.

A statement's conversion from Django's placeholders to SQLite's (a regular expression over its
text, for every execution) is kept by text: the hot paths send the same few statements again and
again.
"""

from __future__ import annotations

import sqlite3
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

POLL_SECONDS = 0.00002
POLL_MAX_SECONDS = 0.0005


CONVERTED_MAX = 1024  # statements kept converted per process; all are dropped when full

_converted: dict[str, str] = {}


class SQLiteCursor(base.SQLiteCursorWrapper):
    def convert_query(self, query, *, param_names=None):
        if param_names is not None:  # "pyformat" style: the names vary with the parameters
            return super().convert_query(query, param_names=param_names)
        converted = _converted.get(query)
        if converted is None:
            converted = super().convert_query(query)
            if len(_converted) >= CONVERTED_MAX:
                _converted.clear()
            _converted[query] = converted
        return converted


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursor)

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode != "IMMEDIATE":
            return super()._start_transaction_under_autocommit()
        cursor = self.cursor()
        raw = self.connection
        timeout_ms = raw.execute("PRAGMA busy_timeout").fetchone()[0]  # as set now: a connection may change it
        raw.execute("PRAGMA busy_timeout=0")
        try:
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if getattr(exc.__cause__, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                    raise
            deadline = time.monotonic() + timeout_ms / 1000
            pause = POLL_SECONDS
            while time.monotonic() + pause <= deadline:
                time.sleep(pause)
                pause = min(pause * 2, POLL_MAX_SECONDS)
                try:
                    raw.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                        break  # said as Django says it, below
            cursor.execute("BEGIN IMMEDIATE")  # the last try, whose error is Django's
        finally:
            raw.execute(f"PRAGMA busy_timeout={timeout_ms}")
