"""Units: the board, status changes and AVL positions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi import Path as PathParam

from arverne.dispatch import checks, flows, service
from arverne.dispatch.crew_schemas import CheckIn, CheckOut, DistressIn, DistressOut
from arverne.dispatch.distress import raise_distress
from arverne.dispatch.schemas import PositionIn, StatusIn, UnitIn, UnitOut
from arverne.dispatch.status import UnitStatus
from arverne.security.principal import Principal
from arverne.web.deps import AuditCtx, CityDep, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/units", tags=["units"])
UnitId = Annotated[int, PathParam(ge=1)]


@router.get("", summary="The unit board")
def list_units(
    session: SessionDep,
    settings: SettingsDep,
    status_: Annotated[UnitStatus | None, Query(alias="status")] = None,
    _: Principal = require("unit:read"),
) -> list[UnitOut]:
    """Active units with status, EIDO status, allowed next statuses, last position and
    status-check timer."""
    units = service.list_units(session, status=status_.value if status_ else None)
    checks = flows.checks_for(settings)
    return [service.unit_out(u, checks) for u in units]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a unit")
def create_unit(
    body: UnitIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("unit:manage"),
) -> UnitOut:
    """Create a unit; it starts off duty."""
    return service.unit_out(service.create_unit(session, ctx, body), flows.checks_for(settings))


@router.get("/checks", summary="Status-check timers of committed units")
def list_checks(
    session: SessionDep,
    settings: SettingsDep,
    due: Annotated[bool, Query(description="only the checks already due")] = False,
    _: Principal = require("unit:read"),
) -> list[CheckOut]:
    """Units whose status has a timer (dispatched, en route, on scene, transporting), the
    most overdue first: when the check is due, whether the last one got no answer and
    whether the expiry is in the duty log."""
    return checks.list_checks(session, settings, due_only=due)


@router.get("/{unit_id}", summary="One unit")
def get_unit(
    unit_id: UnitId,
    session: SessionDep,
    settings: SettingsDep,
    _: Principal = require("unit:read"),
) -> UnitOut:
    """A unit with its crew, status and status-check timer."""
    return service.unit_out(service.get_unit(session, unit_id), flows.checks_for(settings))


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
    return service.unit_out(unit, flows.checks_for(settings))


@router.post("/{unit_id}/check", summary="Record a status check (contrôle de situation)")
@on_event_loop
def record_check(
    unit_id: UnitId,
    body: CheckIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("unit:status"),
) -> UnitOut:
    """The crew's answer to a status check: ``ok`` restarts its timer, ``no_answer`` is
    logged and shown as an alarm until the crew answers or changes status. Only units in
    a status with a timer are checked (409 otherwise, listing those statuses)."""
    unit = checks.record_check(
        session=session, ctx=ctx, settings=settings, unit_id=unit_id, check_in=body
    )
    return service.unit_out(unit, flows.checks_for(settings))


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


@router.post(
    "/{unit_id}/distress",
    status_code=status.HTTP_201_CREATED,
    summary="A crew's distress call (appel de détresse)",
    responses={200: {"description": "the unit's distress incident was already open"}},
)
def distress(
    unit_id: UnitId,
    body: DistressIn,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    ctx: AuditCtx,
    _: Principal = require("unit:status"),
) -> DistressOut:
    """Create a P1 "officer needs assistance" incident where the crew is (its AVL
    position, else its incident's place, else the place given), linked to the incident it
    was working, with an alarm line in the duty log. While that incident is open, another
    press answers 200 with it instead of creating a second one."""
    incident, created = raise_distress(
        session=session,
        ctx=ctx,
        settings=settings,
        city=city,
        unit_id=unit_id,
        distress_in=body,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    view = service.incident_out(
        service.get_incident(session, incident.id), targets=flows.targets_for(settings)
    )
    return DistressOut(incident=view, created=created)
