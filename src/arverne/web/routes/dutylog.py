"""The duty log (main courante): read, filter, export, and add notes."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response

from arverne.dispatch import dutylog, reported, service
from arverne.dispatch.models import DutyLogEntry
from arverne.dispatch.schemas import DutyLogOut, NoteIn
from arverne.dispatch.shifts import shift_window
from arverne.errors import InvalidInputError, NotFoundError
from arverne.security.principal import Principal
from arverne.store.types import utcnow
from arverne.web.deps import AuditCtx, SessionDep, SettingsDep, require
from arverne.web.idempotent import IdempotencyHeader, once
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/dutylog", tags=["duty log"])


def _window(
    day: dt.date | None, shift: str | None, zone: dt.tzinfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    if day is None:
        if shift is not None:
            raise InvalidInputError("shift", "give a date with the shift")
        return None, None
    return shift_window(day, shift, zone)


@router.get("", summary="Duty-log entries", response_model=list[DutyLogOut])
def list_entries(
    session: SessionDep,
    settings: SettingsDep,
    date: dt.date | None = None,
    shift: Annotated[str | None, Query(pattern="^(day|evening|night)$")] = None,
    unit_id: int | None = None,
    incident_id: int | None = None,
    kind: Annotated[list[str] | None, Query()] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    limit: Annotated[int, Query(ge=1, le=20000)] = 2000,
    _: Principal = require("dutylog:read"),
) -> Response | list[DutyLogOut]:
    """Entries in order, by local date and shift (day 6-14h, evening 14-22h, night 22-6h)."""
    since, until = _window(date, shift, settings.zone)
    rows = dutylog.list_log(
        session,
        since=since,
        until=until,
        unit_id=unit_id,
        incident_id=incident_id,
        kinds=kind,
        limit=limit,
    )
    if format == "json":
        return [DutyLogOut.model_validate(r) for r in rows]
    buffer = io.StringIO()
    dutylog.write_log_csv(buffer, rows, settings.zone)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="main-courante.csv"'},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DutyLogOut,
    summary="Add a note or a correction",
)
def add_note(
    body: NoteIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    principal: Principal = require("dutylog:write"),
    idempotency_key: IdempotencyHeader = None,
) -> DutyLogOut | Response:
    """Append a note; a correction points at the entry it corrects (nothing is overwritten).
    A note written offline carries ``at`` (kept as ``reported_at``); sent again with the
    same ``Idempotency-Key``, it is written once."""

    def write() -> DutyLogOut:
        if body.corrects_id is not None and session.get(DutyLogEntry, body.corrects_id) is None:
            raise NotFoundError("duty-log entry", body.corrects_id)
        if body.incident_id is not None:
            service.get_incident(session, body.incident_id)
        if body.unit_id is not None:
            service.get_unit(session, body.unit_id)
        received = utcnow()
        written = reported.reported_time(body.at, now=received)
        entry = dutylog.log(
            session,
            ctx,
            kind="correction" if body.corrects_id else "note",
            text=body.text,
            incident_id=body.incident_id,
            unit_id=body.unit_id,
            corrects_id=body.corrects_id,
            data=reported.lateness(written, received, settings.zone)[1] or None,
        )
        session.flush()  # the entry's id
        return DutyLogOut.model_validate(entry)

    return once(
        session, principal, idempotency_key, "POST /api/v1/dutylog", body, write, status_code=201
    )
