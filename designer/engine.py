"""The run engine: walks a pinned flow version for one event and records every step.

No HTTP or view code here. A run is claimed with a lease so that two workers never run it at
once, and a run whose worker died is claimed again after the lease ends; steps that already
succeeded are not repeated (their recorded outputs are reused), so a retried run never makes the
same change twice. A step is recorded as running before it first sends a change (a POST); a
resumed run that finds it so does not send it again, since the service may have applied it. Such
a step, and one whose change the service may have applied without saying so (MaybeAppliedError),
ends in "needs attention": the run stops there, not failed, until a person resumes it without
resending the step or has it sent again once (designer/runs.py `run_resume`). The event card runs
first, like every other card, on the event's data stored with the delivery; its outputs are kept
on the run.

A service that asks for a wait longer than is slept through inline (RetryLaterError) parks the
run: the step is recorded as waiting, the run as waiting until `resume_at`, without a lease, and
the task queue (or the scheduler's tick) takes it up then; the step runs again, the others are
reused. A run waits at most RUN_MAX_WAIT_SECONDS in all. Every HTTP attempt a step makes is kept
on it (`attempt_log`), and its `attempts` are their number.

When the database goes away mid-run (a dropped connection, a lock held past the timeout), the
run is not failed: the record of a step that changed a service is written again for a while,
and otherwise the run gives up its lease so the scheduler hands it to a worker again.

A run has limits (settings RUN_MAX_*, RELIABILITY.md): steps executed, loop items and
iterations, the size of one output and of all its stored data, its time from first start, and
how often it is taken up again. Reaching one fails the run with a message naming the setting.
Every output is stored whole (or the run fails), so a resumed run sees exactly what the first
attempt saw. A heartbeat thread renews the leases of this process's runs during long steps and
reads whether someone asked to cancel one, or whether another team is waiting while one has held
its worker for RUN_SLICE_SECONDS: the run stops, or gives way, at its next step. Which queued run
a task runs is chosen fairly between teams (`_fair_pick`): a task is a turn on a worker, not a
particular run.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import (DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connection, connections,
                       transaction)
from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from connectors import registry
from connectors.coercion import coerce_inputs
from connectors.functions import evaluate_condition, iterate_list, output_limit, render_template, size_text
from connectors.http import ConnectorError, MaybeAppliedError, RetryLaterError
from connectors.specs import CardInputError, RunContext
from designer import live
from designer.files import TeamFiles
from designer.models import Run, RunStatus, RunStep

logger = logging.getLogger(__name__)

STEP_ATTEMPTS = 3
STEP_BACKOFF_SECONDS = 1.0
MAX_STORED_JSON = 32 * 1024  # before full outputs were kept, larger ones were stored as a preview
MAX_ATTEMPT_LOG = 200  # attempts listed on a step (all are counted)
WAIT_JITTER_SECONDS = 5.0
LIVE_STEP_SECONDS = 0.25
DATABASE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
HEARTBEAT_SECONDS = 0.5


class RunFailed(Exception):
    """Ends a run with a clear message."""


class _Stop(Exception):
    """Continue If said no: the run ends successfully, early."""


class _NeedsAttention(Exception):
    """A step may have changed a service without saying so: the run stops until a person decides."""


class _Wait(Exception):
    """A service asked to be called again later: the run waits, without a worker, until `resume_at`."""

    def __init__(self, message: str, *, resume_at, seconds: float) -> None:
        super().__init__(message)
        self.resume_at = resume_at
        self.seconds = seconds


class _Cancelled(Exception):
    """Someone cancelled the run: it ends cancelled at a step boundary."""


class _GiveWay(Exception):
    """The run has held its worker long enough while another team waits: it is queued again."""


def _limit(name: str) -> int:
    """A run limit from the settings (0 or less: no limit)."""
    value = getattr(settings, name, 0) or 0
    return value if value > 0 else 0


def _limit_error(what: str, name: str, advice: str = "") -> RunFailed:
    return RunFailed(f"{what} ({name}={_limit(name):,}; the operator can change it).{' ' + advice if advice else ''}")


def _lease() -> timedelta:
    return timedelta(seconds=settings.RUN_LEASE_SECONDS)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# The context of the run this thread is executing, for what `_stored` counts and names.
_running: contextvars.ContextVar[_Context | None] = contextvars.ContextVar("running_run", default=None)


def _stored(value: Any) -> str:
    """The JSON text stored for a step's data, whole: a resumed run reads exactly what the first
    attempt saw. Data over RUN_MAX_OUTPUT_BYTES, or a run's data in all over RUN_MAX_STORED_BYTES,
    fails the run instead of being stored."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = json.dumps(repr(value))
    size = len(text)
    ctx = _running.get()
    where = f"“{ctx.current[0]}” ({ctx.current[1]})" if ctx is not None and ctx.current else "A step"
    most = _limit("RUN_MAX_OUTPUT_BYTES")
    if most and size > most:
        raise _limit_error(f"{where} failed: its data is {size_text(size)}, over the limit of {size_text(most)} "
                           f"for one output", "RUN_MAX_OUTPUT_BYTES")
    if ctx is not None:
        ctx.stored_bytes += size
        most = _limit("RUN_MAX_STORED_BYTES")
        if most and ctx.stored_bytes > most:
            raise _limit_error(f"{where} failed: the run's stored data would pass {size_text(most)}, the most "
                               f"one run may store", "RUN_MAX_STORED_BYTES",
                               "A loop may be storing more than intended.")
    return text


def _preview(value: Any) -> bool:
    """Data stored only as a preview (over 32 KB, before outputs were stored whole)."""
    return isinstance(value, dict) and value.get("_truncated") is True and "preview" in value


def _stored_size(step: RunStep) -> int:
    return sum(len(json.dumps(value, default=str)) for value in (step.inputs, step.outputs))


@dataclass
class _Context:
    run: Run
    outputs: dict[str, Any] = field(default_factory=dict)
    done: dict[tuple[str, str], RunStep] = field(default_factory=dict)
    in_flight: dict[tuple[str, str], RunStep] = field(default_factory=dict)  # sent a change, outcome not recorded
    failed: dict[tuple[str, str], RunStep] = field(default_factory=dict)  # failed, but the run was not ended
    again: dict[tuple[str, str], RunStep] = field(default_factory=dict)  # waiting, or to be sent again: run anew
    attention: dict[tuple[str, str], RunStep] = field(default_factory=dict)  # left to a person
    position: int = 0
    clients: dict[int, Any] = field(default_factory=dict)
    touched: float = field(default_factory=time.monotonic)  # when the run row was last renewed
    # Limits (RUN_MAX_*) and what the heartbeat saw.
    steps: int = 0  # step executions so far, those reused from an earlier attempt included
    iterations: int = 0  # For Each iterations so far
    stored_bytes: int = 0  # the run's stored step data
    deadline: float | None = None  # time.monotonic() by which the run must end (RUN_MAX_SECONDS)
    current: tuple[str, str] | None = None  # the card name and step id being run
    claimed: float = field(default_factory=time.monotonic)
    cancelled: bool = False  # set by the heartbeat: someone asked to cancel the run
    give_way: bool = False  # set by the heartbeat: another team waits, and the run has had its slice
    # A step's record may wait for the run's next write, so that both are one turn of SQLite's
    # single write lock, or one round trip to PostgreSQL (`_write`): `deferred` holds its
    # statements. A record of a step that made no change (its loss only means the step runs again)
    # waits for the next write of any kind; the record of a change made (`deferred_durable`) only
    # until the next step begins, so that it is joined to the run's finish when the step was the last.
    defer: bool = False
    deferred: list[tuple[str, list, bool]] = field(default_factory=list)
    deferred_durable: bool = False
    deferred_renew: bool = False
    # The event's outputs, recorded on the event step, are copied to the run's `trigger` by the
    # write that ends the run's turn (its finish, a pause, giving way) rather than by a write of
    # the run's row of their own. A run resumed before that reads them from the event step.
    trigger_pending: bool = False
    # The next run of the task's turns (`runs_execute`): claimed, as its own turn, by the query
    # that ends this run (`_finish`), for the thread's next turn (`_claimed_ahead`).
    then: int | None = None

    def resolve(self, ref: str) -> Any:
        step_id, _, path = ref.partition(".")
        if step_id not in self.outputs:
            raise CardInputError(f"The output '{ref}' is not available: its card has not run.")
        value: Any = self.outputs[step_id]
        if path in value:
            return value[path]
        for part in path.split("."):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value

    def value(self, raw: Any) -> Any:
        if isinstance(raw, dict) and set(raw) == {"ref"}:
            return self.resolve(raw["ref"])
        return raw

    def private_allowed(self, configuration_id: int, owner_id: int | None) -> bool:
        return _private_allowed(self.run, configuration_id, owner_id)

    def client(self, configuration_id: int | None):
        from accounts.models import Configuration

        if configuration_id is None:
            raise RunFailed("This card has no connection: choose one in the editor.")
        if configuration_id not in self.clients:
            # When it last changed, to see whether the kept client is still this connection's; the
            # connection itself (and its secrets, decrypted) only when a new client is needed. Read
            # with the run's claim when its version names it (`_Statements.claim`).
            row = getattr(self.run, "_connections_read", {}).pop(configuration_id, None)
            if row is None:
                with connection.cursor() as cursor:
                    cursor.execute(_sql().prepared(_sql().configuration), [configuration_id, self.run.team_id])
                    row = cursor.fetchone()
            if row is None:
                raise RunFailed("The connection this card uses was deleted: choose another one in the editor.")
            if not row[2] and not self.private_allowed(configuration_id, row[3]):
                label = registry.connector(row[0]).connection_label
                raise CardInputError(f"The {label} “{row[4]}” is private to its owner, who did not add it to this "
                                     f"card: ask them to share it, or choose another one in the editor.")
            client = _kept_client(_identity(configuration_id, row[0], row[1]))
            if client is None:
                configuration = Configuration.objects.filter(pk=configuration_id, team_id=self.run.team_id).first()
                if configuration is None:
                    raise RunFailed("The connection this card uses was deleted: choose another one in the editor.")
                client = _pooled_client(configuration)
            self.clients[configuration_id] = client
        return self.clients[configuration_id]


