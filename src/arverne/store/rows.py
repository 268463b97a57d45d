"""Insert new ORM objects with plain Core statements, then keep them as persistent.

The unit of work is general: for each flush it sorts the pending objects, works out
the statements and syncs foreign keys, which costs more than the INSERT itself when a
hot path adds two or three rows. :func:`insert_persistent` sends one ``INSERT ...
RETURNING`` per object (in the order given), then attaches the objects to the session
as if they had been loaded: later changes to them flush as usual.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Table, inspect
from sqlalchemy.orm import MANYTOONE, Session, make_transient_to_detached


def _column_default(column: Any) -> Any:
    default = column.default
    if column.server_default is not None or (
        default is not None and not (default.is_scalar or default.is_callable)
    ):
        msg = (
            f"insert_persistent cannot know the database-side default of {column}; "
            "set the attribute on the object"
        )
        raise ValueError(msg)
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg


@functools.cache
def _insert_returning(table: Table) -> Any:
    return table.insert().returning(*(c for c in table.primary_key))


def insert_persistent(session: Session, *objects: Any) -> None:
    """Insert new (transient) ORM objects with Core and attach them to ``session``.

    Every column attribute is given a value first: the one set on the object, else the
    column's Python-side default (``default=``), else ``None`` (a column with a
    database-side default must be set: :class:`ValueError`); the generated primary key
    comes back through ``RETURNING``. Foreign keys of many-to-one relationships are
    copied from the related object (``Call(incident=incident)`` sets ``incident_id``),
    so parents must come first.

    Parameters
    ----------
    session
        The session whose transaction (and connection) the inserts join.
    *objects
        Transient instances of mapped classes, in insertion order.
    """
    connection = session.connection()
    for obj in objects:
        state = inspect(obj)
        mapper = state.mapper
        table = cast(Table, mapper.local_table)
        for rel in mapper.relationships:
            parent = state.dict.get(rel.key)
            if rel.direction is MANYTOONE and parent is not None:
                for local, remote in rel.local_remote_pairs:
                    parent_mapper = inspect(parent).mapper
                    value = getattr(parent, parent_mapper.get_property_by_column(remote).key)
                    setattr(obj, mapper.get_property_by_column(local).key, value)
        values: dict[str, Any] = {}
        for prop in mapper.column_attrs:
            column = prop.columns[0]
            if column.primary_key and column.autoincrement and prop.key not in state.dict:
                continue
            if prop.key not in state.dict:
                setattr(obj, prop.key, _column_default(column))
            values[column.key] = getattr(obj, prop.key)
        if any(c.key not in values for c in mapper.primary_key):
            row = connection.execute(_insert_returning(table), values).one()
            for column, value in zip(mapper.primary_key, row, strict=True):
                setattr(obj, mapper.get_property_by_column(column).key, value)
        else:
            connection.execute(table.insert(), values)
    for obj in objects:
        make_transient_to_detached(obj)
    for obj in objects:
        session.add(obj)
