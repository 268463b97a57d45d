"""Plain functions on dispatch records: units, positions, events, views.

The duty log (main courante) is :mod:`arverne.dispatch.dutylog`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import Session, joinedload, lazyload

from arverne.dispatch.check_rules import CheckState, check_state
from arverne.dispatch.crew_rules import check_new_crew
from arverne.dispatch.models import (
    Assignment,
    Event,
    Incident,
    Unit,
    UnitCrew,
    UnitPosition,
)
from arverne.dispatch.schemas import (
    AssignmentOut,
    CallOut,
    IncidentOut,
    PositionIn,
    UnitIn,
    UnitOut,
)
from arverne.dispatch.status import (
    TYPE_CAPABILITIES,
    UnavailableReason,
    UnitStatus,
    allowed_next,
    eido_status,
)
from arverne.dispatch.taxonomy import TYPES_BY_CODE, Priority
from arverne.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.policy import is_allowed
from arverne.store import direct
from arverne.store.rows import insert_persistent
from arverne.store.types import utcnow

OPEN_STATUSES = ("queued", "dispatched", "en_route", "on_scene")


# --- live events ---------------------------------------------------------------------
def emit(session: Session, *, kind: str, permission: str, payload: dict[str, Any]) -> None:
    """Append a live event to the outbox, in the caller's transaction.

    The row is written when the transaction commits, under the audit-chain lock, so
    event ids grow in commit order across server processes.
    """
    audit.append_locked(
        session, Event(kind=kind, permission=permission, payload=payload, at=utcnow())
    )


def read_callers(
    session: Session,
    ctx: AuditContext,
    *,
    roles: Sequence[str],
    incident_id: int,
    reason: str | None,
    via: str,
) -> None:
    """Allow and audit a read of callers' identities (name, phone) on an incident.

    Raises
    ------
    ForbiddenError
        The roles lack ``call:read_personal``.
    InvalidInputError
        No reason was given (``X-Access-Reason``).
    """
    if not is_allowed(roles, "call:read_personal"):
        raise ForbiddenError("your roles may not read callers' identities")
    if not reason:
        raise InvalidInputError("X-Access-Reason", "say why you need the callers' identities")
    audit.record(
        session,
        ctx,
        action="call.read_personal",
        object_type="incident",
        object_id=incident_id,
        reason=reason,
        details={"via": via},
    )


# --- units ---------------------------------------------------------------------------
@functools.cache
def _unit_query(*, lock: bool, crew: bool = True) -> Select[Unit]:
    """The statement of :func:`get_unit`, built once per variant (``unit_id`` bound)."""
    query = select(Unit).where(Unit.id == bindparam("unit_id"))
    if not crew:  # loaded only if read
        query = query.options(lazyload(Unit.crew))
    if lock:  # with its crew in the same statement; the lock is on the unit's row only
        query = query.with_for_update(of=Unit).execution_options(populate_existing=True)
        if crew:
            query = query.options(joinedload(Unit.crew))
    return query


def get_unit(session: Session, unit_id: int, *, lock: bool = False, crew: bool = True) -> Unit:
    """Return a unit (row-locked with ``lock``) or raise :class:`NotFoundError`.

    A locked read refreshes a unit already loaded in the session: what was read before
    the lock may have changed since. Its crew comes with it, unless ``crew`` is false (a
    position report: the crew then loads only if read).
    """
    query = _unit_query(lock=lock, crew=crew)
    unit = session.scalars(query, {"unit_id": unit_id}).unique().one_or_none()
    if unit is None:
        raise NotFoundError("unit", unit_id)
    return unit


def committed_incident(session: Session, unit_id: int) -> Incident | None:
    """Return the incident a unit is committed to, row-locked, with its calls and
    assignments (as :func:`get_incident`), or ``None``; one statement.

    The unit's row is read, not locked: lock it next (incident, then unit, as every flow
    does) and check that it is still committed to this incident.
    """
    query = _incident_query(lock=True, related=True, by_unit=True)
    return session.scalars(query, {"unit_id": unit_id}).unique().one_or_none()


def list_units(session: Session, *, status: str | None = None) -> Sequence[Unit]:
    """Return active units by call sign, optionally with one status."""
    query = select(Unit).where(Unit.active.is_(True)).order_by(Unit.call_sign)
    if status is not None:
        query = query.where(Unit.status == status)
    return session.scalars(query).all()


def create_unit(
    session: Session, ctx: AuditContext, unit_in: UnitIn, *, synthetic: bool = False
) -> Unit:
    """Create a unit (off duty, at its station if one is given)."""
    if session.scalar(select(Unit).where(Unit.call_sign == unit_in.call_sign)) is not None:
        raise ConflictError(f"call sign {unit_in.call_sign!r} is already used; choose another")
    check_new_crew(session, unit_in.crew_officer_ids)
    caps = sorted(set(unit_in.capabilities) | TYPE_CAPABILITIES[unit_in.unit_type])
    unit = Unit(
        call_sign=unit_in.call_sign,
        unit_type=unit_in.unit_type.value,
        capabilities=caps,
        home_station=unit_in.home_station,
        station_lon=unit_in.station_lon,
        station_lat=unit_in.station_lat,
        beat=unit_in.beat,
        shift=unit_in.shift,
        status=UnitStatus.OFF_DUTY.value,
        status_changed_at=utcnow(),
        active=True,
        synthetic=synthetic,
        last_lon=unit_in.station_lon,
        last_lat=unit_in.station_lat,
        last_position_at=None,
    )
    session.add(unit)
    session.flush()
    for officer_id in unit_in.crew_officer_ids:
        session.add(UnitCrew(unit_id=unit.id, officer_id=officer_id))
    session.flush()
    session.refresh(unit)
    audit.record(
        session,
        ctx,
        action="unit.create",
        object_type="unit",
        object_id=unit.id,
        details={"call_sign": unit.call_sign, "type": unit.unit_type},
    )
    emit(
        session,
        kind="unit.updated",
        permission="unit:read",
        payload=unit_out(unit, {}).model_dump(mode="json"),  # off duty: no timer
    )
    return unit


def record_position(
    session: Session, ctx: AuditContext, unit: Unit, position: PositionIn
) -> UnitPosition:
    """Store an AVL report; it becomes the unit's last known position if it is newer."""
    now = utcnow()
    at = position.at or now
    if at > now + dt.timedelta(minutes=2):
        raise InvalidInputError("at", "position time is in the future; check the device clock")
    row = UnitPosition(
        unit_id=unit.id,
        at=at,
        lon=position.lon,
        lat=position.lat,
        speed_mps=position.speed_mps,
        heading_deg=position.heading_deg,
        received_at=now,
    )
    insert_persistent(session, row)  # one INSERT, one UPDATE: no flush (arverne.store.direct)
    if unit.last_position_at is None or at >= unit.last_position_at:
        direct.update(
            session, unit, last_lon=position.lon, last_lat=position.lat, last_position_at=at
        )
        emit(
            session,
            kind="unit.position",
            permission="unit:read",
            payload={
                "unit_id": unit.id,
                "lon": position.lon,
                "lat": position.lat,
                "at": at.isoformat(),
                "status": unit.status,
            },
        )
    return row