def _private_allowed(run: Run, configuration_id: int, owner_id: int | None) -> bool:
    """Whether the run's version may use a private connection: its owner is still an editor of the
    team, and every card that names it is the owner's, that is, the version is theirs or those cards
    are unchanged back to a version they saved (the rule saves follow, designer/services.py)."""
    from accounts.models import Membership
    from designer.models import FlowVersion
    from designer.validation import step_unchanged, steps_by_id

    owner = Membership.objects.filter(team_id=run.team_id, user_id=owner_id).first() if owner_id else None
    if owner is None or not owner.can_edit:
        return False
    versions = (FlowVersion.objects.filter(flow_id=run.flow_id, number__lte=run.version.number)
                .order_by("-number").values_list("created_by_id", "definition"))
    cards = None
    for author, definition in versions.iterator(chunk_size=10):
        nodes = steps_by_id(definition)
        if cards is None:  # the run's own version
            cards = [n for n in nodes.values() if n.get("configuration") == configuration_id]
        elif not all(step_unchanged(card, nodes) for card in cards):
            return False
        if author == owner_id:
            return True
    return False


# Clients (and so their pooled connections) outlive a run: a worker running one run after another
# for the same configuration reuses its connections instead of opening new ones for every run.
# A client is kept per thread, for one configuration as it is now (a changed token or data center
# makes a new one), and dropped after a short idle time.
CLIENT_IDLE_SECONDS = 30.0
CLIENTS_KEPT = 32
_clients = threading.local()


# Settings a client is built from (a service's address, its timeouts) may change in a process
# that keeps clients, as tests do: each change starts a new generation of kept clients.
_generation = [0]


@receiver(setting_changed)
def _settings_changed(setting=None, **kwargs) -> None:
    _generation[0] += 1
    if setting == "DATABASE_PREPARED_STATEMENTS":
        _statements_by_vendor.clear()


def _identity(configuration_id: int, connector: str, updated_at: Any) -> tuple:
    """A kept client's key. `updated_at` as read anywhere (the ORM's datetime, a raw statement's,
    or the claim's JSON text) is written the one way the database takes it."""
    return (configuration_id, connector, str(_when(_from_db(updated_at))), _generation[0])


def _client_pool() -> dict[int, tuple[tuple, Any, float]]:
    pool = getattr(_clients, "pool", None)
    if pool is None:
        pool = _clients.pool = {}
    return pool


def _kept_client(identity: tuple):
    """This thread's client for the configuration as `identity` describes it, if one is kept."""
    pool = _client_pool()
    now = time.monotonic()
    kept = pool.get(identity[0])
    if kept is None or kept[0] != identity or now - kept[2] >= CLIENT_IDLE_SECONDS:
        return None
    del pool[identity[0]]
    pool[identity[0]] = (identity, kept[1], now)  # the most recently used last
    return kept[1]


def _pooled_client(configuration):
    from designer.triggers import connection_client

    pool = _client_pool()
    identity = _identity(configuration.pk, configuration.connector, configuration.updated_at)
    now = time.monotonic()
    kept = pool.pop(configuration.pk, None)
    if kept is not None and kept[0] == identity and now - kept[2] < CLIENT_IDLE_SECONDS:
        client = kept[1]
    else:
        if kept is not None:
            kept[1].close()
        client = connection_client(configuration)
    pool[configuration.pk] = (identity, client, now)
    while len(pool) > CLIENTS_KEPT:
        pool.pop(next(iter(pool)))[1].close()
    return client


# The statements of a run's hot path (its claim, its delivery, each step's record, the lease and
# the finish), written once per database: building them with the ORM for every run cost more CPU
# than running them, and that CPU is what limits a worker's runs per second. The rest of the
# engine (resuming, progress, failures) uses the ORM.


