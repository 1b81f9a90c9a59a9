"""The inbox's duplicate check (`deliveries_accept`) looks events up through the partial unique
index that makes them unique, however many deliveries the flow has stored: on SQLite a partial
index is used only when the statement states its condition with the same constant values, not
with bound parameters, and a check that scanned the flow's history held the write lock longer as
the flow aged."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from designer.models import Delivery, DeliverySource
from designer.runs import deliveries_accept

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


def executed_statements(call):
    """Every statement `call` sends to the database, with its parameters as sent."""
    seen = []

    def record(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        result = call()
    return result, seen


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the query plan of SQLite, the embedded default")
def test_the_duplicate_check_searches_the_partial_unique_index(flow, no_tasks):
    version = flow.versions.first()
    Delivery.objects.bulk_create(Delivery(flow=flow, event_id=f"R_old{i}", source=DeliverySource.WEBHOOK)
                                 for i in range(200))
    items = [{"flow": flow, "version": version, "event_id": f"R_{i}", "source": DeliverySource.WEBHOOK}
             for i in range(3)]
    with transaction.atomic():
        runs, statements = executed_statements(lambda: deliveries_accept(items))
    assert all(runs)
    table = Delivery._meta.db_table
    checks = [(sql, params) for sql, params in statements
              if sql.lstrip().upper().startswith("SELECT") and table in sql]
    assert len(checks) == 1, statements
    sql, params = checks[0]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "one_delivery_per_event" in plan, plan
    assert "SCAN" not in plan, plan


def test_the_duplicate_check_still_finds_stored_and_repeated_events(flow, no_tasks):
    version = flow.versions.first()

    def item(event_id, source=DeliverySource.WEBHOOK):
        return {"flow": flow, "version": version, "event_id": event_id, "source": source}

    with transaction.atomic():
        first = deliveries_accept([item("R_1"), item("R_2"), item("R_1")])
    assert [run is not None for run in first] == [True, True, False]
    with transaction.atomic():
        again = deliveries_accept([item("R_1"), item("R_3"), item("R_2", DeliverySource.TEST)])
    # A test delivery is not an event source's: it is stored however often it comes.
    assert [run is not None for run in again] == [False, True, True]
    assert Delivery.objects.filter(flow=flow, event_id="R_1").count() == 1
