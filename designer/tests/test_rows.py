"""`RowInsert` writes the rows `bulk_create` would write, in the order given."""

import pytest
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from designer.models import Delivery, DeliverySource, Run
from designer.rows import RowInsert
from designer.runs import deliveries_accept, delivery_accept
from tests.reliability.limits import compose, webhook_flow

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db]


def row(model, pk, left_out=("id", "delivery_id", "created_at", "updated_at", "received_at")):
    return {k: v for k, v in model.objects.filter(pk=pk).values()[0].items() if k not in left_out}


def test_the_inbox_stores_the_deliveries_and_runs_one_at_a_time_would(team):
    flow = webhook_flow(team, [compose("step_1", "Hello")])
    version = flow.versions.first()
    payload = {"body": {"name": "Ada", "tags": ["a", "b"]}, "n": 1.5}
    with transaction.atomic():
        alone = delivery_accept(flow=flow, version=version, event_id="R_1", source=DeliverySource.WEBHOOK,
                                topic="t", payload=payload)
        [run_id] = deliveries_accept([{"flow": flow, "version": version, "event_id": "R_2",
                                       "source": DeliverySource.WEBHOOK, "topic": "t", "payload": payload}])
    batched = Run.objects.get(pk=run_id)
    assert row(Run, run_id) == row(Run, alone.pk)
    assert batched.created_at is not None and batched.updated_at is not None
    assert row(Delivery, batched.delivery_id, ("id", "event_id", "received_at")) == row(
        Delivery, alone.delivery_id, ("id", "event_id", "received_at"))
    assert batched.delivery.event_id == "R_2" and batched.delivery.payload == payload


def test_rows_beyond_one_statement_s_parameters_are_inserted_in_order(team):
    flow = webhook_flow(team, [compose("step_1", "Hello")])
    rows = RowInsert(Delivery, ["flow_id", "event_id", "source", "topic", "payload"])
    count = (connection.features.max_query_params or 65535) // 5 + 7  # two statements, as RowInsert splits them
    ids = rows.execute((flow.pk, f"e{n}", DeliverySource.TEST, "", {"n": n}) for n in range(count))
    assert len(ids) == count == len(set(ids))
    assert [Delivery.objects.get(pk=pk).payload["n"] for pk in (ids[0], ids[-1])] == [0, count - 1]


def test_a_column_that_must_differ_per_row_has_to_be_given():
    with pytest.raises(ValueError, match="id is a key the database does not make"):
        RowInsert(DBTaskResult, ["args_kwargs"])


AWKWARD = ['plain', 'a "quoted" {brace}, comma', "back\\slash \\\\ and 'single'", "NULL", "", "ünï ☃ 𝄞", "{}",
           "a\nnew line\tand tab"]


def test_awkward_values_arrive_as_given_whatever_the_number_of_rows(team):
    flow = webhook_flow(team, [compose("step_1", "Hello")])
    rows = RowInsert(Delivery, ["flow_id", "event_id", "source", "topic", "payload"])
    given = [(flow.pk, f"{text}#{n}", DeliverySource.TEST, text, {"text": text, "list": [text, None], "n": n})
             for n, text in enumerate(AWKWARD)]
    ids = rows.execute(given)
    stored = {d.pk: d for d in Delivery.objects.filter(pk__in=ids)}
    assert [(stored[pk].event_id, stored[pk].topic, stored[pk].payload) for pk in ids] == [
        (event_id, topic, payload) for _, event_id, _, topic, payload in given]


def test_on_postgresql_the_rows_go_as_one_array_per_column_not_a_values_list(team):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes a VALUES list; its limit on parameters splits it")
    from django.test.utils import CaptureQueriesContext

    flow = webhook_flow(team, [compose("step_1", "Hello")])
    version = flow.versions.first()
    for count in (2, 40):
        items = [{"flow": flow, "version": version, "event_id": f"R_{count}_{n}", "source": DeliverySource.WEBHOOK,
                  "topic": "t", "payload": {"n": n}} for n in range(count)]
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            run_ids = deliveries_accept(items)
        inserts = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("INSERT")]
        assert len(inserts) == 2  # the deliveries, then their runs
        assert all(" FROM UNNEST(" in sql and " VALUES " not in sql for sql in inserts)
        runs = Run.objects.filter(pk__in=run_ids).select_related("delivery")
        assert sorted(run.delivery.payload["n"] for run in runs) == list(range(count))
        assert [run.delivery.event_id for run in sorted(runs, key=lambda run: run_ids.index(run.pk))] == [
            item["event_id"] for item in items]  # each run id answered in the order given