class _Statements:
    def __init__(self) -> None:
        from accounts.models import Configuration
        from designer.models import Delivery, Flow, FlowVersion

        quote = connection.ops.quote_name
        json_param = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
        run, step = quote(Run._meta.db_table), quote(RunStep._meta.db_table)
        delivery, version = quote(Delivery._meta.db_table), quote(FlowVersion._meta.db_table)
        self.returning = connection.features.can_return_columns_from_insert
        # On PostgreSQL the records of a run's progress are committed without waiting for the WAL
        # to reach the disk (`set_config(..., true)` holds until the end of the statement's own
        # transaction), as SQLite's synchronous=NORMAL commits every write of the embedded default.
        # A crash of the database server may lose the last fraction of a second of them; the run is
        # then taken up again under its lease and resumes. Two kinds of write keep waiting for the
        # disk: a delivery before it is acknowledged (designer/webhooks.py), and the in-flight record
        # of a change (`step_insert` with RETURNING id), which must be on disk before the change is
        # sent so that a resumed run never sends it twice (joined to a record that waited, it is
        # preceded by `commit_to_disk`).
        lazy = "set_config('synchronous_commit', 'off', true)" if connection.vendor == "postgresql" else ""
        where_lazy = f" AND {lazy} IS NOT NULL" if lazy else ""
        # The team's connections that the run's version names ({"configuration": id} anywhere in
        # it), as a JSON list of [id, connector, updated_at, shared, owner_id, name]: read with the
        # claim, so that a card's first call makes no statement of its own (`_Context.client`).
        config_table = quote(Configuration._meta.db_table)
        if connection.vendor == "postgresql":
            named = (f"SELECT (j #>> '{{}}')::numeric FROM {version} x, "
                     f"jsonb_path_query(x.definition, 'strict $.**.configuration ? (@.type() == \"number\")') j "
                     f"WHERE x.id = {run}.version_id")
            as_json = "json_agg(json_build_array(c.id, c.connector, c.updated_at, c.shared, c.owner_id, c.name))::text"
        else:
            named = (f"SELECT t.value FROM {version} x, json_tree(x.definition) t "
                     f"WHERE x.id = {run}.version_id AND t.key = 'configuration' AND t.type = 'integer'")
            as_json = "json_group_array(json_array(c.id, c.connector, c.updated_at, c.shared, c.owner_id, c.name))"
        connections_named = (f"(SELECT {as_json} FROM {config_table} c "
                             f"WHERE c.team_id = {run}.team_id AND c.id IN ({named}))")
        # Queued, running under an expired lease (its worker died), or waiting past its time.
        self.claim = (
            f"UPDATE {run} SET status = %s, lease_until = %s, attempts = attempts + 1, "
            f"started_at = COALESCE(started_at, %s), updated_at = %s, resume_at = NULL, wait_message = '' "
            f"WHERE id = %s AND (status = %s OR (status = %s AND lease_until < %s) "
            f"OR (status = %s AND resume_at <= %s)){where_lazy} "
            f"RETURNING flow_id, team_id, version_id, delivery_id, rerun_of_id, trigger, attempts, created_at, error, "
            f"current_step, progress, started_at, yields, cancel_requested_at, waited_seconds, "
            # What the run reads and shows, in the same statement: its delivery, its pinned
            # version (NULL when deleted with its flow meanwhile) and its flow's name.
            + ", ".join(f"(SELECT {column} FROM {table} x WHERE x.id = {run}.{key})" for column, table, key in (
                ("event_id", delivery, "delivery_id"), ("payload", delivery, "delivery_id"),
                ("source", delivery, "delivery_id"), ("number", version, "version_id"),
                ("definition", version, "version_id"), ("name", quote(Flow._meta.db_table), "flow_id")))
            + f", {connections_named}"
        )
        # Whether a team other than that of the run `row` has queued runs (two parameters, the
        # queued status): two probes of the status/team index on either side of the run's team.
        # They start past that team's own entries, which on PostgreSQL include those of every run
        # it finished since the table was last vacuumed (a status change leaves the old entry behind).
        def others_waiting(row: str) -> str:
            return (f"(EXISTS(SELECT 1 FROM {run} q WHERE q.status = %s AND q.team_id < {row}.team_id) "
                    f"OR EXISTS(SELECT 1 FROM {run} q WHERE q.status = %s AND q.team_id > {row}.team_id))")

        # The claim of a task's own run when no other team has queued runs: a turn that is the
        # run's own whatever `_fair_pick` would say, in one statement. Within NOT (… OR …)
        # PostgreSQL keeps the probes as two look-ups of the run's team; two ANDed NOT EXISTS
        # became anti-joins, planned at 0.6 ms where the pick and claim took 0.18.
        self.claim_alone = self.claim.replace(
            f"{where_lazy} RETURNING ", f" AND NOT {others_waiting(run)}{where_lazy} RETURNING ", 1)
        # The run's status and team, and whether another team has queued runs.
        self.pick = f"SELECT status, team_id, {others_waiting('r')} FROM {run} r WHERE id = %s"
        # The teams with queued runs: a skip scan of the status/team index, one probe per team
        # however long a team's backlog.
        self.queued_teams = (
            f"WITH RECURSIVE teams(team_id) AS ("
            f"SELECT MIN(team_id) FROM {run} WHERE status = %s "
            f"UNION ALL SELECT (SELECT MIN(team_id) FROM {run} WHERE status = %s AND team_id > teams.team_id) "
            f"FROM teams WHERE teams.team_id IS NOT NULL) "
            f"SELECT team_id FROM teams WHERE team_id IS NOT NULL LIMIT 1000"
        )
        # A team's oldest queued run.
        self.oldest_queued = f"SELECT id FROM {run} WHERE status = %s AND team_id = %s ORDER BY id LIMIT 1"
        # The run's status, whether it was asked to stop, and whether another team waits.
        self.heartbeat = f"SELECT status, cancel_requested_at, {others_waiting('r')} FROM {run} r WHERE id = %s"
        self.heartbeat_renew = (f"UPDATE {run} SET lease_until = %s WHERE id = %s AND status = %s{where_lazy}")
        self.give_way = (f"UPDATE {run} SET status = %s, lease_until = NULL, attempts = attempts - 1, "
                         f"yields = yields + 1, current_step = '', progress = NULL, updated_at = %s "
                         f"WHERE id = %s AND status = %s")
        self.configuration = (f"SELECT connector, updated_at, shared, owner_id, name FROM "
                              f"{config_table} WHERE id = %s AND team_id = %s")
        self.step_insert = (
            f"INSERT INTO {step} (run_id, position, step_id, card, name, iteration, status, inputs, outputs, error, "
            f"attempts, attempt_log, duration_ms, started_at, resolution) VALUES (%s, %s, %s, %s, %s, %s, %s, "
            f"{json_param}, {json_param}, %s, %s, {json_param}, %s, %s, '')"
        )
        self.step_insert_lazy = self.step_insert + (f" RETURNING {lazy}" if lazy else "")
        self.step_update = (f"UPDATE {step} SET status = %s, inputs = {json_param}, outputs = {json_param}, error = %s, "
                            f"attempts = %s, attempt_log = {json_param}, duration_ms = %s WHERE id = %s{where_lazy}")
        self.mark_again = f"UPDATE {step} SET status = %s WHERE id = %s"
        self.renew = f"UPDATE {run} SET updated_at = %s, lease_until = %s WHERE id = %s{where_lazy}"
        self.renew_trigger = (f"UPDATE {run} SET updated_at = %s, lease_until = %s, trigger = {json_param} "
                              f"WHERE id = %s{where_lazy}")
        # On PostgreSQL a step's record and the run's renewal are one statement (one round trip
        # instead of BEGIN, two statements and COMMIT): the step in a data-modifying WITH, the run
        # updated only if the step was written, so that neither is stored without the other. The
        # event's outputs, kept on the run as its trigger, are the step's outputs as written: sent
        # once, not twice.
        self.step_then_renew = None
        if connection.vendor == "postgresql":
            step_update = self.step_update.removesuffix(where_lazy)
            renew = (f"UPDATE {run} SET updated_at = %s, lease_until = %s{{trigger}} WHERE id = %s "
                     f"AND EXISTS (SELECT 1 FROM s){where_lazy}")
            self.step_then_renew = {
                (marked, with_trigger): f"WITH s AS ({step_update if marked else self.step_insert} "
                f"RETURNING {'outputs' if with_trigger else '1'}) "
                + renew.format(trigger=", trigger = (SELECT outputs FROM s)" if with_trigger else "")
                for marked in (False, True) for with_trigger in (False, True)
            }
        # Statements joined into one query (PostgreSQL with client-side binding, Django's default):
        # the simple query protocol runs them in one round trip, as one transaction.
        self.joined = connection.vendor == "postgresql" and not connection.settings_dict.get(
            "OPTIONS", {}).get("server_side_binding")
        # Undoes the statements' `lazy` before a record that must be on disk when committed.
        self.commit_to_disk = "SELECT set_config('synchronous_commit', 'on', true)" if lazy else None
        self.finish = (f"UPDATE {run} SET status = %s, error = %s, finished_at = %s, lease_until = NULL, "
                       f"current_step = '', progress = NULL, updated_at = %s WHERE id = %s{where_lazy}")
        # The run's end with the event's outputs (`_Context.trigger_pending`), taken from the event
        # step's record, which is written first (in the same transaction, or before it).
        self.event_outputs = (f"(SELECT outputs FROM {step} WHERE run_id = {run}.id AND step_id = 'trigger' "
                              f"AND iteration = '' ORDER BY position DESC LIMIT 1)")
        self.finish_trigger = self.finish.replace(" WHERE id = %s", f", trigger = {self.event_outputs} WHERE id = %s", 1)
        self.store_trigger = f"UPDATE {run} SET trigger = {self.event_outputs} WHERE id = %s"
        # On PostgreSQL with client-side binding every statement sent is parsed and planned again:
        # half of the database's CPU per run went to planning these (`pg_stat_statements`). Each
        # is prepared once per connection instead (`PREPARE`, its plan kept by the server) and sent
        # as `EXECUTE name(values)`, which still joins with others into one query.
        self.prepare = self.joined and settings.DATABASE_PREPARED_STATEMENTS
        self._forms: dict[str, tuple[str, str, str]] = {}

    def prepared(self, text: str) -> str:
        """`text` as it is sent on this thread's connection: `EXECUTE name(%s, …)` of the statement
        prepared on it (prepared now if not yet), or `text` itself where statements are not prepared."""
        if not self.prepare:
            return text
        forms = self._forms.get(text)
        if forms is None:
            forms = self._forms[text] = _prepare_forms(text)
        name, prepare, execute = forms
        wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's (`connection` is a proxy shared by all)
        raw = wrapper.connection
        kept = wrapper.__dict__.get("_prepared_statements")
        if kept is None or kept[0] is not raw:  # a new connection has none
            kept = wrapper.__dict__["_prepared_statements"] = (raw, set())
        if name not in kept[1]:
            with connection.cursor() as cursor:  # PREPARE is not undone by a rollback: its own query
                cursor.execute(prepare)
            kept[1].add(name)
        return execute

    def written_out(self, sql: str) -> str:
        """A query as sent, each `EXECUTE` of a statement prepared here written out as the statement
        (its parameters as `%s`): for reading which statements a query ran."""
        names = {forms[0]: text for text, forms in self._forms.items()}
        return "; ".join(names.get(part.removeprefix("EXECUTE ").split("(")[0], part) if part.startswith("EXECUTE ")
                         else part for part in sql.split("; "))


def _prepare_forms(text: str) -> tuple[str, str, str]:
    """A statement's name, its PREPARE (`%s` numbered as `$1`, `$2`, …) and its EXECUTE with the
    same parameters. The server infers each parameter's type from where it stands."""
    parts = text.split("%s")
    name = "qf_" + hashlib.sha1(text.encode()).hexdigest()[:16]
    body = parts[0] + "".join(f"${number}{part}" for number, part in enumerate(parts[1:], start=1))
    values = f"({', '.join(['%s'] * (len(parts) - 1))})" if len(parts) > 1 else ""
    return name, f"PREPARE {name} AS {body}", f"EXECUTE {name}{values}"


_statements_by_vendor: dict[str, _Statements] = {}


def _sql() -> _Statements:
    statements = _statements_by_vendor.get(connection.vendor)
    if statements is None:
        statements = _statements_by_vendor[connection.vendor] = _Statements()
    return statements


def _when(value):
    """A datetime as the database takes it (SQLite: UTC text, as the ORM stores it)."""
    return connection.ops.adapt_datetimefield_value(value)


def _loaded(model, **values):
    """An instance as the ORM loads one with only these fields; the others are read when used."""
    return model.from_db(connection.alias, values, [values[f.attname] for f in model._meta.concrete_fields
                                                     if f.attname in values])


