"""Activation, webhook inbox, polling and the run engine against the sandbox over HTTP.

Tasks run on Django's immediate backend here (in the process that enqueues them); the same
tasks on real worker processes are tested in tests/test_workers.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse

from accounts.models import Configuration, Role
from connectors.qualtrics.client import QualtricsClient
from designer import services
from designer.activation import flow_activate, flow_deactivate
from designer.engine import run_execute
from designer.models import ActivationStatus, Delivery, Run, RunStatus
from designer.polling import activation_poll
from designer.runs import run_rerun

pytestmark = pytest.mark.scaleout


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def make_flow(team, sandbox_configuration, qualtrics_sandbox):
    membership = team.memberships.get(role=Role.OWNER)
    cfg = sandbox_configuration.pk

    def make(steps=None, name="Newsletter"):
        if steps is None:
            steps = [{
                "id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": cfg,
                "options": {"directory_id": qualtrics_sandbox.directory_id, "mailing_list_id": qualtrics_sandbox.mailing_list_id},
                "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Ada"},
            }]
        definition = {
            "event": {"id": "trigger", "card": "qualtrics.new_response", "configuration": cfg,
                      "options": {"survey_id": qualtrics_sandbox.survey_id}},
            "steps": steps,
        }
        flow = services.flow_create(membership=membership, name=name)
        services.flow_save(membership=membership, flow=flow, definition=definition, base_version=0)
        services.flow_publish(membership=membership, flow=flow)
        flow.refresh_from_db()
        return flow

    return make


def list_contacts(sandbox):
    client = QualtricsClient(datacenter=sandbox.datacenter, token=sandbox.token)
    return client.list_mailing_list_contacts(sandbox.directory_id, sandbox.mailing_list_id)


def post_delivery(client, activation, response_id, survey_id, *, key=None, topic=None, msg=None):
    msg = msg if msg is not None else json.dumps({"Status": "Complete", "SurveyID": survey_id, "ResponseID": response_id,
                                                  "CompletedDate": "2026-11-30 10:00:00", "BrandID": "brand"})
    signature = hmac.new((key or activation.shared_key).encode(), msg.encode(), hashlib.sha512).hexdigest()
    return client.post(
        reverse("qualtrics_webhook", args=[activation.pk, activation.secret]),
        {"Topic": topic or f"brand.surveyengine.completedResponse.{survey_id}", "MSG": msg, "HMAC": signature},
    )


# Activation ---------------------------------------------------------------------------------


def test_activating_subscribes_once_and_deactivating_removes_exactly_that_subscription(settings, make_flow, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = "https://flows.example.com"
    flow = make_flow()
    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    other = client.create_event_subscription(topics="controlpanel.activateSurvey", publication_url="https://x.example/", shared_key="k")
    activation = flow_activate(flow=flow)
    assert activation.status == ActivationStatus.ACTIVE_WEBHOOK
    assert flow_activate(flow=flow).state.get("subscription_id", "") == activation.state.get("subscription_id", "")
    subscriptions = client.list_event_subscriptions()
    ours = [s for s in subscriptions if s["id"] == activation.state.get("subscription_id", "")]
    assert len(subscriptions) == 2 and len(ours) == 1
    assert ours[0]["topics"] == f"surveyengine.completedResponse.{qualtrics_sandbox.survey_id}"
    assert ours[0]["publicationUrl"].startswith("https://flows.example.com/hooks/qualtrics/")
    assert flow_deactivate(flow=flow).status == ActivationStatus.INACTIVE
    assert [s["id"] for s in client.list_event_subscriptions()] == [other]


def test_without_a_public_url_the_flow_polls_and_says_so(settings, make_flow):
    settings.PUBLIC_BASE_URL = ""
    activation = flow_activate(flow=make_flow())
    assert activation.status == ActivationStatus.ACTIVE_POLLING
    assert "No public URL" in activation.reason and activation.state.get("subscription_id", "") == ""


def test_when_qualtrics_refuses_the_subscription_the_flow_polls(settings, make_flow, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = "https://flows.example.com"
    qualtrics_sandbox.fail_subscription_creation(count=10, status=403)
    activation = flow_activate(flow=make_flow())
    assert activation.status == ActivationStatus.ACTIVE_POLLING
    assert "did not accept" in activation.reason


def test_an_unsaved_flow_cannot_be_activated(team):
    from designer.activation import ActivationError

    flow = services.flow_create(membership=team.memberships.get(role=Role.OWNER), name="Empty")
    with pytest.raises(ActivationError, match="Publish the flow"):
        flow_activate(flow=flow)


def test_the_activation_api_and_status_page(owner_client, settings, make_flow):
    settings.PUBLIC_BASE_URL = ""
    flow = make_flow()
    data = owner_client.post(reverse("api_flow_activate", args=[flow.pk])).json()
    assert data["status"] == "active_polling" and data["version"] == 1
    page = owner_client.get(reverse("flow_status", args=[flow.pk])).content.decode()
    assert "Active (polling)" in page
    assert owner_client.post(reverse("api_flow_deactivate", args=[flow.pk])).json()["status"] == "inactive"


# End to end over HTTP -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_recorded_response_is_delivered_run_and_creates_the_contact(settings, live_server, immediate_tasks, make_flow, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = live_server.url
    flow = make_flow()
    activation = flow_activate(flow=flow)
    assert activation.status == ActivationStatus.ACTIVE_WEBHOOK
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "grace@example.com", "recipientFirstName": "Grace"})
    [delivery] = qualtrics_sandbox.wait_for_deliveries(1, timeout=10)
    assert delivery["status"] == 200
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.delivery.event_id == response_id and run.version.number == 1
    assert [s.step_id for s in run.steps.all()] == ["trigger", "step_1"]
    assert run.steps.get(step_id="step_1").inputs["email"] == "grace@example.com"
    assert "grace@example.com" in [c["email"] for c in list_contacts(qualtrics_sandbox)]
    flow_deactivate(flow=flow)
    assert QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token).list_event_subscriptions() == []


# Webhook inbox ------------------------------------------------------------------------------


@pytest.fixture
def active(settings, make_flow):
    settings.PUBLIC_BASE_URL = "https://flows.example.com"
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    return flow_activate(flow=flow)


def test_the_same_delivery_posted_five_times_gives_one_run(client, active):
    answers = [post_delivery(client, active, "R_abc123", active.options["survey_id"]).json()["detail"] for _ in range(5)]
    assert answers == ["Accepted."] + ["Already received."] * 4
    assert Run.objects.filter(flow=active.flow).count() == 1


def test_a_bad_hmac_is_refused_and_nothing_runs(client, active):
    response = post_delivery(client, active, "R_abc123", active.options["survey_id"], key="wrong-key")
    assert response.status_code == 403
    assert not Run.objects.exists() and not Delivery.objects.exists()


def test_a_wrong_secret_in_the_url_is_not_found(client, active):
    url = reverse("qualtrics_webhook", args=[active.pk, "guess"])
    assert client.post(url, {"MSG": "{}", "HMAC": "00"}).status_code == 404


def test_an_unknown_topic_gets_200_and_a_log_line(client, active, caplog):
    response = post_delivery(client, active, "R_abc123", active.options["survey_id"], topic="brand.threesixty.created")
    assert response.status_code == 200 and "ignored" in response.json()["detail"]
    assert not Run.objects.exists()
    assert "ignored" in caplog.text


def test_a_malformed_message_is_refused_clearly(client, active):
    response = post_delivery(client, active, "R_abc123", active.options["survey_id"], msg="not json")
    assert response.status_code == 400 and "JSON" in response.json()["detail"]
    assert client.post(reverse("qualtrics_webhook", args=[active.pk, active.secret]), {}).status_code == 400


def test_a_delivery_after_deactivation_is_ignored(client, active):
    secret = active.secret
    flow_deactivate(flow=active.flow)
    active.refresh_from_db()
    response = client.post(reverse("qualtrics_webhook", args=[active.pk, secret]), {"MSG": "{}"})
    assert response.status_code == 404
    assert not Run.objects.exists()


def test_a_burst_of_deliveries_gives_exactly_one_run_each(client, active):
    for index in range(1000):
        post_delivery(client, active, f"R_burst{index:05d}", active.options["survey_id"])
    for index in range(0, 1000, 10):  # Qualtrics retries some: duplicates change nothing
        post_delivery(client, active, f"R_burst{index:05d}", active.options["survey_id"])
    assert Run.objects.filter(flow=active.flow).count() == 1000
    assert Delivery.objects.filter(flow=active.flow).count() == 1000


# Polling and reconciliation -----------------------------------------------------------------


def test_a_lost_delivery_is_picked_up_by_reconciliation(settings, make_flow, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens: Qualtrics cannot deliver
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    activation = flow_activate(flow=flow)
    qualtrics_sandbox.drop_deliveries(1)
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "lost@example.com"})
    assert activation_poll(activation.pk) == 1
    run = Run.objects.get(flow=flow)
    assert run.delivery.event_id == response_id and run.delivery.source == "poll"
    run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert activation_poll(activation.pk) == 0  # the continuation token moves on


def test_a_delivery_is_answered_as_stored_when_the_task_queue_refuses_its_run(
    client, settings, make_flow, qualtrics_sandbox, caplog, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from designer import scheduler

    settings.PUBLIC_BASE_URL = ""
    flow = make_flow()
    activation = flow_activate(flow=flow)
    activation.secret = "s" * 20
    activation.save()
    settings.TASKS = {"default": {"BACKEND": "tests.task_backends.UnreachableQueue"}}
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "queued@example.com"}, notify=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_delivery(client, activation, response_id, activation.options["survey_id"])

    assert response.status_code == 200  # stored: Qualtrics need not send it again
    run = Run.objects.get(flow=flow)
    assert run.status == RunStatus.QUEUED
    assert f"Run {run.pk} is stored, but the task queue refused it" in caplog.text

    # The queue works again: the scheduler's next round hands the waiting run over.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    Run.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(minutes=2))
    scheduler.tick()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert [c["email"] for c in list_contacts(qualtrics_sandbox)] == ["queued@example.com"]


def test_polling_and_the_webhook_never_run_a_response_twice(client, settings, make_flow, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = ""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    activation = flow_activate(flow=flow)
    activation.secret = "s" * 20
    activation.save()
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "twice@example.com"}, notify=False)
    post_delivery(client, activation, response_id, activation.options["survey_id"])
    assert activation_poll(activation.pk) == 0
    assert Run.objects.filter(flow=flow).count() == 1


def test_polling_failure_marks_the_activation_failing_then_it_recovers(settings, make_flow, qualtrics_sandbox):
    settings.PUBLIC_BASE_URL = ""
    activation = flow_activate(flow=make_flow())
    qualtrics_sandbox.inject_fault("surveys", 401, count=1)
    activation_poll(activation.pk)
    activation.refresh_from_db()
    assert activation.status == ActivationStatus.FAILING and activation.failing_since is not None
    assert "Polling Qualtrics failed" in activation.reason
    activation_poll(activation.pk)
    activation.refresh_from_db()
    assert activation.status == ActivationStatus.ACTIVE_POLLING


# The engine ---------------------------------------------------------------------------------


def deliver(flow, sandbox, values=None):
    from designer.runs import delivery_accept

    response_id = sandbox.record_response(values=values or {"recipientEmail": "ada@example.com"}, notify=False)
    return delivery_accept(flow=flow, version=flow.versions.first(), event_id=response_id,
                           payload={"response_id": response_id}, source="webhook")


def contact_then_compose(sandbox) -> list[dict]:
    """Steps: a contact created from the event's email, then a Compose card of its id."""
    return [
        {"id": "step_1", "card": "qualtrics.create_contact_in_mailing_list", "configuration": Configuration.objects.get().pk,
         "options": {"directory_id": sandbox.directory_id, "mailing_list_id": sandbox.mailing_list_id},
         "inputs": {"email": {"ref": "trigger.recipient_email"}}},
        {"id": "step_2", "card": "core.compose", "inputs": {"template": "{{step_1.contact_id}}"}},
    ]


