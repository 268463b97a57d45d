"""Column updates of loaded objects in one statement each, outside the unit of work.

A dispatch flow changes a few columns of two or three loaded rows (a unit's status, its
assignment's times, the incident's derived status). Through the ORM, each change costs
a flush: the unit of work sorts the session's mappers and relationships, compares every
attribute's history and only then sends its ``UPDATE``s. On the hot routes that was a
third of a status change's time (``docs/benchmarks/dispatch.md``). :func:`update` sends
the ``UPDATE`` at once and sets the new values on the object as if they had been loaded
from the database (no history, nothing left for a flush to do), so the objects still
give the views built from them the values just written. New rows take
:func:`arverne.store.rows.insert_persistent` and :func:`arverne.store.rows.relate`.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from sqlalchemy import Table, bindparam, inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import Update

_KEY = "_direct_pk"  # the bound primary key (never a column name)


def update(session: Session, obj: Any, **values: Any) -> None:
    """Write ``values`` (column attribute names to values) to ``obj``'s row, and to ``obj``.

    The ``UPDATE`` runs in the session's transaction at once; anything else pending in
    the session stays for its next flush. Columns with a Python ``onupdate``
    (``updated_at``) get it too. ``obj`` must be persistent, with a single-column
    primary key, and ``values`` must name column attributes only.

    Parameters
    ----------
    session
        The session ``obj`` belongs to.
    obj
        A persistent mapped object.
    **values
        The new values.

    Raises
    ------
    ValueError
        When ``obj`` is not persistent, or a name is not a column of its table.
    """
    state = inspect(obj)
    if not state.persistent:
        msg = f"{type(obj).__name__} is not persistent: its row cannot be updated"
        raise ValueError(msg)
    table = cast(Table, state.mapper.local_table)
    statement, stamped = _statement(table, tuple(sorted(values)))
    params = {**values, **{key: stamp() for key, stamp in stamped}}
    session.connection().execute(statement, {**params, _KEY: state.identity[0]})
    for key, value in params.items():
        set_committed_value(obj, key, value)


@functools.lru_cache(maxsize=256)
def _statement(table: Table, keys: tuple[str, ...]) -> tuple[Update, tuple[tuple[str, Any], ...]]:
    """The ``UPDATE`` of ``keys`` (bound by name) and the columns stamped on update."""
    unknown = [key for key in keys if key not in table.c]
    if unknown:
        msg = f"{table.name} has no column {', '.join(unknown)}"
        raise ValueError(msg)
    stamped = tuple(
        (column.key, functools.partial(stamp, None))
        for column in table.c
        if column.key not in keys and callable(stamp := getattr(column.onupdate, "arg", None))
    )
    (pk,) = table.primary_key.columns
    names = keys + tuple(key for key, _ in stamped)
    statement = (
        table.update().where(pk == bindparam(_KEY)).values({key: bindparam(key) for key in names})
    )
    return statement, stamped