def _from_db(value):
    """A datetime read with a raw statement (SQLite gives UTC text) as the ORM would give it."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and hasattr(value, "tzinfo") and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def run_claim(run_id: int, *, alone: bool = False) -> Run | None:
    """Takes the run if it is queued, or running under an expired lease (its worker died); with
    `alone`, only if no other team has queued runs."""
    now = timezone.now()
    text, params = _claim_statement(run_id, now, alone=alone)
    with connection.cursor() as cursor:
        cursor.execute(_sql().prepared(text), params)
        row = cursor.fetchone()
    return _claimed(run_id, row, now)


def _claim_statement(run_id: int, now, *, alone: bool) -> tuple[str, list]:
    """The claim of `run_id` at `now` (`run_claim`) and its parameters."""
    sql = _sql()
    at = _when(now)
    params = [RunStatus.RUNNING, _when(now + _lease()), at, at, run_id,
              RunStatus.QUEUED, RunStatus.RUNNING, at, RunStatus.WAITING, at]
    if alone:
        params += [RunStatus.QUEUED, RunStatus.QUEUED]
    return (sql.claim_alone if alone else sql.claim), params


def _claimed(run_id: int, row: tuple | None, now) -> Run | None:
    """The run a claim made at `now` returned as `row` (None: it was not taken)."""
    from designer.models import Delivery, Flow, FlowVersion

    if row is None:
        return None
    (flow_id, team_id, version_id, delivery_id, rerun_of_id, trigger, attempts, created_at, error, step, progress,
     started_at, yields, cancel_requested_at, waited_seconds, event_id, payload, source, number, definition,
     flow_name, connections) = row
    if version_id is not None and number is None:  # deleted with its flow meanwhile
        return None
    # What the run reads (its pinned version and its delivery) and what its live updates show
    # (`run_json`, with the flow's name), so that publishing one reads nothing more.
    run = _loaded(Run, id=run_id, flow_id=flow_id, team_id=team_id, version_id=version_id, delivery_id=delivery_id,
                  rerun_of_id=rerun_of_id, status=RunStatus.RUNNING, trigger=_json(trigger), attempts=attempts,
                  lease_until=now + _lease(), started_at=_from_db(started_at), finished_at=None,
                  created_at=_from_db(created_at), error=error, current_step=step, progress=progress, yields=yields,
                  cancel_requested_at=_from_db(cancel_requested_at), resume_at=None, wait_message="",
                  waited_seconds=float(waited_seconds or 0))
    run.flow = _loaded(Flow, id=flow_id, name=flow_name)
    run.version = None
    if version_id is not None:
        run.version = _loaded(FlowVersion, id=version_id, flow_id=flow_id, number=number, definition=_json(definition))
        run.version.flow = run.flow
    run.delivery = None
    if delivery_id is not None and event_id is not None:
        run.delivery = _loaded(Delivery, id=delivery_id, flow_id=flow_id, event_id=event_id, payload=_json(payload),
                               source=source)
    run._connections_read = {item[0]: tuple(item[1:]) for item in _json(connections) or []}
    return run


def runs_execute(run_ids: list[int]) -> None:
    """Several runs' turns, one after the other (the `execute_runs` task). Each is `run_execute`'s,
    except that the claim of the next turn's run, as its own, is sent with the finish of the run
    before (`_Context.then`): one query and one transaction, not two. A run that fails does not
    keep the turns after it from running."""
    for index, run_id in enumerate(run_ids):
        try:
            run_execute(run_id, then=run_ids[index + 1] if index + 1 < len(run_ids) else None)
        except Exception:
            logger.exception("Run %s failed in its worker; the turns after it go on.", run_id)


# A run claimed before its turn on this thread, by id (None: the claim took nothing): with the
# finish of the run before (`runs_execute`), or with the task that runs it (`run_claim_with_task`).
# The thread's next `run_execute` starts from it, or forgets it. And what the thread's next finish
# claims besides (`run_finish_claims`).
_claimed_ahead = threading.local()


def run_claim_with_task(run_id: int | None) -> None:
    """Claims `run_id` as its own turn (as `run_execute` first does), in the caller's transaction:
    the database worker's claim of the `execute_run` task that runs it (designer/dbtasks.py
    `Claim`), one write turn instead of two. None forgets a run so claimed and not run."""
    _claimed_ahead.runs = {run_id: run_claim(run_id, alone=True)} if run_id is not None else {}


def run_finish_claims(claim: Callable[[], None] | None) -> None:
    """Has the next run this thread ends (`_finish`) call `claim` in the transaction of its
    finish, once: the database worker's claim of its next task (designer/dbtasks.py `Claim`),
    so that a run's end and the next one's start take the write lock once, not twice. None
    takes it back (the task ended without finishing a run, or the worker is stopping)."""
    _claimed_ahead.finish_claims = claim


def run_execute(run_id: int, *, then: int | None = None) -> str | None:
    """Runs a queued run on this task's turn: the fairest one to run next (`_fair_pick`), which is
    `run_id` unless another team has waited longer for this worker, or `run_id` resumed when its
    worker died. It starts from the run claimed ahead of its turn (`_claimed_ahead`), if that is
    `run_id`; with `then`, the run's finish claims that run for the thread's next turn."""
    claimed, _claimed_ahead.runs = getattr(_claimed_ahead, "runs", None) or {}, {}  # for this turn only
    if run_id in claimed:
        run = claimed.pop(run_id)
    else:
        # No other team waiting: the turn is the run's own, and the claim asks that in the same statement.
        run = run_claim(run_id, alone=True)
    if run is None:
        for _ in range(3):  # another worker may claim the chosen run first
            chosen = _fair_pick(run_id)
            run = run_claim(chosen)
            if run is not None or chosen == run_id:
                break
        if run is None:
            run = run_claim(run_id)
    if run is None:
        return None
    _served[run.team_id] = time.monotonic()
    try:
        _execute(run, then=then)
    except (OperationalError, InterfaceError) as exc:
        if not _database_unavailable(exc):
            raise
        _interrupted(run, exc)
        return None
    return run.status


# When this process's worker last started a run of each team (time.monotonic()): the team it
# served longest ago goes first.
_served: dict[int, float] = {}


def _fair_pick(run_id: int) -> int:
    """The run this task's turn goes to. A task is enqueued with every queued run, so there are
    always as many turns as queued runs, and each turn may go to any of them: to the oldest queued
    run of the team this worker served longest ago, rather than to the next of one team's backlog.
    `run_id` itself when it is running (its worker died: it is resumed), or when its team is among
    those served longest ago."""
    sql = _sql()
    with connection.cursor() as cursor:
        cursor.execute(sql.prepared(sql.pick), [RunStatus.QUEUED, RunStatus.QUEUED, run_id])
        row = cursor.fetchone()
        if row is not None and (row[0] == RunStatus.RUNNING or (row[0] == RunStatus.QUEUED and not row[2])):
            return run_id  # resumed, or no other team waits
        cursor.execute(sql.prepared(sql.queued_teams), [RunStatus.QUEUED, RunStatus.QUEUED])
        teams = [team_id for (team_id,) in cursor.fetchall()]
        if not teams:
            return run_id
        queued_team = row[1] if row is not None and row[0] == RunStatus.QUEUED else None
        first = min(_served.get(team_id, 0.0) for team_id in teams)
        if queued_team in teams and _served.get(queued_team, 0.0) <= first:
            return run_id
        team_id = min(teams, key=lambda team: (_served.get(team, 0.0), team))
        cursor.execute(sql.prepared(sql.oldest_queued), [RunStatus.QUEUED, team_id])
        found = cursor.fetchone()
    return found[0] if found is not None else run_id


def _execute(run: Run, *, then: int | None = None) -> None:
    live.publish_run(run)
    ctx = _Context(run=run, defer=True, then=then)
    seconds = _limit("RUN_MAX_SECONDS")
    if seconds:  # time spent waiting as a service asked does not count
        started = run.started_at or timezone.now()
        spent = (timezone.now() - started).total_seconds() - float(run.waited_seconds or 0)
        ctx.deadline = time.monotonic() + seconds - max(0.0, spent)
    if run.attempts > 1 or run.yields:  # an earlier attempt may have recorded steps
        steps = list(run.steps.all())
        ctx.done = {(s.step_id, s.iteration): s for s in steps if s.status == RunStatus.SUCCEEDED}
        ctx.in_flight = {(s.step_id, s.iteration): s for s in steps if s.status == RunStatus.RUNNING}
        ctx.failed = {(s.step_id, s.iteration): s for s in steps if s.status == RunStatus.FAILED}
        _resumable(ctx, steps)
        ctx.position = len(steps)
        ctx.stored_bytes = sum(_stored_size(s) for s in steps)
    definition = run.version.definition if run.version is not None else {}  # none: a step test
    token = _running.set(ctx)
    _heartbeat.add(ctx)
    try:
        most = _limit("RUN_MAX_ATTEMPTS")
        if most and run.attempts > most:
            raise RunFailed(
                f"The worker running it stopped {run.attempts - 1} times before the run ended, so it was not "
                f"started again (RUN_MAX_ATTEMPTS={most}; the operator can change it). Check the steps it "
                f"recorded, then re-run it."
            )
        if run.cancel_requested_at is not None:
            raise _Cancelled()
        if is_step_test(run.delivery):
            raise RunFailed("This step test was interrupted before it ended; step tests are not run again. "
                            "Test the step again in the editor.")
        ctx.current = ("Event", "trigger")
        ctx.outputs["trigger"] = _trigger_outputs(ctx, definition.get("event") or {})
        if _preview(ctx.outputs["trigger"]):
            raise RunFailed(_preview_error("The event's data"))
        _walk(ctx, definition.get("steps") or [], iteration="")
    except _Stop:
        _finish(run, RunStatus.STOPPED, "", ctx)
    except _NeedsAttention as exc:
        _pause(run, RunStatus.ATTENTION, str(exc), ctx)
    except _Wait as exc:
        _pause(run, RunStatus.WAITING, str(exc), ctx, resume_at=exc.resume_at, waited=exc.seconds)
    except _Cancelled:
        _finish(run, RunStatus.CANCELLED, "Cancelled at a person's request before the run ended.", ctx)
    except _GiveWay:
        _give_way(run, ctx)
    except RunFailed as exc:
        _finish(run, RunStatus.FAILED, str(exc), ctx)
    except Exception as exc:  # a bug must fail the run visibly, not leave it running
        if _database_unavailable(exc):
            raise  # not a bug: the run goes on once the database is back
        logger.exception("Run %s crashed", run.pk)
        _finish(run, RunStatus.FAILED, f"Internal error: {type(exc).__name__}. The team has been notified in the logs.",
                ctx)
    else:
        _finish(run, RunStatus.SUCCEEDED, "", ctx)
    finally:
        _heartbeat.remove(ctx)
        _running.reset(token)


def _preview_error(what: str) -> str:
    return (f"{what} was stored only as a preview (it was over {MAX_STORED_JSON // 1024} KB when this run "
            f"first ran), so this resumed run cannot use it without losing data. Re-run the flow.")


def _give_way(run: Run, ctx: _Context) -> None:
    """Queues the run again behind the other teams' waiting runs; it resumes from its recorded steps
    (the step record waiting in `ctx` written first)."""
    from designer.tasks import execute_run

    _write(ctx, _trigger_statements(ctx))
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_sql().prepared(_sql().give_way), [RunStatus.QUEUED, _when(now), run.pk, RunStatus.RUNNING])
        queued = cursor.rowcount == 1
    if not queued:
        return
    run.status, run.lease_until, run.current_step, run.progress = RunStatus.QUEUED, None, "", None
    run.attempts -= 1
    run.yields += 1
    live.publish_run(run)
    try:
        execute_run.enqueue(run.pk)
    except Exception:  # the scheduler hands over runs queued for a minute
        logger.exception("Run %s gave way to another team's run but could not be enqueued again", run.pk)


def _resumable(ctx: _Context, steps: list[RunStep]) -> None:
    """Steps a resumed run takes up again: waiting ones, ones a person asked to send again (their
    records are reused), and ones still left to a person."""
    for s in steps:
        if s.status in (RunStatus.WAITING, RunStatus.QUEUED):
            ctx.again[(s.step_id, s.iteration)] = s
        elif s.status == RunStatus.ATTENTION:
            ctx.attention[(s.step_id, s.iteration)] = s


def _pause(run: Run, status: str, message: str, ctx: _Context, *, resume_at=None, waited: float = 0.0) -> None:
    """Stops the run without ending it: it needs a person (attention), or waits until `resume_at`.
    Its lease is given up, so no worker holds it meanwhile; the step record waiting in `ctx` is
    written first."""
    _write(ctx, _trigger_statements(ctx))
    now = timezone.now()
    run.status, run.lease_until, run.current_step, run.progress, run.updated_at = status, None, "", None, now
    run.resume_at = resume_at
    # Taken up again later, as after giving way, its recorded steps reused then; a wait is not an
    # attempt (RUN_MAX_ATTEMPTS counts the runs whose worker stopped), nor is a person's resume
    # (runs.run_resume).
    run.yields += 1
    changes = {"status": status, "lease_until": None, "current_step": "", "progress": None, "updated_at": now,
               "resume_at": resume_at, "yields": F("yields") + 1}
    if status == RunStatus.WAITING:
        run.attempts -= 1
        changes["attempts"] = F("attempts") - 1
    if status == RunStatus.WAITING:
        run.waited_seconds = changes["waited_seconds"] = (run.waited_seconds or 0) + waited
        run.wait_message = changes["wait_message"] = message[:300]
        run.error = changes["error"] = ""
    else:
        run.error = changes["error"] = message
        run.wait_message = changes["wait_message"] = ""
    Run.objects.filter(pk=run.pk).update(**changes)
    live.publish_run(run)
    if status == RunStatus.WAITING:
        from designer.runs import run_enqueue_at

        run_enqueue_at(run.pk, resume_at)


def _trigger_statements(ctx: _Context) -> list[tuple[str, list, bool]]:
    """The write of the event's outputs to the run's row, when it waits for the end of the turn."""
    if not ctx.trigger_pending:
        return []
    ctx.trigger_pending = False
    return [(_sql().store_trigger, [ctx.run.pk], False)]


def _database_unavailable(exc: BaseException) -> bool:
    """A lost connection, a database shut down or locked past its timeout, rather than a bug."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    # PostgreSQL: connection exception, rollback, insufficient resources, operator intervention.
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return sqlstate[:2] in ("08", "40", "53", "57") or any(
        word in str(exc).lower() for word in ("connection", "locked", "timeout")
    )


