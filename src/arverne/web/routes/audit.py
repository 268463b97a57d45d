"""Reading and verifying the audit log (there is no route that changes it)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from arverne.security import audit
from arverne.security.models import AuditEntry
from arverne.security.principal import Principal
from arverne.security.schemas import AuditEntryOut, ChainReportOut
from arverne.store.session import end_read_phase
from arverne.web.deps import AccessReason, AuditCtx, SessionDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop, reads_awaited

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/audit", tags=["audit"])


@router.get("", summary="Search the audit log")
@on_event_loop  # an audited read: SQLite writes it through the writer gate
@reads_awaited  # a search over the whole log: never holds the loop on PostgreSQL
def list_entries(
    session: SessionDep,
    ctx: AuditCtx,
    reason: AccessReason = None,
    actor: str | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[int | None, Query(ge=1)] = None,
    _: Principal = require("audit:read"),
) -> list[AuditEntryOut]:
    """Return entries newest first; page with ``before_seq``. The read itself is audited."""
    end_read_phase(session)  # an audited read: one write transaction
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    for column, value in (
        (AuditEntry.actor, actor),
        (AuditEntry.action, action),
        (AuditEntry.object_type, object_type),
        (AuditEntry.object_id, object_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    rows = [AuditEntryOut.model_validate(row) for row in session.scalars(query)]
    audit.record(
        session,
        ctx,
        action="audit.read",
        reason=reason,
        details={"filters": {"actor": actor, "action": action}, "count": len(rows)},
    )
    return rows


@router.get("/verify", summary="Verify the hash chain")
def verify(session: SessionDep, _: Principal = require("audit:read")) -> ChainReportOut:
    """Walk the whole chain; report the first entry that was altered or removed."""
    report = audit.verify_chain(session)
    return ChainReportOut(
        ok=report.ok,
        entries=report.entries,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
    )
