"""Multi-row INSERTs whose statement does not grow with the rows (PostgreSQL).

SQLAlchemy sends many rows as one ``INSERT ... VALUES (...), (...), ...``
("insertmanyvalues"): a statement whose text and parameter list grow with every row.
psycopg then converts its placeholders anew each time (it caches only short statements)
and the server parses and plans each batch size as a new statement. On a group commit's
hot path (an intake writes ten rows to seven tables) that cost more than the rows: 0.49 ms
of client CPU for a statement of four incidents, 1.09 ms for eight, against 0.25 and
0.27 ms as one JSON document (``docs/benchmarks/dispatch.md``).

On PostgreSQL :func:`insert_rows` sends the rows as one JSON document instead, expanded
by ``json_populate_recordset`` in row order: the statement's text is the same for any
number of rows, so psycopg prepares it once per connection and the server plans it once.
Rows that JSON cannot carry exactly (a column type other than integers, floats, text,
booleans, timestamps and JSON; a value that is not plain JSON; a non-finite float; a
NUL character; ``None`` in a JSON column, which SQLAlchemy stores as JSON ``null``) take
SQLAlchemy's statement, as do single rows and SQLite: the result, or the error, is the
same either way.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    Integer,
    Row,
    String,
    Table,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator, TypeEngine

_PLAIN = (Integer, Float, String, Boolean)
_TIMES = (DateTime, Date)


def insert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: Sequence[Column[Any]] = (),
    on_conflict_do_nothing: Sequence[Column[Any]] = (),
) -> list[Row[Any]]:
    """Insert ``rows`` into ``table`` in one statement; return the ``returning`` columns.

    Parameters
    ----------
    connection
        The connection whose transaction the insert joins.
    table
        The table.
    rows
        One mapping of column keys to values per row, every one with the same keys.
    returning
        Columns to return for each inserted row. Without ``on_conflict_do_nothing`` the
        rows come back in the order of ``rows`` when they include the table's generated
        primary key (as SQLAlchemy's ``sort_by_parameter_order``).
    on_conflict_do_nothing
        The columns of a unique index: rows that would duplicate an existing entry are
        skipped (and not returned).

    Returns
    -------
    list of Row
        The ``returning`` columns of the inserted rows (empty without ``returning``).
    """
    if not rows:
        return []
    returning, conflict = tuple(returning), tuple(on_conflict_do_nothing)
    dialect = connection.dialect
    if len(rows) > 1 and dialect.name == "postgresql":
        plan = _json_plan(dialect, table, tuple(rows[0]), returning, conflict)
        document = None if plan is None else _document(plan, rows, dialect)
        if plan is not None and document is not None:
            result = connection.exec_driver_sql(plan.sql, {"rows": document})
            if not returning:
                return []
            found = list(result)
            key_at = plan.key_at
            return found if key_at is None else sorted(found, key=lambda row: row[key_at])
    statement = _statement(table, returning, conflict, dialect.name, many=len(rows) > 1)
    result = connection.execute(statement, list(rows) if len(rows) > 1 else rows[0])
    return list(result) if returning else []


@functools.cache
def _statement(
    table: Table,
    returning: tuple[Column[Any], ...],
    conflict: tuple[Column[Any], ...],
    dialect: str,
    *,
    many: bool,
) -> Any:
    """SQLAlchemy's statement: ``executemany``, or one multi-row statement when it has a
    ``RETURNING`` clause (on PostgreSQL one is added for that, its answer unread)."""
    if conflict:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement: Any = insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    else:
        statement = table.insert()
    if returning:
        return statement.returning(*returning, sort_by_parameter_order=many and not conflict)
    if many and dialect == "postgresql":
        return statement.returning(*table.primary_key)
    return statement


@dataclasses.dataclass(frozen=True, slots=True)
class _JsonPlan:
    """How rows of one table, with given keys, travel as one JSON document."""

    sql: str
    times: tuple[tuple[str, Callable[[Any, Dialect], Any] | None], ...]  # key, bind step
    json_keys: tuple[str, ...]
    key_at: int | None  # the generated key's place in RETURNING: sorts rows into row order


@functools.cache
def _json_plan(
    dialect: Dialect,
    table: Table,
    keys: tuple[str, ...],
    returning: tuple[Column[Any], ...],
    conflict: tuple[Column[Any], ...],
) -> _JsonPlan | None:
    """The JSON statement for these keys, or ``None`` if a column's values cannot be
    carried exactly by JSON (or the table has a column named ``ordinality``)."""
    key_column = None if conflict or not returning else _generated_key(table, returning)
    if "ordinality" in table.c or (returning and not conflict and key_column is None):
        return None  # (no generated key to put the returned rows in order)
    times: list[tuple[str, Callable[[Any, Dialect], Any] | None]] = []
    json_keys: list[str] = []
    for key in keys:
        column = table.c.get(key)
        if column is None or column.name != key:
            return None
        kind, bind = _kind(column.type)
        if kind is None:
            return None
        if kind == "time":
            times.append((key, bind))
        elif kind == "json":
            json_keys.append(key)
    quote = dialect.identifier_preparer
    name = quote.format_table(table)
    columns = ", ".join(quote.quote(key) for key in keys)
    picked = ", ".join(f"r.{quote.quote(key)}" for key in keys)
    sql = (  # names from the table's metadata, quoted by the dialect: no input reaches it
        f"INSERT INTO {name} ({columns}) SELECT {picked} "  # noqa: S608
        f"FROM json_populate_recordset(NULL::{name}, %(rows)s::json) WITH ORDINALITY AS r "
        "ORDER BY r.ordinality"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(quote.quote(c.name) for c in conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote.quote(c.name) for c in returning)}"
    key_at = None if key_column is None else returning.index(key_column)
    return _JsonPlan(sql, tuple(times), tuple(json_keys), key_at)


def _kind(type_: TypeEngine[Any]) -> tuple[str | None, Callable[[Any, Dialect], Any] | None]:
    """``("plain" | "time" | "json", bind step)`` for a column type; ``None`` if JSON
    cannot carry it exactly."""
    bind = None
    if isinstance(type_, TypeDecorator):
        bind, type_ = type_.process_bind_param, type_.impl_instance
    if isinstance(type_, _TIMES):
        return "time", bind
    if bind is not None or isinstance(type_, Enum):  # values changed on the way in
        return None, None
    if isinstance(type_, JSON):
        return "json", None
    if isinstance(type_, _PLAIN):
        return "plain", None
    return None, None


def _generated_key(table: Table, returning: tuple[Column[Any], ...]) -> Column[Any] | None:
    """The table's single-column generated key, if ``returning`` holds it. Its values
    grow in the order rows are inserted (a sequence), which is the order of ``rows``."""
    key = list(table.primary_key)
    if len(key) == 1 and key[0].autoincrement in (True, "auto") and key[0] in returning:
        return key[0]
    return None


def _document(plan: _JsonPlan, rows: Sequence[Mapping[str, Any]], dialect: Dialect) -> str | None:
    """The rows as a JSON array, or ``None`` if one of them cannot travel that way."""
    out: list[dict[str, Any]] = []
    keys = rows[0].keys()
    try:
        for row in rows:
            if row.keys() != keys:
                return None  # SQLAlchemy's statement says which value is missing
            values = dict(row)
            for key, bind in plan.times:
                value = values[key]
                if value is not None:
                    values[key] = (value if bind is None else bind(value, dialect)).isoformat()
            for key in plan.json_keys:
                if values[key] is None:
                    return None
            out.append(values)
        document = json.dumps(out, allow_nan=False)
    except (TypeError, ValueError, AttributeError, KeyError):
        return None  # SQLAlchemy's statement then stores the row, or raises its error
    return None if "\\u0000" in document else document
