"""config/sqlite: a transaction's BEGIN IMMEDIATE waits for SQLite's write lock by polling
instead of through SQLite's busy handler, and leaves the handler as it was for every other
statement. Another connection (a second process would do the same) holds the lock."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from designer.models import Flow

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded database only")


def busy_timeout() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


def hold_write_lock(seconds: float) -> tuple[threading.Thread, threading.Event]:
    """Another connection takes the write lock, holds it `seconds`, then commits."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            taken.set()
            threading.Event().wait(seconds)
            other.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(5)
    return thread, taken


def test_a_transaction_waits_for_the_write_lock_and_begins_once_it_is_free(transactional_db, team):
    original = busy_timeout()
    assert type(connections["default"]).__module__ == "config.sqlite.base"
    thread, _ = hold_write_lock(0.5)
    with transaction.atomic():
        Flow.objects.create(team=team, name="Written after the lock was given up")
    thread.join()
    assert Flow.objects.filter(name="Written after the lock was given up").exists()
    assert busy_timeout() == original  # SQLite's handler again for statements outside transactions


def test_a_lock_held_past_the_timeout_is_the_usual_database_error(transactional_db, team):
    original = busy_timeout()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout=300")
    try:
        thread, _ = hold_write_lock(1.5)
        with pytest.raises(OperationalError, match="database is locked"):
            with transaction.atomic():
                Flow.objects.create(team=team, name="Never written")
        assert busy_timeout() == 300  # put back after the failed tries
        thread.join()
        with transaction.atomic():  # the connection is usable again
            Flow.objects.create(team=team, name="Written later")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout={original}")
    assert list(Flow.objects.filter(name__in=["Never written", "Written later"]).values_list("name", flat=True)) == [
        "Written later"]


def test_a_statement_is_converted_to_sqlite_s_placeholders_once_and_as_django_converts_it(transactional_db):
    from django.db.backends.sqlite3.base import SQLiteCursorWrapper

    from config.sqlite import base

    query = "SELECT %s, '100%%', %s || 'x' WHERE 1 = %s"
    base._converted.pop(query, None)
    with connection.cursor() as cursor:
        cursor.execute(query, [1, "a", 1])
        assert cursor.fetchone() == (1, "100%", "ax")
        assert base._converted[query] == SQLiteCursorWrapper.convert_query(None, query) == "SELECT ?, '100%', ? || 'x' WHERE 1 = ?"
        base._converted[query] = "SELECT ?, 'kept', ? || 'x' WHERE 1 = ?"
        cursor.execute(query, [1, "a", 1])  # the kept conversion is what runs
        assert cursor.fetchone() == (1, "kept", "ax")
        cursor.execute("SELECT %(a)s, %(b)s", {"a": 1, "b": 2})  # named parameters: converted each time
        assert cursor.fetchone() == (1, 2)
    assert "SELECT %(a)s, %(b)s" not in base._converted


def test_the_kept_conversions_are_bounded(transactional_db):
    from config.sqlite import base

    with connection.cursor() as cursor:
        for n in range(base.CONVERTED_MAX + 10):  # statements that vary, as ones with values written in would
            cursor.execute(f"SELECT %s + {n}", [1])
            assert cursor.fetchone() == (1 + n,)
    assert 1 <= len(base._converted) <= base.CONVERTED_MAX
