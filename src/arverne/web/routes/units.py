"""Units: the board, status changes and AVL positions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi import Path as PathParam

from arverne.dispatch import checks, crew, flows, service
from arverne.dispatch.crew_schemas import (
    CheckIn,
    CheckOut,
    CrewIn,
    CrewMember,
    DistressIn,
    DistressOut,
    InitiativeIn,
    MyUnitsOut,
)
from arverne.dispatch.distress import raise_distress
from arverne.dispatch.initiative import take_initiative
from arverne.dispatch.schemas import IncidentOut, PositionIn, StatusIn, UnitIn, UnitOut
from arverne.dispatch.status import UnitStatus
from arverne.errors import ForbiddenError
from arverne.people import service as people
from arverne.security.principal import Principal
from arverne.web.deps import AuditCtx, CityDep, SessionDep, SettingsDep, require
from arverne.web.idempotent import IdempotencyHeader, once
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


@router.get("/mine", summary="The units I crew")
def my_units(
    session: SessionDep,
    settings: SettingsDep,
    principal: Principal = require("unit:read"),
) -> MyUnitsOut:
    """The officer linked to the caller's account and the units whose crew they are on
    (the crew terminal's view); ``officer`` is null when the account is not linked."""
    officer = people.officer_of_user(session, principal.user_id)
    units = crew.crew_units(session, principal.user_id) if officer is not None else []
    limits = flows.checks_for(settings)
    return MyUnitsOut(
        officer=CrewMember(badge=officer.badge, name=officer.display_name) if officer else None,
        units=[service.unit_out(u, limits) for u in units],
    )


@router.get("/{unit_id}", summary="One unit")
def get_unit(
    unit_id: UnitId,
    session: SessionDep,
    settings: SettingsDep,
    _: Principal = require("unit:read"),
) -> UnitOut:
    """A unit with its crew, status and status-check timer."""
    return service.unit_out(service.get_unit(session, unit_id), flows.checks_for(settings))


@router.post("/{unit_id}/status", response_model=UnitOut, summary="Change a unit's status")
@on_event_loop
def set_status(
    unit_id: UnitId,
    body: StatusIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    principal: Principal = require("unit:status"),
    idempotency_key: IdempotencyHeader = None,
) -> UnitOut | Response:
    """Move the unit along its state machine; an illegal move is a 409 listing allowed ones.
    A patrol officer changes only the status of the unit they crew (403 otherwise). A
    change sent late by a terminal that was offline carries ``at``, the time it was made;
    sent again with the same ``Idempotency-Key``, it is applied once."""
    crew.authorize(session, principal, unit_id)

    def change() -> UnitOut:
        unit = flows.set_unit_status(
            session=session, ctx=ctx, settings=settings, unit_id=unit_id, status_in=body
        )
        return service.unit_out(unit, flows.checks_for(settings))

    scope = f"POST /api/v1/units/{unit_id}/status"
    return once(session, principal, idempotency_key, scope, body, change)


@router.post("/{unit_id}/check", summary="Record a status check (contrôle de situation)")
@on_event_loop
def record_check(
    unit_id: UnitId,
    body: CheckIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    principal: Principal = require("unit:status"),
) -> UnitOut:
    """The crew's answer to a status check: ``ok`` restarts its timer, ``no_answer`` is
    logged and shown as an alarm until the crew answers or changes status. Only units in
    a status with a timer are checked (409 otherwise, listing those statuses). A crew
    answers its own unit's check with ``ok``; ``no_answer`` is the dispatcher's."""
    crew.authorize(session, principal, unit_id)
    if body.outcome == "no_answer" and crew.ANY_UNIT not in principal.permissions:
        raise ForbiddenError(
            "a crew answers its own check with 'ok'; 'no_answer' is recorded by the dispatcher"
        )
    unit = checks.record_check(
        session=session, ctx=ctx, settings=settings, unit_id=unit_id, check_in=body
    )
    return service.unit_out(unit, flows.checks_for(settings))


@router.post(
    "/{unit_id}/positions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=dict[str, object],
    summary="Report a position (AVL)",
)
@on_event_loop
def report_position(
    unit_id: UnitId,
    body: PositionIn,
    session: SessionDep,
    ctx: AuditCtx,
    principal: Principal = require("unit:position"),
    idempotency_key: IdempotencyHeader = None,
) -> dict[str, object] | Response:
    """Store a position; kept two months, the newest feeds recommendation. A patrol
    officer reports only the position of the unit they crew. Positions sent late keep
    their ``at`` (history) and move the unit only if newer than its last one."""
    crew.authorize(session, principal, unit_id)

    def record() -> dict[str, object]:
        unit = service.get_unit(session, unit_id, lock=True, crew=False)
        row = service.record_position(session, ctx, unit, body)
        return {"unit_id": unit.id, "at": row.at.isoformat(), "accepted": True}

    scope = f"POST /api/v1/units/{unit_id}/positions"
    return once(session, principal, idempotency_key, scope, body, record, status_code=202)


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
    principal: Principal = require("unit:status"),
) -> DistressOut:
    """Create a P1 "officer needs assistance" incident where the crew is (its AVL
    position, else its incident's place, else the place given), linked to the incident it
    was working, with an alarm line in the duty log. While that incident is open, another
    press answers 200 with it instead of creating a second one. A patrol officer raises
    it for the unit they crew."""
    crew.authorize(session, principal, unit_id)
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


