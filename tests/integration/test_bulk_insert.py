"""insert_rows: one statement for many rows, with what SQLAlchemy's insert would store.

On PostgreSQL many rows travel as one JSON document; every test compares what is stored
with what SQLAlchemy's own statement stores for the same rows, on both databases.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.exc import DataError, StatementError

from arverne.store.bulk import insert_rows
from arverne.store.types import UTCDateTime

_META = MetaData()
THINGS = Table(
    "bulk_things",
    _META,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False),
    Column("label", Text),
    Column("weight", Float),
    Column("count", Integer),
    Column("flag", Boolean, nullable=False),
    Column("at", UTCDateTime),
    Column("data", JSON, nullable=False),
    Column("owner", Integer),
    Column("code", String(20)),
    UniqueConstraint("owner", "code"),
)
PRICES = Table(  # a Numeric column: JSON cannot carry Decimal exactly
    "bulk_prices",
    _META,
    Column("id", Integer, primary_key=True),
    Column("price", Numeric(10, 2)),
)
WHEN = dt.datetime(2026, 12, 7, 5, 30, 1, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.fixture
def conn(connection: Connection) -> Iterator[Connection]:
    """The test transaction's connection with the tables (rolled back afterwards)."""
    nested = connection.begin_nested()
    _META.create_all(connection)
    yield connection
    nested.rollback()


@pytest.fixture
def statements(conn: Connection) -> Iterator[list[str]]:
    """The statements sent, as they go to the driver."""
    sent: list[str] = []

    def spy(*args: Any) -> None:
        sent.append(args[2])

    event.listen(conn, "before_cursor_execute", spy)
    yield sent
    event.remove(conn, "before_cursor_execute", spy)


def _row(i: int, **changes: Any) -> dict[str, Any]:
    row = {
        "name": f"thing {i}",
        "label": 'rue de l\'Étoile "nord" \\ 🚓' if i % 2 else None,
        "weight": 0.1 * i + 1e-17,
        "count": 2**30 + i,
        "flag": i % 2 == 0,
        "at": WHEN + dt.timedelta(microseconds=i),
        "data": {"i": i, "nested": [1, 2.5, None, "é"], "ok": True},
        "owner": 1,
        "code": i,  # an int in a text column, as SQLAlchemy would send it: stored as "0"
    }
    return row | changes


def _stored(conn: Connection, table: Table, ids: list[int]) -> list[tuple[Any, ...]]:
    rows = conn.execute(select(table).where(table.c.id.in_(ids)).order_by(table.c.id)).all()
    return [tuple(row) for row in rows]


def _reference(conn: Connection, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What SQLAlchemy's own INSERT stores for ``rows`` (one row at a time)."""
    ids = [conn.execute(THINGS.insert().returning(THINGS.c.id), row).scalar_one() for row in rows]
    return [stored[1:] for stored in _stored(conn, THINGS, ids)]


def test_many_rows_are_one_statement_and_come_back_in_order(
    conn: Connection, statements: list[str], backend: str
) -> None:
    rows = [_row(i) for i in range(7)]
    inserted = insert_rows(conn, THINGS, rows, returning=(THINGS.c.id,))
    ids = [row.id for row in inserted]
    assert len(set(ids)) == 7
    if backend == "postgresql":
        assert len(statements) == 1
        assert "json_populate_recordset" in statements[0]
    names = dict(conn.execute(select(THINGS.c.id, THINGS.c.name).where(THINGS.c.id.in_(ids))).all())
    # Each returned id is its own row's: the names say which row each id belongs to.
    assert [names[i] for i in ids] == [row["name"] for row in rows]


def test_values_are_stored_exactly_as_sqlalchemy_stores_them(conn: Connection) -> None:
    rows = [_row(i) for i in range(5)]
    ids = [row.id for row in insert_rows(conn, THINGS, rows, returning=(THINGS.c.id,))]
    mine = [row[1:] for row in _stored(conn, THINGS, ids)]
    reference = _reference(conn, [_row(i, owner=2) for i in range(5)])
    assert [_comparable(row) for row in mine] == [_comparable(row) for row in reference]
    assert [row[7] for row in mine] == [1] * 5
    assert [row[7] for row in reference] == [2] * 5
    first = mine[0]
    assert first[5] == WHEN  # microseconds and instant kept, given in UTC+1
    assert first[5].utcoffset() == dt.timedelta(0)
    assert first[2] == 1e-17  # floats exact
    assert mine[3][2] == 0.1 * 3 + 1e-17
    assert first[8] == "0"
    assert mine[1][1] == 'rue de l\'Étoile "nord" \\ 🚓'


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"weight": math.nan}, "a non-finite float"),
        ({"data": None}, "None in a JSON column (SQLAlchemy stores JSON null)"),
        ({"data": {"when": WHEN}}, "a value JSON cannot carry"),
    ],
)
def test_rows_json_cannot_carry_take_sqlalchemy_statement(
    conn: Connection, statements: list[str], change: dict[str, Any], why: str
) -> None:
    rows = [_row(0), _row(1, **change)]
    try:
        expected: Any = _reference(conn, [_row(0, owner=2), _row(1, owner=2, **change)])
    except (StatementError, TypeError) as exc:  # SQLAlchemy refuses it: so must insert_rows
        expected = type(exc)
    statements.clear()
    if isinstance(expected, type):
        with pytest.raises(expected):
            insert_rows(conn, THINGS, rows, returning=(THINGS.c.id,))
        return
    ids = [row.id for row in insert_rows(conn, THINGS, rows, returning=(THINGS.c.id,))]
    assert not any("json_populate_recordset" in s for s in statements), why
    mine = [row[1:] for row in _stored(conn, THINGS, ids)]
    assert [_comparable(row) for row in mine] == [_comparable(row) for row in expected]