def purge_positions(session: Session, ctx: AuditContext, *, older_than_days: int) -> int:
    """Delete AVL history older than the retention period; return how many rows went."""
    cutoff = utcnow() - dt.timedelta(days=older_than_days)
    result = session.execute(delete(UnitPosition).where(UnitPosition.at < cutoff))
    count = int(getattr(result, "rowcount", 0) or 0)
    audit.record(
        session,
        ctx,
        action="positions.purge",
        object_type="unit_position",
        details={"deleted": count, "cutoff": cutoff.isoformat()},
    )
    return count


def unit_out(unit: Unit, checks: Mapping[UnitStatus, int]) -> UnitOut:
    """Build the wire view of a unit; ``checks``: minutes per status before a status
    check is due (:func:`arverne.dispatch.check_rules.parse_check_minutes`)."""
    status = UnitStatus(unit.status)
    reason = UnavailableReason(unit.status_reason) if unit.status_reason else None
    primary, secondary = eido_status(status, reason)
    timer = unit_check(unit, checks)
    return UnitOut(
        id=unit.id,
        call_sign=unit.call_sign,
        unit_type=unit.unit_type,
        capabilities=list(unit.capabilities or []),
        home_station=unit.home_station,
        beat=unit.beat,
        shift=unit.shift,
        status=unit.status,
        status_reason=unit.status_reason,
        status_changed_at=unit.status_changed_at,
        eido_primary=primary,
        eido_secondary=secondary,
        allowed_next=allowed_next(status),
        current_incident_id=unit.current_incident_id,
        lon=unit.last_lon,
        lat=unit.last_lat,
        position_at=unit.last_position_at,
        crew=[officer.display_name for officer in unit.crew],
        synthetic=unit.synthetic,
        check_due_at=timer.due_at if timer else None,
        checked_at=unit.checked_at,
        check_missed_at=unit.check_missed_at if timer and timer.missed else None,
    )