@router.put("/{unit_id}/crew", summary="Set a unit's crew")
def set_crew(
    unit_id: UnitId,
    body: CrewIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("unit:manage"),
) -> UnitOut:
    """Replace the unit's crew by badge (supervisor); officers on another crew move over.
    Each change is in the duty log."""
    unit = crew.set_crew(
        session=session, ctx=ctx, settings=settings, unit_id=unit_id, badges=list(body.badges)
    )
    return service.unit_out(unit, flows.checks_for(settings))


@router.post("/{unit_id}/crew/me", summary="Sign on to a unit (prise de service)")
def sign_on(
    unit_id: UnitId,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    principal: Principal = require("unit:status"),
) -> UnitOut:
    """Put the officer linked to the caller's account on the unit's crew, taking them off
    any other (409 when the account is not linked to an officer)."""
    unit = crew.sign_on(
        session=session, ctx=ctx, settings=settings, unit_id=unit_id, user_id=principal.user_id
    )
    return service.unit_out(unit, flows.checks_for(settings))


@router.delete("/{unit_id}/crew/me", summary="Sign off a unit (fin de service)")
def sign_off(
    unit_id: UnitId,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    principal: Principal = require("unit:status"),
) -> UnitOut:
    """Take the caller's officer off the unit's crew (409 when not on it)."""
    unit = crew.sign_off(
        session=session, ctx=ctx, settings=settings, unit_id=unit_id, user_id=principal.user_id
    )
    return service.unit_out(unit, flows.checks_for(settings))


@router.post(
    "/{unit_id}/initiative",
    status_code=status.HTTP_201_CREATED,
    summary="An intervention on the crew's own initiative",
)
def initiative(
    unit_id: UnitId,
    body: InitiativeIn,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    ctx: AuditCtx,
    principal: Principal = require("incident:create"),
) -> IncidentOut:
    """A crew comes upon an event and handles it: one transaction creates the incident
    (channel ``officer``, at the unit's position unless a place is given), commits the
    unit and puts it on scene. The unit must be free (409 otherwise). A patrol officer
    does it for the unit they crew."""
    if "unit:status" not in principal.permissions:
        raise ForbiddenError("reporting for a unit needs 'unit:status'; ask an administrator")
    crew.authorize(session, principal, unit_id)
    incident = take_initiative(
        session=session,
        ctx=ctx,
        settings=settings,
        city=city,
        unit_id=unit_id,
        initiative_in=body,
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))
