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
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.security.models import AuditEntry, AuditHead
from arverne.store.types import utcnow

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


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


def lock_chain(session: Session) -> AuditHead:
    """Lock the chain head until the transaction ends, creating it on first use.

    Other append-only streams (the live-event outbox) take this same lock so that
    their ids, too, grow in commit order across server processes.
    """
    head = session.execute(
        select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=_HEAD_ID, seq=0, hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


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

    The chain head row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
    transactions already hold the write lock), so concurrent appends are serialised.

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
    head = lock_chain(session)
    # Normalise details through JSON so the hash sees exactly what is stored.
    clean_details: dict[str, Any] = json.loads(json.dumps(details or {}, default=str))
    entry = AuditEntry(
        seq=head.seq + 1,
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
        prev_hash=head.hash,
    )
    entry.hash = _stored_hash(entry)
    session.add(entry)
    head.seq = entry.seq
    head.hash = entry.hash
    session.flush()
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
    head = session.get(AuditHead, _HEAD_ID)
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