def test_question_answers_are_outputs_of_the_event(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(steps=[]), qualtrics_sandbox, {"QID1": 2, "QID2_TEXT": "More coffee", "recipientEmail": "a@b.c"})
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.trigger["q.QID1"] == 2 and run.trigger["q.QID1_label"] == "Satisfied"
    assert run.trigger["recipient_email"] == "a@b.c"


def test_branches_loops_compose_and_continue_if(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    steps = [
        {"id": "step_1", "card": "core.if_else", "inputs": {"left": {"ref": "trigger.q.QID1"}, "operator": "equals", "right": "1"},
         "then": [{"id": "step_2", "card": "core.compose", "inputs": {"template": "happy {{trigger.recipient_email}}"}}],
         "else": [{"id": "step_3", "card": "core.compose", "inputs": {"template": "unhappy"}}]},
        {"id": "step_4", "card": "core.for_each", "inputs": {"list": ["a", "b", "c"]},
         "steps": [{"id": "step_5", "card": "core.compose", "inputs": {"template": "item {{step_4.item}} at {{step_4.index}}"}}]},
        {"id": "step_6", "card": "core.continue_if", "inputs": {"left": {"ref": "trigger.q.QID1"}, "operator": "equals", "right": "2"}},
        {"id": "step_7", "card": "core.compose", "inputs": {"template": "never"}},
    ]
    run = deliver(make_flow(steps=steps), qualtrics_sandbox, {"QID1": 1, "recipientEmail": "x@y.z"})
    assert run_execute(run.pk) == RunStatus.STOPPED
    outputs = {(s.step_id, s.iteration): s.outputs for s in run.steps.all()}
    assert outputs[("step_2", "")] == {"text": "happy x@y.z"}
    assert ("step_3", "") not in outputs and ("step_7", "") not in outputs
    assert [outputs[("step_5", str(i))]["text"] for i in range(3)] == ["item a at 0", "item b at 1", "item c at 2"]


def test_a_permanent_qualtrics_error_fails_the_run_with_a_clear_message(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    run = deliver(flow, qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 404, count=5)
    assert run_execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.error.startswith("“Create Contact in Mailing List” (step_1) failed:")
    assert run.steps.get(step_id="step_1").status == RunStatus.FAILED


def test_a_transient_error_on_a_read_is_retried(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("surveys", 503, count=2, method="GET")
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert len(list_contacts(qualtrics_sandbox)) == 1


def test_a_create_answered_503_is_not_sent_again_and_the_run_needs_attention(
    settings, make_flow, qualtrics_sandbox
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 503, count=5, method="POST")
    assert run_execute(run.pk) == RunStatus.ATTENTION
    run.refresh_from_db()
    assert run.error.startswith("“Create Contact in Mailing List” (step_1) needs attention:")
    assert "may have applied" in run.error and run.finished_at is None and run.lease_until is None
    assert run.steps.get(step_id="step_1").status == RunStatus.ATTENTION
    posts = [r for r in qualtrics_sandbox.requests("directories") if r["method"] == "POST"]
    assert len(posts) == 1 and list_contacts(qualtrics_sandbox) == []


def test_a_response_that_404s_briefly_is_retried(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    settings.QUALTRICS_NEW_RESPONSE_RETRY_DELAYS = (0.01, 0.01, 0.01)
    run = deliver(make_flow(steps=[]), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("surveys", 404, count=2, method="GET")
    assert run_execute(run.pk) == RunStatus.SUCCEEDED


def test_a_run_is_claimed_once(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(), qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert run_execute(run.pk) is None
    assert len(list_contacts(qualtrics_sandbox)) == 1


def test_each_step_record_renews_the_run_in_the_same_statement_on_postgresql(settings, monkeypatch, make_flow,
                                                                              qualtrics_sandbox):
    """A step and the run's renewal (lease, updated_at, the event's outputs) are stored together: on
    PostgreSQL as one statement, a round trip instead of BEGIN, two statements and COMMIT."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from designer import engine

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    monkeypatch.setattr(engine, "LIVE_STEP_SECONDS", 0)  # every step renews the run
    run = deliver(make_flow(), qualtrics_sandbox)
    with CaptureQueriesContext(connection) as queries:
        assert run_execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.trigger["recipient_email"] == "ada@example.com"
    assert [(s.step_id, s.status) for s in run.steps.all()] == [("trigger", "succeeded"), ("step_1", "succeeded")]
    assert len(list_contacts(qualtrics_sandbox)) == 1
    if connection.vendor != "postgresql":
        return
    sent = [engine._sql().written_out(q["sql"]) for q in queries.captured_queries if not q["sql"].startswith("PREPARE")]
    renewals = [sql for sql in sent if 'UPDATE "designer_run" SET updated_at' in sql]
    # The event's record (inserted, with the trigger) and the contact's (the in-flight record updated).
    assert len(renewals) == 2
    assert renewals[0].startswith('WITH s AS (INSERT INTO "designer_runstep"') and "trigger =" in renewals[0]
    assert renewals[1].startswith('WITH s AS (UPDATE "designer_runstep"') and "trigger =" not in renewals[1]


@pytest.mark.django_db(transaction=True)
def test_the_engines_statements_are_prepared_once_per_connection_on_postgresql(settings, make_flow,
                                                                               qualtrics_sandbox):
    """On PostgreSQL a run's statements are sent as EXECUTEs of statements prepared once per
    connection, so the server does not parse and plan them for every run; a new connection
    prepares them again. Off (`DATABASE_PREPARED_STATEMENTS`), they are sent as they are."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("statements are prepared on PostgreSQL")
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow(steps=contact_then_compose(qualtrics_sandbox))

    def run_once(values: dict) -> list[str]:
        run = deliver(flow, qualtrics_sandbox, values)
        with CaptureQueriesContext(connection) as queries:
            assert run_execute(run.pk) == RunStatus.SUCCEEDED
        return [q["sql"] for q in queries.captured_queries]

    first = run_once({"recipientEmail": "ada@example.com"})
    prepared = [sql.split()[1] for sql in first if sql.startswith("PREPARE ")]
    assert len(prepared) >= 5 and len(set(prepared)) == len(prepared)
    executed = [part.split()[1].split("(")[0] for sql in first for part in sql.split("; ") if part.startswith("EXECUTE ")]
    assert set(executed) == set(prepared)
    assert not any(sql.startswith(('UPDATE "designer_run"', "WITH s AS")) for sql in first)

    second = run_once({"recipientEmail": "grace@example.com"})
    assert not [sql for sql in second if sql.startswith("PREPARE ")]
    assert sum(sql.count("EXECUTE ") for sql in second) == len(executed)

    connection.close()  # a new connection has no prepared statements: they are prepared again
    third = run_once({"recipientEmail": "alan@example.com"})
    assert sorted(sql.split()[1] for sql in third if sql.startswith("PREPARE ")) == sorted(prepared)

    settings.DATABASE_PREPARED_STATEMENTS = False
    fourth = run_once({"recipientEmail": "barbara@example.com"})
    assert not [sql for sql in fourth if "PREPARE " in sql or "EXECUTE " in sql]
    assert any(sql.startswith('UPDATE "designer_run"') for sql in fourth)
    assert sorted(c["email"] for c in list_contacts(qualtrics_sandbox)) == [
        "ada@example.com", "alan@example.com", "barbara@example.com", "grace@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_step_record_waits_for_the_runs_next_write_but_a_change_made_not_past_the_next_step(
        settings, make_flow, qualtrics_sandbox):
    """A step's record goes with the run's next write: one turn of SQLite's write lock, one round
    trip to PostgreSQL. The event's record goes with the contact's in-flight record; the record of
    the change the contact card made is written on its own before the next step begins, and the
    last step's record with the run's finish, which also copies the event's outputs to the run:
    the run's row is written twice, when claimed and when finished."""
    from django.db import connection

    from designer import engine

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(steps=contact_then_compose(qualtrics_sandbox)), qualtrics_sandbox)
    turns: list[list[str]] = []  # each write turn (SQLite) or query (PostgreSQL): the run's statements in it
    queries: list[str] = []

    def writes(sql: str) -> list[str]:
        """What each statement of `sql` writes to the run's tables, in order."""
        found = []
        for statement in sql.split("; "):
            verb = statement.split()[0]
            if statement.startswith("WITH s AS ("):  # a step and the run's renewal in one statement
                verb = statement.split()[3].lstrip("(")
                found += [f"{verb.lower()} step", "update run"]
            elif verb in ("INSERT", "UPDATE", "DELETE"):
                target = statement.split("SET")[0].split("VALUES")[0]
                table = "step" if '"designer_runstep"' in target else "run" if '"designer_run"' in target else ""
                found += [f"{verb.lower()} {table}"] if table else []
        return found

    def watch(execute, sql, params, many, context):
        sql = engine._sql().written_out(sql)  # EXECUTEs of prepared statements (PostgreSQL) as their statements
        queries.append(sql)
        if sql.startswith("BEGIN"):
            turns.append([])
        elif context["connection"].in_atomic_block:
            turns[-1] += writes(sql)
        else:
            turns.append(writes(sql))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        assert run_execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.trigger["recipient_email"] == "ada@example.com"
    assert [(s.step_id, s.status) for s in run.steps.order_by("position")] == [
        ("trigger", "succeeded"), ("step_1", "succeeded"), ("step_2", "succeeded")]
    assert len(list_contacts(qualtrics_sandbox)) == 1
    assert [turn for turn in turns if turn] == [
        ["update run"],  # the claim
        ["insert step", "insert step"],  # the event's record (with its outputs), step_1 in flight
        ["update step"],  # step_1's outcome, before step_2 begins
        ["insert step", "update run"],  # step_2's record and the finish, with the event's outputs
    ]
    finish = engine._sql().written_out(queries[-1]) if connection.vendor == "postgresql" else next(
        sql for sql in queries if sql.startswith('UPDATE "designer_run" SET status = %s, error = %s'))
    assert "trigger = (SELECT outputs FROM" in finish
    if connection.vendor == "postgresql":  # the in-flight record is on disk when committed, whatever went before
        in_flight = next(sql for sql in queries
                         if "set_config('synchronous_commit', 'on', true)" in sql and not sql.startswith("PREPARE"))
        assert in_flight.split("; ")[-2] == "SELECT set_config('synchronous_commit', 'on', true)"
        assert in_flight.split("; ")[-1].startswith('INSERT INTO "designer_runstep"')


def test_a_run_resumed_before_its_row_took_the_events_outputs_reads_them_from_the_event_step(
        settings, make_flow, qualtrics_sandbox):
    """The run's row takes the event's outputs with the run's finish. A worker that died after
    the event's record but before the finish leaves them on the event step alone: the resumed
    run uses those, fetching nothing again, and its finish copies them to the run."""
    from datetime import timedelta

    from django.utils import timezone

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(steps=contact_then_compose(qualtrics_sandbox)), qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    recorded = run.steps.get(step_id="trigger").outputs
    assert Run.objects.get(pk=run.pk).trigger == recorded and recorded["recipient_email"] == "ada@example.com"
    # The worker died after step_1's record, before the finish wrote the event's outputs.
    run.steps.exclude(step_id__in=["trigger", "step_1"]).delete()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, trigger={}, finished_at=None,
                                         lease_until=timezone.now() - timedelta(seconds=1))
    qualtrics_sandbox.clear_requests()
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert not qualtrics_sandbox.requests("surveys")  # the response was not fetched again
    run.refresh_from_db()
    assert run.trigger == recorded
    assert run.steps.get(step_id="step_2").outputs["text"] == run.steps.get(step_id="step_1").outputs["contact_id"]
    assert len(list_contacts(qualtrics_sandbox)) == 1


def test_a_run_resumed_after_a_crash_does_not_repeat_finished_steps(settings, make_flow, qualtrics_sandbox):
    from datetime import timedelta

    from django.utils import timezone

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(steps=contact_then_compose(qualtrics_sandbox)), qualtrics_sandbox)
    qualtrics_sandbox.inject_fault("directories", 400, count=0)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    # Pretend the worker died after step_1: drop later steps, mark running with an expired lease.
    run.steps.exclude(step_id__in=["trigger", "step_1"]).delete()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert len(list_contacts(qualtrics_sandbox)) == 1
    assert [s.step_id for s in Run.objects.get(pk=run.pk).steps.all()] == ["trigger", "step_1", "step_2"]


def test_re_running_on_the_same_or_current_version(settings, team, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow(steps=[{"id": "step_1", "card": "core.compose", "inputs": {"template": "v1"}}])
    run = deliver(flow, qualtrics_sandbox)
    run_execute(run.pk)
    membership = team.memberships.get(role=Role.OWNER)
    changed = {**flow.definition, "steps": [{"id": "step_1", "card": "core.compose", "inputs": {"template": "v2"}}]}
    services.flow_save(membership=membership, flow=flow, definition=changed, base_version=1)
    services.flow_publish(membership=membership, flow=flow)
    same = run_rerun(run=run)
    current = run_rerun(run=run, use_current=True)
    run_execute(same.pk)
    run_execute(current.pk)
    assert same.steps.get(step_id="step_1").outputs == {"text": "v1"}
    assert current.steps.get(step_id="step_1").outputs == {"text": "v2"}
    assert same.rerun_of == run and current.version.number == 2


def test_the_test_button_runs_once_on_a_chosen_response(owner_client, settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow(steps=[])
    response_id = qualtrics_sandbox.record_response(values={"recipientEmail": "t@e.st"}, notify=False)
    listed = owner_client.get(reverse("api_flow_recent_events", args=[flow.pk])).json()["events"]
    assert response_id in [r["id"] for r in listed]
    answer = owner_client.post(reverse("api_flow_test", args=[flow.pk]), {"event_id": response_id}, content_type="application/json")
    assert answer.status_code == 202
    assert run_execute(answer.json()["run"]) == RunStatus.SUCCEEDED
    assert flow.activation.status == ActivationStatus.INACTIVE


def test_large_step_data_is_stored_whole_up_to_the_output_limit(settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    big = "x" * 100_000
    run = deliver(make_flow(steps=[{"id": "step_1", "card": "core.compose", "inputs": {"template": big}}]), qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert run.steps.get(step_id="step_1").outputs == {"text": big}


def test_runs_pages_and_api_show_steps(owner_client, settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(steps=[{"id": "step_1", "card": "core.compose", "inputs": {"template": "hello"}}]), qualtrics_sandbox)
    run_execute(run.pk)
    assert "Succeeded" in owner_client.get(reverse("runs") + "?outcome=succeeded").content.decode()
    assert "hello" in owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    data = owner_client.get(reverse("api_run", args=[run.pk])).json()
    assert [s["step_id"] for s in data["steps"]] == ["trigger", "step_1"]
    assert owner_client.get(reverse("api_runs") + "?outcome=failed").json() == []
    answer = owner_client.post(reverse("run_rerun"), {"run": [run.pk], "version": "same"})
    assert answer.status_code == 302 and Run.objects.count() == 2


def test_a_running_runs_api_shows_the_events_outputs_before_its_row_takes_them(owner_client, settings, make_flow,
                                                                              qualtrics_sandbox):
    """The run's row takes the event's outputs with the write that ends its turn; while it runs,
    the API shows those its event step recorded, not an empty object."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(steps=[{"id": "step_1", "card": "core.compose", "inputs": {"template": "hello"}}]),
                  qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED
    outputs = run.steps.get(step_id="trigger").outputs
    assert owner_client.get(reverse("api_run", args=[run.pk])).json()["trigger"] == outputs
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, trigger={})  # as in the middle of its turn
    assert owner_client.get(reverse("api_run", args=[run.pk])).json()["trigger"] == outputs
    run.steps.all().delete()  # nothing recorded yet
    assert owner_client.get(reverse("api_run", args=[run.pk])).json()["trigger"] == {}


def test_an_export_file_of_a_run_can_be_downloaded_by_its_team_only(owner_client, client, other_team, settings, make_flow, qualtrics_sandbox):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    cfg = Configuration.objects.get().pk
    steps = [{"id": "step_1", "card": "qualtrics.export_responses", "configuration": cfg,
              "options": {"survey_id": qualtrics_sandbox.survey_id, "format": "csv"}, "inputs": {}}]
    run = deliver(make_flow(steps=steps), qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED, Run.objects.get(pk=run.pk).error
    page = owner_client.get(reverse("run_detail", args=[run.pk])).content.decode()
    assert "Download" in page
    path = run.steps.get(step_id="step_1").outputs["file"]["path"]
    rest = path.split("/", 2)[2]
    response = owner_client.get(reverse("run_file", args=[run.pk, rest]))
    assert response.status_code == 200 and len(b"".join(response.streaming_content)) > 0
    client.force_login(other_team.memberships.first().user)
    assert client.get(reverse("run_file", args=[run.pk, rest])).status_code == 404
    assert owner_client.get(reverse("run_file", args=[run.pk, "../../etc/passwd"])).status_code == 404


def test_an_export_reports_its_progress_live_while_it_runs(settings, make_flow, qualtrics_sandbox):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from designer.live import flow_group

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    qualtrics_sandbox.set_export_polls(4)
    cfg = Configuration.objects.get().pk
    steps = [{"id": "step_1", "card": "qualtrics.export_responses", "configuration": cfg,
              "options": {"survey_id": qualtrics_sandbox.survey_id, "format": "json"}, "inputs": {}}]
    flow = make_flow(steps=steps)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(flow_group(flow.pk), channel)
    run = deliver(flow, qualtrics_sandbox)
    assert run_execute(run.pk) == RunStatus.SUCCEEDED

    async def drain():
        import asyncio

        received = []
        while True:
            try:
                received.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except TimeoutError:
                return received

    seen = [(m["event"]["run"]["current_step"], m["event"]["run"]["progress"]) for m in async_to_sync(drain)()]
    assert ("step_1", 100.0) in seen
    run.refresh_from_db()
    assert run.progress is None and run.current_step == ""


def test_deleting_a_configuration_removes_the_subscriptions_of_its_active_flows(settings, make_flow, qualtrics_sandbox):
    from accounts.configurations import configuration_delete

    settings.PUBLIC_BASE_URL = "https://flows.example.com"
    flow = make_flow()
    assert flow_activate(flow=flow).status == ActivationStatus.ACTIVE_WEBHOOK
    assert configuration_delete(configuration=Configuration.objects.get()) == ["Newsletter"]
    client = QualtricsClient(datacenter=qualtrics_sandbox.datacenter, token=qualtrics_sandbox.token)
    assert client.list_event_subscriptions() == []
    flow.activation.refresh_from_db()
    assert flow.activation.status == ActivationStatus.INACTIVE and "was deleted" in flow.activation.reason


def test_placeholders_typed_around_outputs_are_filled_in_any_text_input(settings, make_flow, qualtrics_sandbox,
                                                                         sandbox_configuration):
    """Mixed text like "Hello {{trigger.recipient_email}}" is filled in for every card, not only Compose:
    here the URL of a Custom API Action and the first name of a new contact."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    cfg = sandbox_configuration.pk
    flow = make_flow(steps=[
        {"id": "step_1", "card": "qualtrics.custom_api_action", "configuration": cfg, "options": {"method": "GET"},
         "inputs": {"relative_url": f"surveys/{qualtrics_sandbox.survey_id}/responses/{{{{trigger.response_id}}}}"}},
        {"id": "step_2", "card": "qualtrics.create_contact_in_mailing_list", "configuration": cfg,
         "options": {"directory_id": qualtrics_sandbox.directory_id, "mailing_list_id": qualtrics_sandbox.mailing_list_id},
         "inputs": {"email": {"ref": "trigger.recipient_email"}, "first_name": "Dear {{trigger.recipient_email}}"}},
    ])
    run = deliver(flow, qualtrics_sandbox, {"recipientEmail": "mixed@example.com"})
    assert run_execute(run.pk) == RunStatus.SUCCEEDED, Run.objects.get(pk=run.pk).error
    step_1, step_2 = run.steps.get(step_id="step_1"), run.steps.get(step_id="step_2")
    assert step_1.inputs["relative_url"] == f"surveys/{qualtrics_sandbox.survey_id}/responses/{run.delivery.event_id}"
    assert step_1.outputs["status_code"] == 200
    assert step_2.inputs["first_name"] == "Dear mixed@example.com"
    [contact] = list_contacts(qualtrics_sandbox)
    assert contact["firstName"] == "Dear mixed@example.com"


def test_an_http_request_sends_its_chosen_connections_header_and_none_without_one(settings, team, make_flow,
                                                                                qualtrics_sandbox):
    from accounts.configurations import configuration_create
    from connectors.httprequest.tests.receiver import Receiver

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    owner = team.memberships.get(role=Role.OWNER)
    bearer = configuration_create(membership=owner, connector="http", name="API token", shared=True,
                                  credentials={"auth_type": "bearer", "token": "engine-token-0123456789"})
    basic = configuration_create(membership=owner, connector="http", name="API login", shared=True,
                                 credentials={"auth_type": "basic", "username": "ada", "password": "pa55-word-xyz"})
    assert bearer.status == basic.status == "authorized" and basic.account_name == "Basic auth as ada"
    with Receiver() as receiver:
        settings.OUTBOUND_ALLOWED_HOSTS = [f"127.0.0.1:{receiver.port}"]
        request = {"card": "http.request", "options": {"method": "POST", "body_type": "json"},
                   "inputs": {"url": f"{receiver.url}/hook", "authorization": "Bearer typed-in-flow",
                              "body": '{"email": "{{trigger.recipient_email}}"}'}}
        steps = [{**request, "id": "step_1", "configuration": bearer.pk},
                 {**request, "id": "step_2", "configuration": basic.pk},
                 {**request, "id": "step_3"}]
        run = deliver(make_flow(steps=steps), qualtrics_sandbox)
        assert run_execute(run.pk) == RunStatus.SUCCEEDED, Run.objects.get(pk=run.pk).error
    sent = [r["headers"].get("authorization") for r in receiver.requests]
    assert sent == ["Bearer engine-token-0123456789", "Basic YWRhOnBhNTUtd29yZC14eXo=", "Bearer typed-in-flow"]
    assert all(json.loads(r["body"]) == {"email": "ada@example.com"} for r in receiver.requests)
    stored = json.dumps([[s.inputs, s.outputs, s.error, s.attempt_log] for s in run.steps.all()])
    assert "engine-token" not in stored and "pa55-word" not in stored and "YWRhOnBhNTUtd29yZC14eXo" not in stored


@pytest.mark.scaleout
def test_a_turn_goes_to_the_team_served_longest_ago_and_a_lone_teams_turn_reads_no_team_list(
        settings, team, other_team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from designer import engine
    from tests.reliability.limits import compose, deliver, webhook_flow

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # runs stay queued
    ours = [deliver(webhook_flow(team, [compose("s", "a")]), {"n": n}, f"a{n}") for n in range(3)]
    engine._served.clear()
    with CaptureQueriesContext(connection) as queries:
        assert engine._fair_pick(ours[2].pk) == ours[2].pk  # no other team waits: the task's own run
    assert len(queries) == 1 and "RECURSIVE" not in queries[0]["sql"]

    theirs = deliver(webhook_flow(other_team, [compose("s", "b")]), {"n": 9}, "b9")
    engine._served[team.pk] = time.monotonic()  # ours was served last: the other team's turn
    assert engine._fair_pick(ours[2].pk) == theirs.pk
    engine._served[other_team.pk] = time.monotonic()  # now ours waited longer: its oldest run
    assert engine._fair_pick(theirs.pk) == ours[0].pk
    Run.objects.filter(pk=ours[1].pk).update(status=RunStatus.RUNNING)
    assert engine._fair_pick(ours[1].pk) == ours[1].pk  # a running run's task resumes it
    Run.objects.filter(pk=ours[2].pk).update(status=RunStatus.SUCCEEDED)
    assert engine._fair_pick(ours[2].pk) == ours[0].pk  # a finished run's turn goes to a waiting one
    engine._served.clear()


@pytest.mark.scaleout
def test_a_run_is_claimed_in_one_statement_only_while_no_other_team_waits(settings, team, other_team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from designer import engine
    from tests.reliability.limits import compose, deliver, webhook_flow

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # runs stay queued
    ours = [deliver(webhook_flow(team, [compose("s", "a")]), {"n": n}, f"a{n}") for n in range(2)]
    with CaptureQueriesContext(connection) as queries:
        claimed = engine.run_claim(ours[1].pk, alone=True)
    assert claimed is not None and claimed.status == RunStatus.RUNNING and len(queries) == 1
    assert claimed.delivery.event_id == "a1" and claimed.version.definition["steps"][0]["id"] == "s"

    theirs = deliver(webhook_flow(other_team, [compose("s", "b")]), {"n": 9}, "b9")
    assert engine.run_claim(ours[0].pk, alone=True) is None  # another team waits: the fair pick decides
    assert Run.objects.get(pk=ours[0].pk).status == RunStatus.QUEUED
    assert engine.run_claim(theirs.pk, alone=True) is None  # ours waits too
    assert engine.run_claim(ours[0].pk) is not None  # claimed as the pick would have it
    assert engine.run_claim(theirs.pk, alone=True) is not None  # no other team waits any more


@pytest.mark.django_db(transaction=True)
def test_a_tasks_next_run_is_claimed_with_the_finish_of_the_run_before(settings, team):
    """A task of several runs' turns (`execute_runs`) sends the claim of the next run with the
    finish of the one before: one write turn, one round trip to PostgreSQL, not two."""
    from django.db import connection

    from designer import engine
    from designer.engine import runs_execute
    from tests.reliability.limits import compose, deliver, webhook_flow

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # runs stay queued
    flow = webhook_flow(team, [compose("s", "hello {{trigger.body.n}}")])
    runs = [deliver(flow, {"n": n}, f"e{n}") for n in range(3)]
    turns: list[list[str]] = []  # each write turn (SQLite) or query (PostgreSQL): its claims and finishes

    def watch(execute, sql, params, many, context):
        parts = engine._sql().written_out(sql).split("; ")
        kinds = ["claim" if "attempts = attempts + 1" in part else "finish" for part in parts
                 if "attempts = attempts + 1" in part or "SET status = %s, error = %s, finished_at" in part]
        if sql.startswith("PREPARE "):  # a statement prepared (PostgreSQL), not run
            pass
        elif sql.startswith("BEGIN"):
            turns.append([])
        elif context["connection"].in_atomic_block:
            turns[-1] += kinds
        else:
            turns.append(kinds)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        runs_execute([run.pk for run in runs])
    assert [(run.status, run.attempts, run.steps.get(step_id="s").outputs["text"])
            for run in Run.objects.filter(pk__in=[r.pk for r in runs]).order_by("pk")] == [
        (RunStatus.SUCCEEDED, 1, f"hello {n}") for n in range(3)]
    assert [turn for turn in turns if turn] == [["claim"], ["finish", "claim"], ["finish", "claim"], ["finish"]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("committed", [False, True], ids=["lost-before-commit", "lost-after-commit"])
def test_a_connection_lost_on_a_finish_with_the_next_claim_sends_no_change_twice_and_loses_no_run(
        settings, make_flow, qualtrics_sandbox, committed):
    """The connection is lost as the query of a run's finish (with the record of the contact it
    created) and the next run's claim is sent: before the database ran it, or after it committed
    (the answer lost: PostgreSQL, where the query is one transaction). The query is sent again:
    the next run is claimed by it, or, taken by the lost query (the claim sent again takes
    nothing), left under its lease and resumed when the lease ends. Each contact is created once,
    and both runs succeed."""
    from datetime import timedelta

    from django.db import OperationalError, connection
    from django.utils import timezone

    from designer import engine

    if committed and connection.vendor != "postgresql":
        pytest.skip("SQLite's writes are in this process: an answer cannot be lost after a commit")
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # runs stay queued
    flow = make_flow()
    first, second = (deliver(flow, qualtrics_sandbox, {"recipientEmail": email})
                     for email in ("ada@example.com", "grace@example.com"))
    lost: list[str] = []

    def lose_once(execute, sql, params, many, context):
        written = engine._sql().written_out(sql)
        claim_with_finish = "attempts = attempts + 1" in written and (
            "finished_at" in written or context["connection"].in_atomic_block)
        if claim_with_finish and not lost:
            lost.append(written)
            if committed:
                execute(sql, params, many, context)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(lose_once):
        engine.runs_execute([first.pk, second.pk])
    assert lost
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (RunStatus.SUCCEEDED, 1)
    if committed:  # taken by the lost query, which this worker did not hear back from
        assert second.status == RunStatus.RUNNING and not second.steps.exists()
        Run.objects.filter(pk=second.pk).update(lease_until=timezone.now() - timedelta(seconds=1))  # it ran out
        assert run_execute(second.pk) == RunStatus.SUCCEEDED  # as the stalled-run pass hands it out
        second.refresh_from_db()
        assert second.attempts == 2
    else:
        assert (second.status, second.attempts) == (RunStatus.SUCCEEDED, 1)
    assert sorted(c["email"] for c in list_contacts(qualtrics_sandbox)) == ["ada@example.com", "grace@example.com"]
    creates = [r for r in qualtrics_sandbox.requests("directories", method="POST") if r["api_path"].endswith("/contacts")]
    assert len(creates) == 2


@pytest.mark.django_db(transaction=True)
def test_a_connection_cut_as_a_database_worker_s_finish_claims_its_next_task_loses_no_finish(
        settings, make_flow, qualtrics_sandbox):
    """PostgreSQL ends the worker's connection (`pg_terminate_backend`) just as the finish of its
    first run (with the record of the contact it created) claims the worker's next task. The
    finish is not taken for committed: it is written again on a new connection, with the claim.
    Both runs succeed once, and each contact is created once."""
    from django.core.management import call_command
    from django.db import connection
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    if connection.vendor != "postgresql":
        pytest.skip("a connection to cut: PostgreSQL")
    import psycopg  # loaded only where the database is PostgreSQL (config/drivers.py)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "polls"]}}
    settings.SCHEDULER_IN_WORKERS = False
    flow = make_flow()
    first, second = (deliver(flow, qualtrics_sandbox, {"recipientEmail": email})
                     for email in ("ada@example.com", "grace@example.com"))
    finishing: list = []  # the transaction a finish was written in
    cut: list[int] = []

    def cut_once(execute, sql, params, many, context):
        conn = context["connection"]
        block = conn.atomic_blocks[0] if conn.in_atomic_block else None
        if "lease_until = NULL" in sql and "finished_at" in sql:
            finishing.append(block)
        elif ('SET "status" = %s, "started_at"' in sql and block is not None and finishing
              and finishing[-1] is block and not cut):
            cut.append(conn.connection.info.backend_pid)
            with psycopg.connect(**conn.get_connection_params(), autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [cut[0]])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(cut_once):
        call_command("worker", queue_name="*", batch=True, startup_delay=False, interval=0, worker_id="cut")
    assert cut
    runs = [Run.objects.get(pk=run.pk) for run in (first, second)]
    assert [(run.status, run.attempts) for run in runs] == [(RunStatus.SUCCEEDED, 1)] * 2
    assert sorted(c["email"] for c in list_contacts(qualtrics_sandbox)) == ["ada@example.com", "grace@example.com"]
    creates = [r for r in qualtrics_sandbox.requests("directories", method="POST") if r["api_path"].endswith("/contacts")]
    assert len(creates) == 2
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {TaskResultStatus.SUCCESSFUL}


@pytest.mark.django_db(transaction=True)
def test_a_turn_whose_claim_went_with_the_finish_before_still_goes_to_a_waiting_team(settings, team, other_team):
    """The claim sent with the finish before is the run's own turn only while no other team has
    queued runs (as `run_claim(alone=True)`); otherwise the fair pick decides, as for any turn."""
    from designer import engine
    from tests.reliability.limits import compose, deliver, webhook_flow

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # runs stay queued
    ours = [deliver(webhook_flow(team, [compose("s", "a")]), {"n": n}, f"a{n}") for n in range(2)]
    theirs = deliver(webhook_flow(other_team, [compose("s", "b")]), {"n": 9}, "b9")
    engine._served.clear()
    engine.runs_execute([ours[0].pk, ours[1].pk])
    statuses = dict(Run.objects.values_list("pk", "status"))
    # ours[0] was served, so the second turn went to the other team's run; ours[1] waits for the next.
    assert (statuses[ours[0].pk], statuses[theirs.pk], statuses[ours[1].pk]) == (
        RunStatus.SUCCEEDED, RunStatus.SUCCEEDED, RunStatus.QUEUED)
    engine.runs_execute([theirs.pk])  # the turn handed out with the other team's run
    assert Run.objects.get(pk=ours[1].pk).status == RunStatus.SUCCEEDED
    engine._served.clear()


@pytest.mark.scaleout
def test_the_events_outputs_are_sent_to_postgresql_once(settings, team):
    """The event's outputs are the event step's outputs and the run's trigger: on PostgreSQL the
    run's row takes them from the step's record in the same statement, so they are sent once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.reliability.limits import compose, deliver, webhook_flow

    if connection.vendor != "postgresql":
        pytest.skip("SQLite binds the text in this process: nothing is sent")
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(webhook_flow(team, [compose("s", "a")]), {"marker": "only-here-7f3a"})
    with CaptureQueriesContext(connection) as queries:
        assert run_execute(run.pk) == RunStatus.SUCCEEDED
    sent = "\n".join(q["sql"] for q in queries.captured_queries)
    assert sent.count("only-here-7f3a") == 2  # the event step's inputs (the payload) and its outputs
    run.refresh_from_db()
    assert run.trigger == run.steps.get(step_id="trigger").outputs and run.trigger["body"]["marker"] == "only-here-7f3a"


def test_a_runs_claim_reads_the_connections_its_version_names(settings, make_flow, qualtrics_sandbox):
    """The connection a card calls through is read with the run's claim, not by a statement of its
    own when the card first calls; the run's cards use it as before."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from designer import engine

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    run = deliver(make_flow(), qualtrics_sandbox)
    with CaptureQueriesContext(connection) as queries:
        assert run_execute(run.pk) == RunStatus.SUCCEEDED
    sent = [engine._sql().written_out(q["sql"]) for q in queries.captured_queries if not q["sql"].startswith("PREPARE")]
    assert not [sql for sql in sent if sql.startswith("SELECT connector, updated_at")], sent
    assert len(list_contacts(qualtrics_sandbox)) == 1


def test_a_run_is_claimed_whatever_numbers_its_version_stores_under_a_configuration_key(
        settings, team, sandbox_configuration):
    """The claim reads the connections a version names from every `configuration` key in it: a
    value stored there that is no connection's id (3.0, 1.5, 1e30, text, in a card's data)
    reads nothing, and the run is still claimed; it once made PostgreSQL refuse the claim, so
    the run could never run."""
    from designer import engine
    from designer.models import FlowVersion
    from tests.reliability.limits import compose, deliver, webhook_flow

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # runs stay queued
    flow = webhook_flow(team, [compose("s", "a")])
    version = flow.versions.first()
    definition = dict(version.definition)
    definition["steps"] = [{**definition["steps"][0], "data": [
        {"configuration": 3.0}, {"configuration": 1.5}, {"configuration": 1e30}, {"configuration": "12"},
        {"configuration": sandbox_configuration.pk}]}]
    FlowVersion.objects.filter(pk=version.pk).update(definition=definition)
    run = deliver(flow, {"n": 1}, "odd")
    claimed = engine.run_claim(run.pk, alone=True)
    assert claimed is not None and claimed.status == RunStatus.RUNNING
    assert set(claimed._connections_read) == {sandbox_configuration.pk}


def test_a_worker_keeps_a_connections_client_between_runs_until_the_connection_changes(
        settings, make_flow, qualtrics_sandbox, sandbox_configuration):
    """A worker's next run through the same connection reuses its client (and its open
    connections); once the connection is changed (its token here), the next run makes a new one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from designer import engine

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    flow = make_flow()
    assert run_execute(deliver(flow, qualtrics_sandbox, {"recipientEmail": "ada@example.com"}).pk) == RunStatus.SUCCEEDED
    kept = engine._client_pool()[sandbox_configuration.pk][1]
    run = deliver(flow, qualtrics_sandbox, {"recipientEmail": "grace@example.com"})
    with CaptureQueriesContext(connection) as queries:
        assert run_execute(run.pk) == RunStatus.SUCCEEDED
    assert engine._client_pool()[sandbox_configuration.pk][1] is kept
    # Known as unchanged from what the claim read: the connection itself is not loaded again.
    assert not [q["sql"] for q in queries.captured_queries
                if q["sql"].startswith("SELECT") and "accounts_configuration" in q["sql"]]

    sandbox_configuration.credentials = {**sandbox_configuration.credentials, "api_token": "not-the-token"}
    sandbox_configuration.save()
    run = deliver(flow, qualtrics_sandbox, {"recipientEmail": "alan@example.com"})
    assert run_execute(run.pk) == RunStatus.FAILED
    assert engine._client_pool()[sandbox_configuration.pk][1] is not kept
    assert sorted(c["email"] for c in list_contacts(qualtrics_sandbox)) == ["ada@example.com", "grace@example.com"]
