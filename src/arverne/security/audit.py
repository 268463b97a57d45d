"""Append-only, hash-chained audit log (Directive (EU) 2016/680, art. 25).

Every write and every read of personal data appends an entry naming the actor, the
action, the object, the reason, the time, the request and the client address. Each
entry stores the SHA-256 of the previous entry, so changing, removing or reordering
an entry breaks the chain and :func:`verify_chain` names the first broken entry.
There is deliberately no function here that updates or deletes an entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Session

from arverne.security.models import AuditEntry, AuditHead
from arverne.store.session import BATCH_ROWS
from arverne.store.types import utcnow

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
_HEAD = cast(Table, AuditHead.__table__)


@dataclasses.dataclass(frozen=True, slots=True)
class AuditContext:
    """Who is acting, from where, within which request."""

    actor: str
    actor_id: int | None = None
    request_id: str | None = None
    client_addr: str | None = None


SYSTEM = AuditContext(actor="system")


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    object_type: str | None,
    object_id: str | None,
    reason: str | None,
    request_id: str | None,
    client_addr: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """Return the SHA-256 of an entry's content and the hash of the entry before it."""
    payload = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "reason": reason,
        "request_id": request_id,
        "client_addr": client_addr,
        "details": details,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored_hash(entry: Any) -> str:
    return entry_hash(
        seq=entry.seq,
        at=entry.at,
        actor_id=entry.actor_id,
        actor=entry.actor,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        reason=entry.reason,
        request_id=entry.request_id,
        client_addr=entry.client_addr,
        details=entry.details or {},
        prev_hash=entry.prev_hash,
    )


# Rows to insert under the chain lock when the transaction commits, in order.
_PENDING_KEY = "arverne.chain_pending"


def lock_chain(session: Session) -> tuple[int, str]:
    """Lock the chain head until the transaction ends, creating it on first use.

    Other append-only streams (the live-event outbox) take this same lock so that
    their ids, too, grow in commit order across server processes. The head is re-read
    under the lock (never trusted from an earlier read). Returns its ``(seq, hash)``.
    """
    connection = session.connection()
    head = connection.execute(_head_for_update(), {"id": _HEAD_ID}).first()
    if head is None:  # first use of a database
        connection.execute(insert(_HEAD), {"id": _HEAD_ID, "seq": 0, "hash": GENESIS_HASH})
        return 0, GENESIS_HASH
    return int(head.seq), str(head.hash)


@functools.cache
def _head_for_update() -> Select[Any]:
    return select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == bindparam("id")).with_for_update()


@functools.cache
def _move_head() -> Update:
    return (
        update(_HEAD)
        .where(_HEAD.c.id == _HEAD_ID)
        .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
    )


def append_locked(session: Session, row: object) -> None:
    """Queue ``row`` (an audit entry or a live event) for insertion at commit.

    Queued rows are written in one batch just before the transaction commits, under the
    chain lock: the lock is then held only for those inserts and the commit itself,
    which is what lets concurrent transactions overlap on PostgreSQL. Call
    :func:`write_pending` to write them earlier.
    """
    if not session.in_transaction():
        session.begin()  # so that a rollback, even with no SQL sent yet, drops the row
    session.info.setdefault(_PENDING_KEY, []).append(row)


def _insert_rows(session: Session, rows: list[Any]) -> None:
    """Insert ORM-mapped rows with one Core ``executemany`` per table, in order.

    The rows never join the session: they are append-only and nothing reads them back
    in the transaction, so the unit of work (and fetching generated ids) is skipped.
    """
    by_class: dict[type, list[dict[str, Any]]] = {}
    for row in rows:
        mapper = inspect(row).mapper
        generated = {c.key for c in mapper.primary_key if getattr(row, c.key) is None}
        # Every other column is given, NULLs included: executemany compiles one
        # statement from the first row's keys, so all rows must have the same keys.
        by_class.setdefault(type(row), []).append(
            {a.key: getattr(row, a.key) for a in mapper.column_attrs if a.key not in generated}
        )
    connection = session.connection()
    multi_row = connection.dialect.name == "postgresql"
    for cls, params in by_class.items():
        table = cast(Table, inspect(cls).local_table)
        connection.execute(_insert_into(table, multi_row and len(params) > 1), params)


@functools.cache
def _insert_into(table: Table, one_statement: bool) -> Insert:
    """The insert of append-only rows. ``one_statement`` (many rows on PostgreSQL): with a
    ``RETURNING`` clause, whose answer is not read, so that SQLAlchemy sends the rows as
    one multi-row ``INSERT`` ("insertmanyvalues") rather than one ``INSERT`` per row: the
    server then runs one statement, not one per audit entry or event."""
    statement = insert(table)
    return statement.returning(*table.primary_key) if one_statement else statement