def _interrupted(run: Run, exc: Exception) -> None:
    """Gives up the run's lease so that the scheduler's stalled-run pass hands it out again soon."""
    logger.warning("Run %s was interrupted by the database and will be resumed: %s", run.pk, exc)
    try:
        if not connection.in_atomic_block:
            connection.close()  # the next query opens a new connection
        Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(lease_until=timezone.now())
    except DatabaseError:
        pass  # the lease runs out by itself


class _Heartbeat:
    """One daemon thread per process, for the runs this process is executing: it renews a run's
    lease when no step has renewed it for a third of the lease (a long step), and reads whether
    someone asked to cancel the run, or whether another team has a queued run while this one has
    held its worker for RUN_SLICE_SECONDS. What it finds, the run acts on at its next step."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[int, _Context] = {}
        self.thread: threading.Thread | None = None

    def add(self, ctx: _Context) -> None:
        with self.lock:
            self.runs[id(ctx)] = ctx
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self.loop, name="run-heartbeat", daemon=True)
                self.thread.start()

    def remove(self, ctx: _Context) -> None:
        with self.lock:
            self.runs.pop(id(ctx), None)

    def loop(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            with self.lock:
                runs = [ctx for ctx in self.runs.values() if time.monotonic() - ctx.claimed >= HEARTBEAT_SECONDS]
            try:
                for ctx in runs:
                    _beat(ctx)
            except Exception as exc:  # the database went away, say: the next beat tries again
                logger.warning("Run heartbeat failed: %s", exc)
                try:
                    connection.close()
                except Exception:
                    pass
            if not runs:
                try:
                    connection.close()  # no connection kept while this process runs nothing
                except Exception:
                    pass


def _beat(ctx: _Context) -> None:
    run = ctx.run
    sql = _sql()
    with connection.cursor() as cursor:
        cursor.execute(sql.prepared(sql.heartbeat), [RunStatus.QUEUED, RunStatus.QUEUED, run.pk])
        row = cursor.fetchone()
        if row is None:
            return
        status, cancel_requested_at, others_waiting = row
        if cancel_requested_at is not None or status == RunStatus.CANCELLED:
            ctx.cancelled = True
        slice_seconds = _limit("RUN_SLICE_SECONDS")
        if slice_seconds and others_waiting and time.monotonic() - ctx.claimed >= slice_seconds:
            ctx.give_way = True
        if status == RunStatus.RUNNING and time.monotonic() - ctx.touched >= _lease().total_seconds() / 3:
            cursor.execute(sql.prepared(sql.heartbeat_renew),
                           [_when(timezone.now() + _lease()), run.pk, RunStatus.RUNNING])
            ctx.touched = time.monotonic()


_heartbeat = _Heartbeat()


def _finish(run: Run, status: str, error: str, ctx: _Context | None = None) -> None:
    """Ends the run, in the same transaction as the step record waiting in `ctx`, if any."""
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.lease_until = None
    run.current_step, run.progress = "", None
    run.updated_at = timezone.now()
    pending = ctx is not None and ctx.trigger_pending
    statements = [(_sql().finish_trigger if pending else _sql().finish,
                   [status, error, _when(run.finished_at), _when(run.updated_at), run.pk], False)]
    then = ctx.then if ctx is not None else None
    if then is None:
        claim, _claimed_ahead.finish_claims = getattr(_claimed_ahead, "finish_claims", None), None  # once
        _write(ctx, statements, after=claim)
    else:  # the next turn's claim, as in `run_execute`, last: its row is the query's result
        now = timezone.now()
        row = _write(ctx, statements, claim=_claim_statement(then, now, alone=True))
        _claimed_ahead.runs = {then: _claimed(then, row, now)}
    live.publish_run(run)


def _write(ctx: _Context | None, statements: list[tuple[str, list, bool]], *, durable: bool = False,
           publish: bool = False, returning: bool = False, claim: tuple[str, list] | None = None,
           after: Callable[[], None] | None = None) -> Any:
    """Executes the step record waiting in `ctx` (`_Context.deferred`), then `statements` (SQL,
    parameters, whether it must change exactly one row), in one transaction when there is more
    than one: on PostgreSQL as one query (its statements joined, one round trip), on SQLite between
    BEGIN and COMMIT. With `returning`, the id the last statement inserted. With `claim` (a claim's
    SQL and parameters), that claim last and its row (None if it took nothing); with `after`, a
    callable that writes in the same transaction after them (`run_finish_claims`). Retried after a
    lost connection when a record of a change made is among them: a claim sent again takes nothing
    if the lost try was committed, and the run it took then is resumed when its lease ends."""
    if ctx is not None and ctx.deferred:
        statements = [*ctx.deferred, *statements]
        durable, publish = durable or ctx.deferred_durable, publish or ctx.deferred_renew
    if not statements:
        return None
    if claim is not None:
        statements = [*statements, (*claim, False)]
    sql = _sql()
    joined = sql.joined and len(statements) > 1
    result = []

    def write() -> None:
        several = (len(statements) > 1 and not joined) or after is not None
        with transaction.atomic() if several else contextlib.nullcontext(), connection.cursor() as cursor:
            if joined:  # one query is one transaction; each statement's result follows the one before
                cursor.execute("; ".join(sql.prepared(text) for text, _, _ in statements),
                               [value for _, params, _ in statements for value in params])
            for index, (text, params, one) in enumerate(statements):
                if not joined:
                    cursor.execute(sql.prepared(text), params)
                elif index:
                    cursor.nextset()
                if one and cursor.rowcount != 1:
                    raise DatabaseError("The step's record was not found to update.")
            if returning:
                result.append(cursor.fetchone()[0] if sql.returning else cursor.lastrowid)
            elif claim is not None:
                result.append(cursor.fetchone())
            if after is not None:
                after()
                if connection.needs_rollback or connection.closed_in_transaction:
                    # A savepoint in it could not be rolled back (the connection is gone): this
                    # transaction is lost and must not pass for committed.
                    raise InterfaceError("The database connection was lost during a run's write.")

    if durable:
        _retrying(write)  # the service has made the change: its record must survive a dropped connection
    else:
        write()
    if ctx is not None:
        ctx.deferred, ctx.deferred_durable, ctx.deferred_renew = [], False, False
        if publish:
            live.publish_run(ctx.run)
    return result[0] if result else None


def _trigger_outputs(ctx: _Context, event: dict) -> dict:
    """Runs the event card on the event's data (a response id, a tick, a posted body), like any
    other card; its outputs are kept on the run, so a resumed run does not fetch them again."""
    run = ctx.run
    if run.trigger:
        return run.trigger
    recorded = ctx.done.get(("trigger", ""))
    if recorded is not None:  # an earlier attempt's turn ended before the run's row took them
        run.trigger = recorded.outputs
        ctx.trigger_pending = True
        return run.trigger
    if not run.delivery_id:
        raise RunFailed("This run has no event to work on.")
    key = event.get("card", "")
    if key not in registry.registry or registry.get(key).kind != "event":
        raise RunFailed("The flow does not start with an event card.")
    card = registry.get(key)
    step = {"id": "trigger", "card": key, "configuration": event.get("configuration"),
            "options": event.get("options") or {}}
    inputs = dict(run.delivery.payload or {}) if isinstance(run.delivery.payload, dict) else {}
    _run_card(ctx, step, card, inputs, "", time.monotonic(), event=True)
    return ctx.outputs["trigger"]


def _walk(ctx: _Context, steps: list[dict], iteration: str) -> None:
    for step in steps:
        _step(ctx, step, iteration)


def _boundary(ctx: _Context) -> None:
    """Before every step: the record of a change the last step made, if it still waits; the run's
    limits, and what the heartbeat found (a cancel, another team waiting)."""
    if ctx.deferred_durable:
        _write(ctx, [])
    if ctx.cancelled:
        raise _Cancelled()
    if ctx.give_way:
        raise _GiveWay()
    ctx.steps += 1
    most = _limit("RUN_MAX_STEPS")
    if most and ctx.steps > most:
        raise _limit_error(f"The run stopped after {most:,} steps, the most one run may execute", "RUN_MAX_STEPS",
                           "Steps inside a For Each count once per item; a loop may be running more often than "
                           "intended.")
    if ctx.deadline is not None and time.monotonic() > ctx.deadline:
        raise _limit_error(f"The run stopped after {_limit('RUN_MAX_SECONDS'):,} seconds, the longest one run may "
                           f"take", "RUN_MAX_SECONDS")


def _step(ctx: _Context, step: dict, iteration: str) -> None:
    step_id = step["id"]
    card = registry.get(step["card"])
    _boundary(ctx)
    ctx.current = (card.name, step_id)
    previous = ctx.done.get((step_id, iteration))
    if previous is not None and card.key not in ("core.for_each", "core.if_else"):
        if _preview(previous.outputs):
            raise RunFailed(f"“{card.name}” ({step_id}) failed: " + _preview_error("Its output"))
        ctx.outputs[step_id] = previous.outputs
        if card.key == "core.continue_if" and not previous.outputs.get("result"):
            raise _Stop()
        return
    failed = ctx.failed.get((step_id, iteration))
    if failed is not None:  # an earlier attempt failed here and was interrupted before it ended the run
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {failed.error}")
    started = time.monotonic()
    inputs: dict[str, Any] = {}
    try:
        _step_inputs(ctx, step, card, inputs)
    except CardInputError as exc:
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.FAILED, inputs=inputs,
                outputs={}, error=str(exc), started=started, attempts=1)
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {exc}") from exc

    if card.key == "core.if_else":
        result = evaluate_condition(inputs.get("left"), inputs.get("operator") or "equals", inputs.get("right"))
        ctx.outputs[step_id] = {"result": result}
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.SUCCEEDED, inputs=inputs,
                outputs={"result": result}, error="", started=started, attempts=1)
        _walk(ctx, step.get("then" if result else "else") or [], iteration)
        return
    if card.key == "core.for_each":
        try:
            items = iterate_list(inputs.get("list"))
        except CardInputError as exc:
            raise RunFailed(f"“{card.name}” ({step_id}) failed: {exc}") from exc
        most = _limit("RUN_MAX_LOOP_ITEMS")
        if most and len(items) > most:
            raise _limit_error(f"“{card.name}” ({step_id}) failed: it got {len(items):,} items, more than the "
                               f"{most:,} one For Each may run", "RUN_MAX_LOOP_ITEMS")
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.SUCCEEDED, inputs=inputs,
                outputs={"count": len(items)}, error="", started=started, attempts=1)
        most = _limit("RUN_MAX_LOOP_ITERATIONS")
        for index, item in enumerate(items):
            ctx.iterations += 1
            if most and ctx.iterations > most:
                raise _limit_error(f"“{card.name}” ({step_id}) failed: the run's For Each loops reached "
                                   f"{most:,} iterations in all, the most one run may run", "RUN_MAX_LOOP_ITERATIONS",
                                   "Nested loops multiply: 100 items inside 100 items are 10,000 iterations.")
            ctx.outputs[step_id] = {"item": item, "index": index}
            _walk(ctx, step.get("steps") or [], f"{iteration}.{index}" if iteration else str(index))
        return

    _run_card(ctx, step, card, inputs, iteration, started)
    if card.key == "core.continue_if" and not ctx.outputs[step_id].get("result"):
        raise _Stop()


def _step_inputs(ctx: _Context, step: dict, card, inputs: dict) -> None:
    """Fills `inputs` with the step's inputs resolved against the outputs so far (raises
    CardInputError; what was resolved before stays in `inputs`)."""
    for spec in card.inputs:
        raw = (step.get("inputs") or {}).get(spec.key, spec.default)
        value = ctx.value(raw)
        if spec.type == "text" and isinstance(raw, str) and "{{" in raw and not card.renders_placeholders:
            # Text typed around outputs ("Detractor {{trigger.recipient_name}}"), in any card.
            value = render_template(raw, ctx.resolve, limit=output_limit())
        inputs[spec.key] = value


def _run_card(ctx: _Context, step: dict, card, inputs: dict, iteration: str, started: float, *,
              event: bool = False) -> None:
    step_id = step["id"]
    key = (step_id, iteration)
    run = ctx.run
    left = ctx.attention.get(key)
    if left is not None:  # still left to a person
        raise _NeedsAttention(f"“{card.name}” ({step_id}) needs attention: {left.error}")
    interrupted = ctx.in_flight.get(key)
    if interrupted is not None:
        service = _service(card)
        error = (f"It was sending a change to {service} when this run was interrupted. {service} may have applied "
                 f"it, so it was not sent again: check {service}, then resume without resending, or resend.")
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.ATTENTION, inputs=inputs,
                outputs={}, error=error, started=started, attempts=interrupted.attempts,
                attempt_log=getattr(interrupted, "attempt_log", None))
        raise _NeedsAttention(f"“{card.name}” ({step_id}) needs attention: {error}")

    again = ctx.again.get(key)  # its record is reused, with the attempts made before
    log: list[dict] = list(again.attempt_log or []) if again is not None else []
    count = [len(log)]  # HTTP attempts in all; the log keeps the first MAX_ATTEMPT_LOG
    sending: dict[str, Any] = {"call": None, "applied": 0}

    def before_change(method: str, url: str) -> None:
        sending["call"] = (method, url)
        if key in ctx.in_flight:
            return
        if key in ctx.again:
            ctx.in_flight[key] = _mark_again(ctx.again.pop(key))
        else:
            ctx.position += 1
            ctx.in_flight[key] = _mark_running(ctx, step_id, card, iteration, inputs)

    def on_attempt(record) -> None:
        count[0] += 1
        if len(log) < MAX_ATTEMPT_LOG:
            log.append(_attempt_entry(record))
        call = sending["call"]
        if call is not None and record.method == call[0] and record.status is not None and record.status < 300:
            sending["applied"] += 1  # a change was confirmed: the step must not simply be run again
            sending["call"] = None

    if card.needs_configuration:  # values mapped from other cards, in the types the service takes
        inputs, problems = coerce_inputs(card, inputs)
        if problems:
            error = " ".join(problems)
            _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.FAILED, inputs=inputs,
                    outputs={}, error=error, started=started, attempts=1, attempt_log=log)
            raise RunFailed(f"“{card.name}” ({step_id}) failed: {error}")

    files_dir = Path(settings.MEDIA_ROOT) / "runs" / str(run.pk)
    attempts = 0
    error = ""
    status = RunStatus.FAILED
    while True:
        attempts += 1
        try:
            # A required connection always; an optional one (HTTP Request's auth header) when chosen.
            chosen = step.get("configuration")
            client = ctx.client(chosen) if card.needs_configuration or (
                card.optional_configuration and chosen not in (None, "")) else None
            files = TeamFiles(team_id=run.team_id, run_id=run.pk)
            run_ctx = RunContext(client=client, files_dir=files_dir, resolve=ctx.resolve,
                                 on_progress=_progress_reporter(run, step_id), open_file=files.open, keep_files=files.keep)
            if any(output.type == "file" for output in card.outputs):
                files_dir.mkdir(parents=True, exist_ok=True)  # only cards that write files need it
            outputs = _call(card, client, run_ctx, step.get("options") or {}, inputs, before_change, on_attempt)
        except MaybeAppliedError as exc:
            error = exc.message
            status = RunStatus.ATTENTION
        except RetryLaterError as exc:
            error = exc.message
            if sending["applied"]:
                service = _service(card)
                error = (f"{error} This step had already made a change in {service}, so it was not simply run again: "
                         f"check {service}, then resume without resending, or resend.")
                status = RunStatus.ATTENTION
            else:
                _wait(ctx, step_id=step_id, card=card, iteration=iteration, inputs=inputs, started=started,
                      error=error, seconds=float(exc.retry_after or 0), attempts=count[0] or attempts, log=log)
        except ConnectorError as exc:
            error = exc.message if hasattr(exc, "message") else str(exc)
            if exc.retryable and attempts < STEP_ATTEMPTS:
                _sleep(STEP_BACKOFF_SECONDS * (2 ** (attempts - 1)) * (0.5 + random.random()))
                continue
            error = _gave_up(error, count[0], time.monotonic() - started)
        except CardInputError as exc:
            error = str(exc)
        else:
            trigger = None
            if event:  # kept on the run as it is stored, so a resumed run sees the same outputs
                trigger = _stored(outputs)
                outputs = run.trigger = json.loads(trigger)
            ctx.outputs[step_id] = outputs
            _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.SUCCEEDED, inputs=inputs,
                    outputs=outputs, error="", started=started, attempts=count[0] or attempts, trigger=trigger,
                    attempt_log=log)
            return
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=status, inputs=inputs,
                outputs={}, error=error, started=started, attempts=count[0] or attempts, attempt_log=log)
        if status == RunStatus.ATTENTION:
            raise _NeedsAttention(f"“{card.name}” ({step_id}) needs attention: {error}")
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {error}")


def _service(card) -> str:
    try:
        return registry.connector(card.connector).name
    except (KeyError, LookupError):
        return "the service"


def _attempt_entry(record) -> dict:
    """One HTTP attempt as it is stored on its step and listed on the run page."""
    return {
        "at": datetime.fromtimestamp(record.started_at, tz=UTC).isoformat(timespec="milliseconds"),
        "method": record.method, "path": record.path, "status": record.status, "error": record.error,
        "waited_s": record.wait_seconds, "retry_after": record.retry_after, "duration_ms": record.duration_ms,
    }


_GAVE_UP = re.compile(r" Gave up after \d+ attempts in [\d.]+ s\.")


def _gave_up(error: str, attempts: int, seconds: float) -> str:
    """The client counts the attempts of its last call; the step's own tries may have made more.
    The message then says how many the step made in all, as its record does."""
    if not _GAVE_UP.search(error):
        return error
    return _GAVE_UP.sub(f" Gave up after {attempts} attempts in {seconds:.1f} s.", error, count=1)


def _wait(ctx: _Context, *, step_id, card, iteration, inputs, started, error, seconds, attempts, log) -> None:
    """Records the step as waiting and parks the run until the service's time, within the cap on
    how long a run may wait in all."""
    run = ctx.run
    service = _service(card)
    cap = float(settings.RUN_MAX_WAIT_SECONDS)
    waited = float(run.waited_seconds or 0)
    if waited + seconds > cap:
        error = (f"{service} asked to wait {seconds:.0f} s more, and this run has already waited {waited:.0f} s; "
                 f"a run waits at most {cap:.0f} s in all (RUN_MAX_WAIT_SECONDS), so it was stopped. {error}")
        _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.FAILED, inputs=inputs,
                outputs={}, error=error, started=started, attempts=attempts, attempt_log=log)
        raise RunFailed(f"“{card.name}” ({step_id}) failed: {error}")
    _record(ctx, step_id=step_id, card=card, iteration=iteration, status=RunStatus.WAITING, inputs=inputs,
            outputs={}, error=error, started=started, attempts=attempts, attempt_log=log)
    resume_at = timezone.now() + timedelta(seconds=seconds + random.uniform(0, min(WAIT_JITTER_SECONDS, seconds * 0.1)))
    raise _Wait(f"{service} asked to wait {seconds:.0f} s", resume_at=resume_at,
                seconds=seconds)


def _mark_again(step: RunStep) -> RunStep:
    """Stores a step taken up again (it waited, or a person asked to send it again) as running,
    before it sends its change: should the run be interrupted now, it is not sent a third time."""

    def write() -> None:
        with connection.cursor() as cursor:
            cursor.execute(_sql().prepared(_sql().mark_again), [RunStatus.RUNNING, step.pk])

    _retrying(write)
    step.status = RunStatus.RUNNING
    return step


def _mark_running(ctx: _Context, step_id: str, card, iteration: str, inputs: dict) -> RunStep:
    """Stores the step as running, before it sends a change: a resumed run that finds it so does not
    send the change again."""
    sql = _sql()
    now = timezone.now()
    statements = [(sql.step_insert + (" RETURNING id" if sql.returning else ""), [
        ctx.run.pk, ctx.position, step_id, card.key, card.name, iteration, RunStatus.RUNNING, _stored(inputs),
        "{}", "", 1, "[]", 0, _when(now)], False)]
    if ctx.deferred and sql.commit_to_disk:  # the waiting record's statements let the commit skip the flush
        statements.insert(0, (sql.commit_to_disk, [], False))
    pk = _write(ctx, statements, returning=True)  # with the record of the step before, if it waits
    return _loaded(RunStep, id=pk, run_id=ctx.run.pk, position=ctx.position, step_id=step_id, card=card.key,
                   name=card.name, iteration=iteration, status=RunStatus.RUNNING, attempts=1, started_at=now)


def _call(card, client, run_ctx: RunContext, options: dict, inputs: dict, before_change, on_attempt=None) -> dict:
    """Runs the card with `before_change` called before the client first sends a change, and
    `on_attempt` after every HTTP attempt; files it wrote become the team's."""
    keep = run_ctx.keep_files or (lambda outputs: outputs)
    if client is None:
        return keep(card.run(run_ctx, options, inputs) or {})
    client.before_unsafe_send = before_change
    kept = getattr(client, "on_attempt", None)
    if on_attempt is not None:
        client.on_attempt = on_attempt if kept is None else (lambda record: (kept(record), on_attempt(record)))
    try:
        return keep(card.run(run_ctx, options, inputs) or {})
    finally:
        client.before_unsafe_send = None
        if on_attempt is not None:
            client.on_attempt = kept


