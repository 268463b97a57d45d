"""Units: the board, status changes and AVL positions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi import Path as PathParam

from arverne.dispatch import flows, service
from arverne.dispatch.schemas import PositionIn, StatusIn, UnitIn, UnitOut
from arverne.dispatch.status import UnitStatus
from arverne.security.principal import Principal
from arverne.web.deps import AuditCtx, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/units", tags=["units"])
UnitId = Annotated[int, PathParam(ge=1)]


@router.get("", summary="The unit board")
def list_units(
    session: SessionDep,
    status_: Annotated[UnitStatus | None, Query(alias="status")] = None,
    _: Principal = require("unit:read"),
) -> list[UnitOut]:
    """Active units with status, EIDO status, allowed next statuses and last position."""
    units = service.list_units(session, status=status_.value if status_ else None)
    return [service.unit_out(u) for u in units]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a unit")
def create_unit(
    body: UnitIn, session: SessionDep, ctx: AuditCtx, _: Principal = require("unit:manage")
) -> UnitOut:
    """Create a unit; it starts off duty."""
    return service.unit_out(service.create_unit(session, ctx, body))


@router.get("/{unit_id}", summary="One unit")
def get_unit(unit_id: UnitId, session: SessionDep, _: Principal = require("unit:read")) -> UnitOut:
    """A unit with its crew and status."""
    return service.unit_out(service.get_unit(session, unit_id))


@router.post("/{unit_id}/status", summary="Change a unit's status")
@on_event_loop
def set_status(
    unit_id: UnitId,
    body: StatusIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("unit:status"),
) -> UnitOut:
    """Move the unit along its state machine; an illegal move is a 409 listing allowed ones."""
    unit = flows.set_unit_status(
        session=session, ctx=ctx, settings=settings, unit_id=unit_id, status_in=body
    )
    return service.unit_out(unit)


@router.post(
    "/{unit_id}/positions", status_code=status.HTTP_202_ACCEPTED, summary="Report a position (AVL)"
)
@on_event_loop
def report_position(
    unit_id: UnitId,
    body: PositionIn,
    session: SessionDep,
    ctx: AuditCtx,
    _: Principal = require("unit:position"),
) -> dict[str, object]:
    """Store a position; kept two months, the newest feeds recommendation."""
    unit = service.get_unit(session, unit_id, lock=True)
    row = service.record_position(session, ctx, unit, body)
    return {"unit_id": unit.id, "at": row.at.isoformat(), "accepted": True}
