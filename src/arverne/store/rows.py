"""Insert new ORM objects with plain Core statements, then keep them as persistent.

The unit of work is general: for each flush it sorts the pending objects, works out
the statements and syncs foreign keys, which costs more than the INSERT itself when a
hot path adds a few rows. :func:`insert_persistent` sends one ``INSERT ... RETURNING``
per run of objects of the same table (in the order given: on PostgreSQL a run of many
rows is one statement, :func:`arverne.store.bulk.insert_rows`), then attaches the objects to the
session as if they had been loaded: later changes to them flush as usual.
:func:`relate` then links such an object to loaded ones without a flush to follow.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.orm import MANYTOONE, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from arverne.store.bulk import insert_rows


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


def insert_persistent(session: Session, *objects: Any) -> None:
    """Insert new (transient) ORM objects with Core and attach them to ``session``.

    Every column attribute is given a value first: the one set on the object, else the
    column's Python-side default (``default=``), else ``None`` (a column with a
    database-side default must be set: :class:`ValueError`); the generated primary key
    comes back through ``RETURNING``. Foreign keys of many-to-one relationships are
    copied from the related object (``Call(incident=incident)`` sets ``incident_id``),
    so parents must come first, in an earlier run. Consecutive objects of the same
    class make one run: one statement with a parameter set per object.

    Parameters
    ----------
    session
        The session whose transaction (and connection) the inserts join.
    *objects
        Transient instances of mapped classes, in insertion order.
    """
    connection = session.connection()
    run: list[Any] = []
    for obj in objects:
        if run and inspect(obj).mapper is not inspect(run[0]).mapper:
            _insert_run(connection, run)
            run = []
        run.append(obj)
    if run:
        _insert_run(connection, run)
    for obj in objects:
        make_transient_to_detached(obj)
    for obj in objects:
        session.add(obj)


def relate(obj: Any, **related: Any) -> None:
    """Set many-to-one relationships of a persistent ``obj`` as if loaded with it.

    Each of ``related`` (a relationship name of ``obj`` and the object it points to,
    whose key ``obj``'s foreign key already holds) is set without history, and ``obj``
    is appended the same way to the related object's collection back to it when that
    collection is loaded. Nothing is left for a flush to do: for objects inserted with
    :func:`insert_persistent` from foreign keys, in place of ``Child(parent=...)``,
    whose collection change would make the next flush work through the parent.

    Parameters
    ----------
    obj
        A persistent mapped object.
    **related
        Relationship names of ``obj`` to the objects they point to.
    """
    relationships = inspect(obj).mapper.relationships
    for key, target in related.items():
        set_committed_value(obj, key, target)
        back = relationships[key].back_populates
        if back and back in inspect(target).dict:  # a loaded collection
            set_committed_value(target, back, [*getattr(target, back), obj])


def _insert_run(connection: Connection, run: list[Any]) -> None:
    """Insert objects of one class in one statement; set their generated keys."""
    mapper = inspect(run[0]).mapper
    table = cast(Table, mapper.local_table)
    parameters = [_values(obj) for obj in run]
    if any(values.keys() != parameters[0].keys() for values in parameters[1:]):
        msg = f"insert_persistent: set the primary key of every {mapper.class_.__name__} or none"
        raise ValueError(msg)
    if all(c.key in parameters[0] for c in mapper.primary_key):
        insert_rows(connection, table, parameters)
        return
    rows = insert_rows(connection, table, parameters, returning=tuple(table.primary_key))
    for obj, row in zip(run, rows, strict=True):
        for column, value in zip(mapper.primary_key, row, strict=True):
            setattr(obj, mapper.get_property_by_column(column).key, value)


def _values(obj: Any) -> dict[str, Any]:
    """The column values of ``obj``'s row (foreign keys copied from its parents)."""
    state = inspect(obj)
    mapper = state.mapper
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
    return values