def _comparable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A stored row without its owner, NaN made equal to itself."""
    values = row[:7] + row[8:]
    return tuple("NaN" if isinstance(v, float) and math.isnan(v) else v for v in values)


def test_a_naive_time_is_refused_as_before(conn: Connection) -> None:
    rows = [_row(0), _row(1, at=dt.datetime(2026, 12, 7, 5, 30))]
    with pytest.raises(StatementError, match="naive datetime refused"):
        insert_rows(conn, THINGS, rows)


def test_a_nul_character_is_refused_as_before(conn: Connection, backend: str) -> None:
    rows = [_row(0), _row(1, label="a\x00b")]
    if backend == "sqlite":  # SQLite stores it
        inserted = insert_rows(conn, THINGS, rows, returning=(THINGS.c.id,))
        labels = conn.execute(select(THINGS.c.label).where(THINGS.c.id == inserted[1].id))
        assert labels.scalar_one() == "a\x00b"
        return
    with pytest.raises((DataError, ValueError)):
        insert_rows(conn, THINGS, rows)


def test_rows_with_different_keys_are_refused_as_before(conn: Connection) -> None:
    second = _row(1)
    del second["label"]
    with pytest.raises(StatementError, match="label"):
        insert_rows(conn, THINGS, [_row(0), second])


def test_unsupported_column_types_take_sqlalchemy_statement(
    conn: Connection, statements: list[str]
) -> None:
    from decimal import Decimal

    inserted = insert_rows(
        conn, PRICES, [{"price": Decimal("1.10")}, {"price": Decimal("2.25")}],
        returning=(PRICES.c.id,),
    )  # fmt: skip
    assert not any("json_populate_recordset" in s for s in statements)
    prices = conn.execute(
        select(PRICES.c.price).where(PRICES.c.id.in_([r.id for r in inserted]))
    ).scalars()
    assert sorted(prices) == [Decimal("1.10"), Decimal("2.25")]


def test_conflicting_rows_are_skipped_and_not_returned(conn: Connection) -> None:
    pair = (THINGS.c.owner, THINGS.c.code)
    insert_rows(conn, THINGS, [_row(1, code="b")])
    rows = [_row(0, code="a"), _row(1, code="b"), _row(2, code="c")]
    inserted = insert_rows(conn, THINGS, rows, returning=pair, on_conflict_do_nothing=pair)
    assert {(row.owner, row.code) for row in inserted} == {(1, "a"), (1, "c")}
    codes = conn.execute(select(THINGS.c.code).where(THINGS.c.owner == 1)).scalars()
    assert sorted(codes) == ["a", "b", "c"]


def test_one_row_and_no_rows(conn: Connection) -> None:
    assert insert_rows(conn, THINGS, []) == []
    (row,) = insert_rows(conn, THINGS, [_row(0)], returning=(THINGS.c.id,))
    assert conn.execute(select(THINGS.c.name).where(THINGS.c.id == row.id)).scalar() == "thing 0"