def unit_check(unit: Unit, checks: Mapping[UnitStatus, int]) -> CheckState | None:
    """The unit's status-check timer, or ``None`` when its status has none."""
    return check_state(
        status=unit.status,
        status_changed_at=unit.status_changed_at,
        checked_at=unit.checked_at,
        check_missed_at=unit.check_missed_at,
        check_alerted_at=unit.check_alerted_at,
        limits=checks,
    )


# --- incidents -----------------------------------------------------------------------
@functools.cache
def _incident_query(*, lock: bool, related: bool, by_unit: bool = False) -> Select[Incident]:
    """The statement of :func:`get_incident`, built once per variant (``incident_id``
    bound; with ``by_unit``, ``unit_id``: the incident that unit is committed to)."""
    key = (
        select(Unit.current_incident_id).where(Unit.id == bindparam("unit_id")).scalar_subquery()
        if by_unit
        else bindparam("incident_id")
    )
    query = select(Incident).where(Incident.id == key)
    if related:  # one statement (a few calls times a few units: a handful of rows)
        query = query.options(
            joinedload(Incident.calls),
            joinedload(Incident.assignments).joinedload(Assignment.unit).lazyload(Unit.crew),
        )
    else:
        query = query.options(lazyload(Incident.calls), lazyload(Incident.assignments))
    if lock:  # the incident's row only, not the rows joined to it
        query = query.with_for_update(of=Incident).execution_options(populate_existing=True)
    return query


def get_incident(
    session: Session, incident_id: int, *, lock: bool = False, related: bool = True
) -> Incident:
    """Return an incident (row-locked with ``lock``) or raise :class:`NotFoundError`.

    Its calls and assignments (with their units) come in the same statement; with
    ``related=False`` they are loaded only if they are read (a lighter statement for
    callers that need the incident's own fields only). The
    assigned units come without their crews (the incident's view needs call signs only;
    a crew still loads when read). A locked read refreshes an incident already loaded in
    the session: what an earlier read saw may have been changed and committed since.
    """
    query = _incident_query(lock=lock, related=related)
    incident = session.scalars(query, {"incident_id": incident_id}).unique().one_or_none()
    if incident is None:
        raise NotFoundError("incident", incident_id)
    return incident


def list_incidents(
    session: Session, *, status: Sequence[str] | None = None, limit: int = 500
) -> Sequence[Incident]:
    """Return incidents, most urgent first (priority, then oldest call)."""
    query = select(Incident).order_by(Incident.priority, Incident.first_call_at).limit(limit)
    if status:
        query = query.where(Incident.status.in_(list(status)))
    return session.scalars(query).all()


def incident_out(
    incident: Incident, *, targets: dict[Priority, int], reveal_personal: bool = False
) -> IncidentOut:
    """Build the wire view of an incident; callers' identities only when revealed."""
    itype = TYPES_BY_CODE[incident.type_code]
    calls = [
        CallOut(
            id=call.id,
            channel=call.channel,
            received_at=call.received_at,
            description=call.description,
            taken_by=call.taken_by,
            caller_name=call.caller_name if reveal_personal else None,
            caller_phone=call.caller_phone if reveal_personal else None,
            caller_redacted=not reveal_personal,
        )
        for call in incident.calls
    ]
    assignments = [
        AssignmentOut(
            id=a.id,
            unit_id=a.unit_id,
            call_sign=a.unit.call_sign,
            dispatched_at=a.dispatched_at,
            dispatched_by=a.dispatched_by,
            eta_s=a.eta_s,
            en_route_at=a.en_route_at,
            arrived_at=a.arrived_at,
            released_at=a.released_at,
            release_reason=a.release_reason,
            transport_to=a.transport_to,
        )
        for a in incident.assignments
    ]
    return IncidentOut(
        id=incident.id,
        number=incident.number,
        type_code=incident.type_code,
        type_label=itype.label_fr,
        group=itype.group,
        priority=incident.priority,
        status=incident.status,
        lon=incident.lon,
        lat=incident.lat,
        address=incident.address,
        street=incident.street,
        district=incident.district,
        snap_distance_m=incident.snap_distance_m,
        description=incident.description,
        created_at=incident.created_at,
        created_by=incident.created_by,
        first_call_at=incident.first_call_at,
        first_dispatch_at=incident.first_dispatch_at,
        first_arrival_at=incident.first_arrival_at,
        closed_at=incident.closed_at,
        disposition=incident.disposition,
        offence_codes=list(incident.offence_codes or []),
        target_s=targets[Priority(incident.priority)],
        synthetic=incident.synthetic,
        calls=calls,
        assignments=assignments,
        merged_into=incident.merged_into_id,
        split_from=incident.split_from_id,
    )