def _progress_reporter(run: Run, step_id: str):
    """Stores and publishes a long step's percent done (an export), at most twice a second."""
    last = [0.0]

    def report(percent: float) -> None:
        now = time.monotonic()
        if now - last[0] < 0.5 and percent < 100:
            return
        last[0] = now
        run.current_step, run.progress = step_id, round(float(percent), 1)
        Run.objects.filter(pk=run.pk).update(current_step=step_id, progress=run.progress, updated_at=timezone.now())
        live.publish_run(run)

    return report


def _record(ctx: _Context, *, step_id, card, iteration, status, inputs, outputs, error, started, attempts,
            trigger: str | None = None, attempt_log: list | None = None) -> None:
    """Stores the step, with the run's next write when it may wait (`_Context.defer`), and renews
    the run's lease in the same transaction when it is due. `trigger` is the stored text of the
    event's outputs: the step's outputs, and the run's trigger, which the run's row takes with
    the turn's last write (`_Context.trigger_pending`) unless it is renewed now. A step taken up
    again (it waited, or is sent again) updates its own record."""
    if (step_id, iteration) in ctx.done:  # recorded by an earlier attempt of this run
        return
    marked = ctx.in_flight.pop((step_id, iteration), None)  # recorded as running when it sent a change
    durable = marked is not None
    if marked is None:
        marked = ctx.again.pop((step_id, iteration), None)
    if marked is None:
        ctx.position += 1
    now = timezone.now()
    sql = _sql()
    duration_ms = int((time.monotonic() - started) * 1000)
    log = json.dumps(attempt_log or [], default=str)
    stored_outputs = trigger if trigger is not None else _stored(outputs)  # the event's: stored once already
    if marked is not None:
        step_sql = sql.step_update
        step_params = [status, _stored(inputs), stored_outputs, error[:4000], attempts, log, duration_ms, marked.pk]
    else:
        step_sql = sql.step_insert_lazy
        step_params = [ctx.run.pk, ctx.position, step_id, card.key, card.name, iteration, status, _stored(inputs),
                       stored_outputs, error[:4000], attempts, log, duration_ms, _when(now)]
    # Every step is stored at once; the run row (lease, updated_at) and the live update follow at
    # most every LIVE_STEP_SECONDS, so quick steps cost one statement and pages still see progress.
    renew = time.monotonic() - ctx.touched >= min(LIVE_STEP_SECONDS, _lease().total_seconds() / 4)
    if trigger is not None and not renew:  # the run's row takes them with the turn's last write
        ctx.trigger_pending = True
        trigger = None

    statements = [(step_sql, step_params, marked is not None)]
    if renew:
        at, lease = _when(now), _when(now + _lease())
        if sql.step_then_renew is not None:
            statements = [(sql.step_then_renew[marked is not None, trigger is not None],
                           [*step_params, at, lease, ctx.run.pk], marked is not None)]
        elif trigger is None:
            statements.append((sql.renew, [at, lease, ctx.run.pk], False))
        else:
            statements.append((sql.renew_trigger, [at, lease, trigger, ctx.run.pk], False))
        ctx.touched = time.monotonic()
    if ctx.defer and not ctx.deferred:  # it waits for the run's next write (_Context.defer)
        ctx.deferred, ctx.deferred_durable, ctx.deferred_renew = statements, durable, renew
        return
    _write(ctx, statements, durable=durable, publish=renew)