def write_pending(session: Session) -> None:
    """Chain and insert the queued audit entries and live events now.

    Called just before every commit; call it directly to read the rows back earlier.
    In a job of a group commit (:mod:`arverne.store.batch`) the rows are set aside
    instead, for :func:`write_batch_rows` once every job of the batch has run.
    """
    session.flush()  # the other changes first: the chain lock is then held only briefly
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    set_aside: list[Any] | None = session.info.get(BATCH_ROWS)
    if set_aside is not None:
        set_aside.extend(pending)
        return
    seq, last_hash = lock_chain(session)
    for row in pending:
        if isinstance(row, AuditEntry):
            seq += 1
            row.seq, row.prev_hash = seq, last_hash
            row.hash = last_hash = _stored_hash(row)
    _insert_rows(session, [row for row in pending if isinstance(row, AuditEntry)])
    _insert_rows(session, [row for row in pending if not isinstance(row, AuditEntry)])
    session.connection().execute(_move_head(), {"new_seq": seq, "new_hash": last_hash})


def write_batch_rows(session: Session, rows: list[Any]) -> None:
    """Chain and insert the rows the jobs of a group commit set aside, in their order.

    The ``finish`` step of :class:`arverne.store.batch.GroupCommit`: the chain's head is
    locked once for the whole batch, just before its commit.
    """
    session.info.setdefault(_PENDING_KEY, []).extend(rows)
    write_pending(session)


@event.listens_for(Session, "before_commit")
def _write_pending_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _transaction: object) -> None:
    session.info.pop(_PENDING_KEY, None)


def record(
    session: Session,
    ctx: AuditContext,
    *,
    action: str,
    object_type: str | None = None,
    object_id: object | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, in the caller's transaction.

    The entry is chained when the transaction commits (or at :func:`write_pending`): the
    head row is then locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions
    already hold the write lock) and re-read, so concurrent appends are serialised, and
    all the entries of the transaction are written in one batch. Its ``seq`` and
    ``hash`` are set from then on; if the transaction rolls back, so does the entry.

    Parameters
    ----------
    session
        The session of the action being audited: if it rolls back, so does the entry.
    ctx
        Actor, request id and client address.
    action
        Dotted verb such as ``user.create`` or ``call.read_personal``.
    object_type, object_id
        What was acted on.
    reason
        Why (required by callers for sensitive reads).
    details
        Extra JSON-serialisable facts; never secrets.
    """
    # Normalise details through JSON so the hash sees exactly what is stored.
    clean_details: dict[str, Any] = json.loads(json.dumps(details or {}, default=str))
    entry = AuditEntry(
        at=utcnow(),
        actor_id=ctx.actor_id,
        actor=ctx.actor,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        reason=reason,
        request_id=ctx.request_id,
        client_addr=ctx.client_addr,
        details=clean_details,
    )
    append_locked(session, entry)  # chained and written when the transaction commits
    return entry


@dataclasses.dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of :func:`verify_chain`."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def _iter_entries(session: Session, batch: int = 5000) -> Iterator[Any]:
    # Plain rows, not ORM objects: verifying millions of entries keeps nothing in the session.
    columns = AuditEntry.__table__.columns
    last = 0
    while True:
        rows = session.execute(
            select(*columns).where(columns.seq > last).order_by(columns.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole chain and report the first entry that was altered or removed.

    Checks, in order, for each entry: its sequence number follows the previous one
    (a gap means an entry was deleted), its ``prev_hash`` is the previous entry's hash
    (reordering or substitution), and its own hash matches its content (alteration).
    Finally the chain head must point at the last entry (truncation at the end).
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in _iter_entries(session):
        if entry.seq != expected_seq:
            return ChainReport(
                ok=False,
                entries=count,
                first_bad_seq=expected_seq,
                problem=f"entry #{expected_seq} is missing (next stored entry is #{entry.seq})",
            )
        if entry.prev_hash != expected_prev:
            return ChainReport(
                ok=False,
                entries=count,
                first_bad_seq=entry.seq,
                problem=f"entry #{entry.seq} does not follow entry #{entry.seq - 1} "
                "(previous hash differs: entries were replaced or reordered)",
            )
        if _stored_hash(entry) != entry.hash:
            return ChainReport(
                ok=False,
                entries=count,
                first_bad_seq=entry.seq,
                problem=f"entry #{entry.seq} was altered (its content no longer matches its hash)",
            )
        expected_prev = entry.hash
        expected_seq += 1
        count += 1
    head = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == _HEAD_ID)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != count:
        return ChainReport(
            ok=False,
            entries=count,
            first_bad_seq=count + 1,
            problem=f"the chain head records {head_seq} entries but {count} remain: "
            f"entries #{count + 1}..#{head_seq} were removed",
        )
    if head_hash != expected_prev:
        return ChainReport(
            ok=False,
            entries=count,
            first_bad_seq=count,
            problem=f"entry #{count} is not the entry the chain head recorded (it was replaced)",
        )
    return ChainReport(ok=True, entries=count)
