"""A run's row is written into every index of the run table when it is created, and into those
holding its status or updated_at each time they change: the table keeps no index that another
repeats, and indexes the columns most runs leave empty only where they are filled — while the
queries that look those columns up still find them through an index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from designer.models import Run, RunStep

pytestmark = pytest.mark.django_db


def indexes(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {name: info["columns"] for name, info in found.items()
            if info["index"] and not info["primary_key"] and not info["unique"]}


@pytest.mark.parametrize("model", [Run, RunStep])
def test_no_index_repeats_the_start_of_another(model):
    found = indexes(model._meta.db_table)
    for name, columns in found.items():
        longer = [other for other, more in found.items() if other != name and more[:len(columns)] == columns
                  and len(more) > len(columns)]
        assert not longer, f"{name} {columns} is the start of {longer}"


def test_the_columns_most_runs_leave_empty_are_indexed_only_where_filled():
    assert indexes(Run._meta.db_table)["run_rerun_of"] == ["rerun_of_id"]
    assert indexes(Run._meta.db_table)["run_resume_at"] == ["resume_at"]
    assert indexes(RunStep._meta.db_table)["runstep_resolved_by"] == ["resolved_by_id"]
    # What Django names the index of an indexed column of its own is gone.
    assert not [n for n, c in indexes(Run._meta.db_table).items()
                if c in (["rerun_of_id"], ["resume_at"], ["team_id"], ["status"]) and not n.startswith("run_")]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the query plan of SQLite, the embedded default")
@pytest.mark.parametrize(("queryset", "index"), [
    (lambda: Run.objects.filter(rerun_of_id__in=[1, 2]).order_by(), "run_rerun_of"),  # a deleted run's reruns
    (lambda: Run.objects.filter(resume_at__lte=timezone.now()).order_by("resume_at"), "run_resume_at"),
    (lambda: RunStep.objects.filter(resolved_by_id__in=[1]).order_by(), "runstep_resolved_by"),  # a removed member's
])
def test_a_lookup_of_a_filled_column_uses_its_partial_index(queryset, index):
    sql, params = queryset().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert index in plan and "SCAN" not in plan, plan
