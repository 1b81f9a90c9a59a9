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