def _retrying(write) -> None:
    """Runs `write`, and again after each loss of the database, for about 15 s in all."""
    for delay in (*DATABASE_RETRY_DELAYS, None):
        try:
            write()
            return
        except (OperationalError, InterfaceError) as exc:
            if delay is None or connection.in_atomic_block or not _database_unavailable(exc):
                raise
            logger.warning("Recording a step failed (%s); trying again in %g s", exc, delay)
            connection.close()
            _sleep(delay)


# Step tests ---------------------------------------------------------------------------------------
# The editor's "Test step" runs one card once, as a run runs it (`_step_inputs`, `_run_card`), on
# the pinned samples of the earlier steps; the card's record is the only step of a run whose
# delivery's source is "test" (alerts and dedupe leave those out). A worker never runs such a run:
# one interrupted ends failed when the scheduler hands it out (`_execute`).

STEP_TEST_EVENT_PREFIX = "step-test:"


def is_step_test(delivery) -> bool:
    from designer.models import DeliverySource

    return (delivery is not None and delivery.source == DeliverySource.TEST
            and (delivery.event_id or "").startswith(STEP_TEST_EVENT_PREFIX))


@dataclass
class _TestContext(_Context):
    allowed: frozenset = frozenset()  # connections the tested card may use, private ones included

    def private_allowed(self, configuration_id: int, owner_id: int | None) -> bool:
        # The step was validated for the person testing it with the save's rules (a teammate's
        # private connection only on a card of theirs kept unchanged).
        return configuration_id in self.allowed

    def resolve(self, ref: str) -> Any:
        step_id = ref.partition(".")[0]
        if step_id not in self.outputs:
            what = "load a sample event on the event card" if step_id == "trigger" else f"test the step {step_id}"
            raise CardInputError(f"The output '{ref}' has no sample yet: {what} first.")
        return super().resolve(ref)


