"""The duty log (main courante): append-only lines, each published live.

Every event of the dispatch lifecycle is appended with its time and author; a correction
is a new line pointing at the one it corrects (``corrects_id``), never an edit.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, TextIO, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from arverne.dispatch.models import DutyLogEntry
from arverne.dispatch.schemas import DutyLogOut
from arverne.dispatch.service import emit
from arverne.security.audit import AuditContext
from arverne.store.bulk import insert_rows
from arverne.store.types import utcnow

_LOG = cast(Table, DutyLogEntry.__table__)


@dataclasses.dataclass(frozen=True, slots=True)
class LogLine:
    """A duty-log line to append with :func:`append_log` (the arguments of :func:`log`)."""

    ctx: AuditContext
    kind: str
    text: str
    incident_id: int | None = None
    unit_id: int | None = None
    data: dict[str, Any] | None = None
    corrects_id: int | None = None


def log(
    session: Session,
    ctx: AuditContext,
    *,
    kind: str,
    text: str,
    incident_id: int | None = None,
    unit_id: int | None = None,
    data: dict[str, Any] | None = None,
    corrects_id: int | None = None,
) -> DutyLogEntry:
    """Append one line to the duty log (main courante) and publish it live.

    The line is inserted at once, in the caller's transaction (one statement, outside the
    unit of work), so the incident or unit it names must already be in the database. Its
    ``log.appended`` event is written at commit with the other events. Returns the line
    (with its id) as a detached object.
    """
    line = LogLine(ctx, kind, text, incident_id, unit_id, data, corrects_id)
    return append_log(session, [line])[0]


def append_log(session: Session, lines: Sequence[LogLine]) -> list[DutyLogEntry]:
    """Append ``lines`` to the duty log in one statement, in order, as :func:`log` does.

    Returns the lines (with their ids) as detached objects.
    """
    if not lines:
        return []
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "at": now,
            "author_id": line.ctx.actor_id,
            "author": line.ctx.actor,
            "kind": line.kind,
            "text": line.text,
            "incident_id": line.incident_id,
            "unit_id": line.unit_id,
            "data": line.data or {},
            "corrects_id": line.corrects_id,
        }
        for line in lines
    ]
    inserted = insert_rows(session.connection(), _LOG, rows, returning=(_LOG.c.id,))
    entries = []
    for values, (id_,) in zip(rows, inserted, strict=True):
        values["id"] = id_
        entry = DutyLogEntry(**values)
        emit(
            session,
            kind="log.appended",
            permission="dutylog:read",
            payload=DutyLogOut.model_validate(entry).model_dump(mode="json"),
        )
        entries.append(entry)
    return entries


def list_log(
    session: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    unit_id: int | None = None,
    incident_id: int | None = None,
    kinds: Sequence[str] | None = None,
    limit: int = 1000,
) -> Sequence[DutyLogEntry]:
    """Return duty-log lines in chronological order, filtered."""
    query = select(DutyLogEntry).order_by(DutyLogEntry.at, DutyLogEntry.id).limit(limit)
    if since is not None:
        query = query.where(DutyLogEntry.at >= since)
    if until is not None:
        query = query.where(DutyLogEntry.at < until)
    if unit_id is not None:
        query = query.where(DutyLogEntry.unit_id == unit_id)
    if incident_id is not None:
        query = query.where(DutyLogEntry.incident_id == incident_id)
    if kinds:
        query = query.where(DutyLogEntry.kind.in_(list(kinds)))
    return session.scalars(query).all()


LOG_CSV_HEADER = ("id", "time", "author", "kind", "incident_id", "unit_id", "text", "corrects")


def write_log_csv(handle: TextIO, rows: Sequence[DutyLogEntry], zone: dt.tzinfo) -> None:
    """Write duty-log lines as CSV (local times with their offset)."""
    writer = csv.writer(handle)
    writer.writerow(LOG_CSV_HEADER)
    for e in rows:
        writer.writerow(
            [
                e.id,
                e.at.astimezone(zone).isoformat(timespec="seconds"),
                e.author,
                e.kind,
                e.incident_id or "",
                e.unit_id or "",
                e.text,
                e.corrects_id or "",
            ]
        )
