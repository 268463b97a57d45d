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
    Select,
    Table,
    Update,
    bindparam,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from arverne.security.models import AuditEntry, AuditHead
from arverne.store.bulk import insert_rows
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


def _canonical(*, seq: int, prev_hash: str, at: dt.datetime, **content: Any) -> str:
    """The text an entry's hash is computed over: sorted-key JSON without spaces."""
    payload = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "prev_hash": prev_hash,
        **content,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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
    canonical = _canonical(
        seq=seq,
        at=at,
        actor_id=actor_id,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        reason=reason,
        request_id=request_id,
        client_addr=client_addr,
        details=details,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_CONTENT = (
    "at",
    "actor_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "reason",
    "request_id",
    "client_addr",
)


def _content(entry: Any) -> dict[str, Any]:
    """The hashed fields of an entry other than its number and previous hash."""
    content = {name: getattr(entry, name) for name in _CONTENT}
    content["details"] = entry.details or {}
    return content


def _stored_hash(entry: Any) -> str:
    return entry_hash(seq=entry.seq, prev_hash=entry.prev_hash, **_content(entry))


_PREV_MARK = ',"prev_hash":""'
_SEQ_TAIL = ',"seq":0}'


def hash_parts(entry: Any) -> tuple[str, str]:
    """Split an entry's canonical text around its previous hash and its number.

    For every ``seq`` and ``prev_hash``, ``entry_hash`` of the entry is the SHA-256 of
    ``head + prev_hash + mid + str(seq) + "}"``: the database's chaining trigger
    (PostgreSQL, migration 0012) computes it that way, once it knows both.

    Parameters
    ----------
    entry
        An object with the fields of :class:`~arverne.security.models.AuditEntry`
        (``seq`` and ``prev_hash`` are not read).

    Returns
    -------
    tuple of str
        ``(head, mid)``.
    """
    text = _canonical(seq=0, prev_hash="", **_content(entry))
    # Sorted keys: "seq" comes last, "prev_hash" after "details" and before "reason" and
    # "request_id". A JSON string cannot hold an unescaped quote, so the last match of
    # the mark is the entry's own field, whatever nested details may contain.
    if not text.endswith(_SEQ_TAIL):  # pragma: no cover - a change of the hashed fields
        msg = "the hashed fields changed: seq is no longer the last key"
        raise AssertionError(msg)
    cut = text.rindex(_PREV_MARK) + len(_PREV_MARK) - 1  # just after the opening quote
    return text[:cut], text[cut : -len("0}")]


# Rows to chain and insert when the transaction commits, in order.
_PENDING_KEY = "arverne.chain_pending"


def lock_chain(session: Session) -> tuple[int, str]:
    """Lock the chain head until the transaction ends, creating it on first use.

    Other append-only streams (the live-event outbox) take this same lock so that
    their ids, too, grow in commit order across server processes. On PostgreSQL the
    chaining triggers take it at commit; an explicit call holds it from now on, to
    serialise a whole transaction with every other writer. The head is re-read
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

    Queued rows are written in one batch just before the transaction commits and chained
    under the chain lock, which on PostgreSQL is taken and released inside ``COMMIT``
    (:func:`_write_pending`): that is what lets concurrent transactions overlap. Call
    :func:`write_pending` to write them earlier.
    """
    if not session.in_transaction():
        session.begin()  # so that a rollback, even with no SQL sent yet, drops the row
    session.info.setdefault(_PENDING_KEY, []).append(row)


def _insert_rows(session: Session, rows: list[Any], *, staged: bool = False) -> None:
    """Insert ORM-mapped rows with one Core statement per table, in order.

    The rows never join the session: they are append-only and nothing reads them back
    in the transaction, so the unit of work (and fetching generated ids) is skipped.
    With ``staged`` they go to each table's ``<table>_staging`` twin (PostgreSQL), audit
    entries with their :func:`hash_parts` in place of their number and hashes.
    """
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in rows:
        mapper = inspect(row).mapper
        table = cast(Table, mapper.local_table)
        if staged:
            table = table.metadata.tables[f"{table.name}_staging"]
        # Every other column is given, NULLs included: executemany compiles one
        # statement from the first row's keys, so all rows must have the same keys.
        generated = {c.key for c in table.primary_key if getattr(row, c.key, None) is None}
        params = {
            a.key: getattr(row, a.key)
            for a in mapper.column_attrs
            if a.key in table.c and a.key not in generated
        }
        if staged and isinstance(row, AuditEntry):
            params["hash_head"], params["hash_mid"] = hash_parts(row)
        by_table.setdefault(table, []).append(params)
    connection = session.connection()
    for table, params_list in by_table.items():
        insert_rows(connection, table, params_list)  # one statement per table on PostgreSQL


def write_pending(session: Session) -> None:
    """Chain and insert the queued audit entries and live events now.

    Called just before every commit; call it directly to read the rows back earlier.
    In a job of a group commit (:mod:`arverne.store.batch`) the rows are set aside
    instead, for :func:`write_batch_rows` once every job of the batch has run.
    """
    _write_pending(session, at_commit=False)


def _write_pending(session: Session, *, at_commit: bool) -> None:
    """Write the queued rows; ``at_commit``: the transaction commits next.

    On PostgreSQL the rows go to the staging tables, without any lock, and the triggers
    deferred to the commit chain them: the chain-head lock is then taken and released
    inside ``COMMIT``. When the rows must be readable before (a direct call) or when the
    commit is only a savepoint's release (a session joined to an outer transaction, as
    in tests), the triggers are fired now. On SQLite, whose transactions already hold the
    database's write lock, the rows are chained here.
    """
    session.flush()  # the other changes first: the chain lock is then held only briefly
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    set_aside: list[Any] | None = session.info.get(BATCH_ROWS)
    if set_aside is not None:
        set_aside.extend(pending)
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _insert_rows(session, pending, staged=True)
        if not at_commit or connection.in_nested_transaction():
            connection.execute(_CHAIN_NOW)
        return
    seq, last_hash = lock_chain(session)
    for row in pending:
        if isinstance(row, AuditEntry):
            seq += 1
            row.seq, row.prev_hash = seq, last_hash
            row.hash = last_hash = _stored_hash(row)
    _insert_rows(session, [row for row in pending if isinstance(row, AuditEntry)])
    _insert_rows(session, [row for row in pending if not isinstance(row, AuditEntry)])
    connection.execute(_move_head(), {"new_seq": seq, "new_hash": last_hash})


# Fire the chaining triggers (migration 0012) now rather than at the commit.
_CHAIN_NOW = text("SET CONSTRAINTS audit_entries_chained, events_published IMMEDIATE")


def write_batch_rows(session: Session, rows: list[Any]) -> None:
    """Chain and insert the rows the jobs of a group commit set aside, in their order.

    The ``finish`` step of :class:`arverne.store.batch.GroupCommit`, just before the
    batch's commit: the chain's head is locked once for the whole batch.
    """
    session.info.setdefault(_PENDING_KEY, []).extend(rows)
    _write_pending(session, at_commit=True)


@event.listens_for(Session, "before_commit")
def _write_pending_before_commit(session: Session) -> None:
    _write_pending(session, at_commit=True)


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
    head row is then locked and re-read, so concurrent appends are serialised, and all
    the entries of the transaction are written in one batch. On PostgreSQL that happens
    inside ``COMMIT``, in a deferred trigger (migration 0012), and the returned object's
    ``seq`` and ``hash`` stay unset (read the entry back to see them); on SQLite, whose
    transactions already hold the write lock, they are set on the object. If the
    transaction rolls back, so does the entry.

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