def step_test(run: Run, step: dict, *, samples: dict[str, dict], allowed: set[int] | frozenset = frozenset(),
              event_inputs: dict | None = None) -> dict:
    """Runs the card of `step` once for a step test, recorded as the only step of `run` (created
    running by designer/steptests.py), with its inputs resolved against `samples` ({step id:
    outputs}); the event card (`event_inputs` given) runs on an event's data. An If/Else gives
    its result, a For Each its first item. Ends the run (succeeded or failed) and returns
    {"status", "inputs", "outputs", "error", "duration_ms"}."""
    card = registry.get(step["card"])
    step_id = step["id"]
    ctx = _TestContext(run=run, allowed=frozenset(allowed))
    ctx.outputs.update(samples)
    ctx.current = (card.name, step_id)
    token = _running.set(ctx)
    started = time.monotonic()
    inputs: dict[str, Any] = {}
    message = ""
    try:
        if event_inputs is not None:
            inputs = dict(event_inputs)
            _run_card(ctx, step, card, inputs, "", started, event=True)
        else:
            try:
                _step_inputs(ctx, step, card, inputs)
            except CardInputError as exc:
                _record(ctx, step_id=step_id, card=card, iteration="", status=RunStatus.FAILED, inputs=inputs,
                        outputs={}, error=str(exc), started=started, attempts=1)
                raise RunFailed(f"“{card.name}” ({step_id}) failed: {exc}") from exc
            if card.key == "core.if_else":
                result = evaluate_condition(inputs.get("left"), inputs.get("operator") or "equals", inputs.get("right"))
                _record(ctx, step_id=step_id, card=card, iteration="", status=RunStatus.SUCCEEDED, inputs=inputs,
                        outputs={"result": result}, error="", started=started, attempts=1)
            elif card.key == "core.for_each":
                try:
                    items = iterate_list(inputs.get("list"))
                except CardInputError as exc:
                    _record(ctx, step_id=step_id, card=card, iteration="", status=RunStatus.FAILED, inputs=inputs,
                            outputs={}, error=str(exc), started=started, attempts=1)
                    raise RunFailed(f"“{card.name}” ({step_id}) failed: {exc}") from exc
                # Inside the loop its outputs are an item and its index: the first one is the sample.
                outputs = {"item": items[0] if items else None, "index": 0, "count": len(items)}
                _record(ctx, step_id=step_id, card=card, iteration="", status=RunStatus.SUCCEEDED, inputs=inputs,
                        outputs=outputs, error="", started=started, attempts=1)
            else:
                _run_card(ctx, step, card, inputs, "", started)
    except _Wait as exc:
        message = f"{exc} before trying again: test the step again later."
    except (RunFailed, _NeedsAttention, _Stop) as exc:
        message = str(exc)
    except Exception as exc:
        if _database_unavailable(exc):
            raise
        logger.exception("Step test run %s crashed", run.pk)
        message = f"Internal error: {type(exc).__name__}. The team has been notified in the logs."
    finally:
        _running.reset(token)
    recorded = run.steps.filter(step_id=step_id).order_by("-position").first()
    if recorded is not None and recorded.status != RunStatus.SUCCEEDED:
        message = recorded.error or message
        if recorded.status != RunStatus.FAILED:  # waiting, needing attention: a test is not taken up again
            RunStep.objects.filter(pk=recorded.pk).update(status=RunStatus.FAILED)
    status = RunStatus.SUCCEEDED if recorded is not None and recorded.status == RunStatus.SUCCEEDED else RunStatus.FAILED
    if status == RunStatus.FAILED and not message:
        message = "The step did not run."
    _finish(run, status, "" if status == RunStatus.SUCCEEDED else message, ctx)  # with a tested event's outputs
    return {
        "status": status,
        "inputs": recorded.inputs if recorded is not None else inputs,
        "outputs": recorded.outputs if recorded is not None and status == RunStatus.SUCCEEDED else {},
        "error": "" if status == RunStatus.SUCCEEDED else message,
        "duration_ms": int((time.monotonic() - started) * 1000),
    }
