"""Multi-row INSERTs for the runs' hot path, written once per model instead of built by the ORM
for every row.

`bulk_create` makes a model instance per row and converts every column of every row (a Run has
two dozen) while the transaction holds the write lock: on SQLite, that was most of the webhook
inbox's time under the lock. A `RowInsert` converts the columns a row does not give (their
defaults, and the timestamps Django sets on creation) once per statement, so a row costs only
the values the caller gives.

On PostgreSQL the rows go as one array per given column (`INSERT … SELECT … FROM UNNEST(…)`, as
Django's own `bulk_create` does there), the other columns' values once each: the statement's text
and its number of parameters are the same whatever the number of rows, so psycopg keeps its
parsed form and the server parses a short statement, instead of a `VALUES` list of a few hundred
placeholders that psycopg split anew for every batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections
from django.db.models import DateTimeField, Model
from django.utils import timezone


class RowInsert:
    """Inserts rows of `model` giving the columns `given` (attribute names: "flow_id"), and for
    every other column `fixed[name]` or its default, converted once. Fields Django stamps on
    creation (`auto_now`, `auto_now_add`) get the statement's time. `execute` answers the value of
    `returning` (the primary key by default) for each row, in the order given, as `bulk_create`
    does on SQLite 3.35+ and PostgreSQL.

    A column whose value must differ per row (a UUID key, a unique field) must be given."""

    def __init__(self, model: type[Model], given: Sequence[str], *, fixed: dict[str, Any] | None = None,
                 returning: str | None = "pk") -> None:
        self.model = model
        meta = model._meta
        self.fixed = dict(fixed or {})
        by_attname = {field.attname: field for field in meta.concrete_fields}
        self.given = [by_attname[name] for name in given]
        self.returning = meta.pk if returning == "pk" else (by_attname[returning] if returning else None)
        self.columns = []
        for field in meta.concrete_fields:
            if getattr(field, "get_placeholder_sql", None) is not None:
                raise ValueError(f"{model.__name__}.{field.name} needs its own placeholder; use bulk_create.")
            if field in self.given:
                continue
            if field.primary_key and field.attname not in self.fixed:
                if not getattr(field, "db_returning", False):
                    raise ValueError(f"{model.__name__}.{field.name} is a key the database does not make; give it.")
                continue  # made by the database
            if field.unique and field.attname not in self.fixed:
                raise ValueError(f"{model.__name__}.{field.name} is unique; give it.")
            self.columns.append(field)
        self._compiled: dict[tuple[str, str], tuple[str, str, list, list[int]]] = {}

    def _compile(self, connection) -> tuple[str, str, list, list[int]]:
        """(statement head, row placeholder, the values of the other columns, the positions of
        the timestamp columns among them) for this connection's database. On PostgreSQL the
        head is the whole statement but its RETURNING, and there is no row placeholder."""
        key = (connection.alias, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            qn = connection.ops.quote_name
            fields = self.given + self.columns
            head = (f"INSERT INTO {qn(self.model._meta.db_table)} "
                    f"({', '.join(qn(field.column) for field in fields)}) ")
            if connection.vendor == "postgresql":
                def db_type(field) -> str:  # varchar, not varchar(50): nothing is cut
                    return field.db_type(connection).split("(")[0]

                arrays = ", ".join(f"(%s)::{db_type(field)}[]" for field in self.given)
                once = "".join(f", (%s)::{db_type(field)}" for field in self.columns)
                head += f"SELECT given.*{once} FROM UNNEST({arrays}) AS given"
                row = ""
            else:
                head += "VALUES "
                row = f"({', '.join(['%s'] * len(fields))})"
            values, stamped = [], []
            for position, field in enumerate(self.columns):
                if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
                    stamped.append(position)
                    values.append(None)
                elif field.attname in self.fixed:
                    values.append(field.get_db_prep_save(self.fixed[field.attname], connection))
                else:
                    values.append(field.get_db_prep_save(field.get_default(), connection))
            compiled = self._compiled[key] = (head, row, values, stamped)
        return compiled

    def execute(self, rows: Iterable[Sequence[Any]], *, using: str = "default") -> list[Any]:
        """Inserts `rows` (each the `given` values, in order); answers the `returning` values."""
        rows = list(rows)
        if not rows:
            return []
        connection = connections[using]
        head, row_sql, values, stamped = self._compile(connection)
        if stamped:
            values = list(values)
            now = self.columns[stamped[0]].get_db_prep_save(timezone.now(), connection)
            for position in stamped:
                values[position] = now
        tail = ""
        if self.returning is not None:
            tail = f" RETURNING {connection.ops.quote_name(self.returning.column)}"
        answered: list[Any] = []
        with connection.cursor() as cursor:
            for sql, params in self._statements(connection, head, row_sql, tail, values, rows):
                cursor.execute(sql, params)
                if self.returning is not None:
                    answered.extend(value for (value,) in cursor.fetchall())
        return answered

    def _statements(self, connection, head: str, row_sql: str, tail: str, values: list, rows: list):
        """(SQL, parameters) of the statements that insert `rows`. On PostgreSQL one: the other
        columns' values, then a list of each given column's values. Elsewhere a `VALUES` list,
        in as many statements as the database's limit on parameters needs."""
        converters = [field.get_db_prep_save for field in self.given]
        if not row_sql:
            columns: list[list[Any]] = [[] for _ in self.given]
            for given in rows:
                for column, convert, value in zip(columns, converters, given, strict=True):
                    column.append(convert(value, connection))
            yield head + tail, [*values, *columns]
            return
        width = len(self.given) + len(self.columns)
        per_statement = max(1, (connection.features.max_query_params or 65535) // width)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            params: list[Any] = []
            for given in chunk:
                params.extend(convert(value, connection) for convert, value in zip(converters, given, strict=True))
                params.extend(values)
            yield head + ", ".join([row_sql] * len(chunk)) + tail, params
