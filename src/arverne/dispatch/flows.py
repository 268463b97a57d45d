"""Dispatch orchestration: each flow changes incidents and units, writes the duty log,
the audit log and the live events, all in the caller's single transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import service
from arverne.dispatch.city import CityModel, Place, haversine_m
from arverne.dispatch.errors import IllegalTransitionError, IncidentClosedError, UnitBusyError
from arverne.dispatch.models import Assignment, Call, Incident, Unit, incident_number
from arverne.dispatch.schemas import (
    CallIn,
    CancelIn,
    CloseIn,
    DispatchIn,
    DuplicateCandidate,
    IncidentIn,
    IncidentUpdate,
    StatusIn,
)
from arverne.dispatch.status import (
    COMMITTED,
    FREE,
    REASON_LABEL_FR,
    STATUS_LABEL_FR,
    TRANSITIONS,
    UnitStatus,
    allowed_next,
    label_fr,
)
from arverne.dispatch.taxonomy import Priority, compatible, get_type, parse_targets
from arverne.errors import ConflictError, InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow

CLOSED = frozenset({"closed", "cancelled"})


def targets_for(settings: Settings) -> dict[Priority, int]:
    """Response-time targets (seconds) per priority for this city."""
    return parse_targets(settings.response_targets)


def _publish_incident(
    session: Session, settings: Settings, incident: Incident, kind: str, *, refresh: bool = True
) -> None:
    session.flush()
    if refresh:  # a new incident's collections are already complete in memory
        session.refresh(incident)
    payload = service.incident_out(incident, targets=targets_for(settings))
    service.emit(
        session, kind=kind, permission="incident:read", payload=payload.model_dump(mode="json")
    )


def _publish_unit(session: Session, unit: Unit) -> None:
    service.emit(
        session,
        kind="unit.updated",
        permission="unit:read",
        payload=service.unit_out(unit).model_dump(mode="json"),
    )


def refresh_status(incident: Incident) -> None:
    """Derive an open incident's status from its active assignments."""
    if incident.status in CLOSED:
        return
    active = [a for a in incident.assignments if a.released_at is None]
    if not active:
        incident.status = "queued"
    elif any(a.arrived_at for a in active):
        incident.status = "on_scene"
    elif any(a.en_route_at for a in active):
        incident.status = "en_route"
    else:
        incident.status = "dispatched"


@dataclasses.dataclass(frozen=True, slots=True)
class IntakeResult:
    """What intake produced."""

    incident: Incident
    linked: bool
    duplicates: list[DuplicateCandidate]


def _received_at(call_in: CallIn) -> dt.datetime:
    now = utcnow()
    received = call_in.received_at or now
    if received > now + dt.timedelta(minutes=1):
        raise InvalidInputError("call.received_at", "is in the future; check the clock")
    return received


def find_duplicates(
    session: Session,
    settings: Settings,
    *,
    type_code: str,
    lon: float,
    lat: float,
    exclude_id: int | None = None,
) -> list[DuplicateCandidate]:
    """Open incidents of a compatible type, near in space and time, nearest first.

    The search is done in SQL on a bounding box around the point (and reads only the
    columns it needs), so intake stays fast however long the queue grows.
    """
    now = utcnow()
    since = now - dt.timedelta(minutes=settings.duplicate_window_minutes)
    dlat = settings.duplicate_radius_m / 111_320.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    query = select(
        Incident.id, Incident.type_code, Incident.lon, Incident.lat, Incident.created_at
    ).where(
        Incident.status.in_(service.OPEN_STATUSES),
        Incident.created_at >= since,
        Incident.lon.between(lon - dlon, lon + dlon),
        Incident.lat.between(lat - dlat, lat + dlat),
    )
    rows = [
        row
        for row in session.execute(query).all()
        if row.id != exclude_id and compatible(row.type_code, type_code)
    ]
    if not rows:
        return []
    dist = haversine_m(np.array([r.lon for r in rows]), np.array([r.lat for r in rows]), lon, lat)
    found = [
        DuplicateCandidate(
            incident_id=r.id,
            number=incident_number(r.created_at, r.id),
            type_code=r.type_code,
            distance_m=round(float(d), 1),
            minutes_ago=round((now - r.created_at).total_seconds() / 60, 1),
        )
        for r, d in zip(rows, dist, strict=True)
        if d <= settings.duplicate_radius_m
    ]
    return sorted(found, key=lambda c: c.distance_m)


def _add_call(session: Session, ctx: AuditContext, incident: Incident, call_in: CallIn) -> Call:
    call = Call(
        incident=incident,  # also appends to incident.calls
        channel=call_in.channel.value,
        received_at=_received_at(call_in),
        caller_name=call_in.caller_name,
        caller_phone=call_in.caller_phone,
        description=call_in.description,
        taken_by=ctx.actor,
    )
    session.add(call)
    session.flush()
    if call.received_at < incident.first_call_at:
        incident.first_call_at = call.received_at
    audit.record(
        session,
        ctx,
        action="call.create",
        object_type="call",
        object_id=call.id,
        details={"incident_id": incident.id, "channel": call.channel},
    )
    service.log(
        session,
        ctx,
        kind="call_received",
        incident_id=incident.id,
        text=f"Appel ({label_fr(call.channel)}) reçu pour {incident.number}",
        data={"call_id": call.id, "channel": call.channel},
    )
    return call


def add_call(
    *, session: Session, ctx: AuditContext, settings: Settings, incident_id: int, call_in: CallIn
) -> Incident:
    """Link another call to an open incident (several callers, one event)."""
    incident = service.get_incident(session, incident_id, lock=True)
    if incident.status in CLOSED:
        raise IncidentClosedError(
            f"incident {incident.number} is {incident.status}; create a new incident instead",
            allowed=["POST /api/v1/incidents"],
        )
    _add_call(session, ctx, incident, call_in)
    _publish_incident(session, settings, incident, "incident.updated")
    return incident


def intake(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    incident_in: IncidentIn,
    synthetic: bool = False,
) -> IntakeResult:
    """Create an incident from a call (or link the call to ``link_to``)."""
    if incident_in.link_to is not None:
        incident = add_call(
            session=session,
            ctx=ctx,
            settings=settings,
            incident_id=incident_in.link_to,
            call_in=incident_in.call,
        )
        return IntakeResult(incident=incident, linked=True, duplicates=[])
    itype = get_type(incident_in.type_code)
    if incident_in.lon is not None and incident_in.lat is not None:
        place = city.locate(incident_in.lon, incident_in.lat)
        address = incident_in.address or place.address
    else:
        place = city.geocode(incident_in.address or "")
        address = place.address or incident_in.address
    received = _received_at(incident_in.call)
    # Before any write: the scan then runs outside the audit chain's lock.
    duplicates = find_duplicates(
        session, settings, type_code=itype.code, lon=place.lon, lat=place.lat
    )
    incident = Incident(
        type_code=itype.code,
        priority=incident_in.priority or int(itype.priority),
        status="queued",
        lon=place.lon,
        lat=place.lat,
        address=address,
        street=place.street,
        district=place.district,
        snap_distance_m=place.snap_distance_m,
        description=incident_in.description,
        created_at=utcnow(),
        created_by=ctx.actor,
        first_call_at=received,
        offence_codes=[],
        calls=[],
        assignments=[],
        synthetic=synthetic,
    )
    session.add(incident)
    session.flush()
    audit.record(
        session,
        ctx,
        action="incident.create",
        object_type="incident",
        object_id=incident.id,
        details={"type": itype.code, "priority": incident.priority},
    )
    service.log(
        session,
        ctx,
        kind="incident_created",
        incident_id=incident.id,
        text=f"{incident.number} créé : {itype.label_fr} (P{incident.priority}), "
        f"{address or place.street or ''}".strip(),
        data={"type": itype.code, "priority": incident.priority},
    )
    _add_call(session, ctx, incident, incident_in.call)
    _publish_incident(session, settings, incident, "incident.created", refresh=False)
    return IntakeResult(incident=incident, linked=False, duplicates=duplicates)


def update_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    update: IncidentUpdate,
) -> Incident:
    """Change type, priority or description of an open incident."""
    incident = service.get_incident(session, incident_id, lock=True)
    if incident.status in CLOSED:
        raise IncidentClosedError(f"incident {incident.number} is {incident.status}")
    changes = update.model_dump(exclude_unset=True)
    if update.type_code is not None:
        incident.type_code = get_type(update.type_code).code
    if update.priority is not None:
        incident.priority = update.priority
    if "description" in changes:
        incident.description = update.description
    audit.record(
        session,
        ctx,
        action="incident.update",
        object_type="incident",
        object_id=incident.id,
        details={"fields": sorted(changes)},
    )
    service.log(
        session,
        ctx,
        kind="incident_updated",
        incident_id=incident.id,
        text=f"{incident.number} modifié : "
        f"{', '.join(label_fr(c) for c in sorted(changes)) or 'rien'}",
        data={k: v for k, v in changes.items() if k != "description"},
    )
    _publish_incident(session, settings, incident, "incident.updated")
    return incident


def _lock_units(session: Session, unit_ids: list[int]) -> list[Unit]:
    # Lock in id order so two dispatchers taking overlapping units cannot deadlock.
    ids = sorted(set(unit_ids))
    units = list(
        session.scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.id).with_for_update())
    )
    missing = set(ids) - {u.id for u in units}
    if missing:
        raise InvalidInputError("unit_ids", f"unknown unit ids {sorted(missing)}")
    return units


def _release(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    assignment: Assignment,
    reason: str,
    *,
    unit_status: UnitStatus = UnitStatus.AVAILABLE,
) -> None:
    now = utcnow()
    assignment.released_at = now
    assignment.release_reason = reason
    unit = assignment.unit
    unit.status, unit.status_reason, unit.status_changed_at = unit_status.value, None, now
    unit.current_incident_id = None
    session.flush()
    incident = assignment.incident
    refresh_status(incident)
    service.log(
        session,
        ctx,
        kind="unit_released",
        incident_id=incident.id,
        unit_id=unit.id,
        text=f"{unit.call_sign} libéré de {incident.number} ({label_fr(reason)})",
        data={"reason": reason},
    )
    _publish_unit(session, unit)


def dispatch(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    dispatch_in: DispatchIn,
    etas: dict[int, float] | None = None,
) -> Incident:
    """Commit units to an incident.

    A unit must be free (available or at station). With ``preempt`` (P1 incidents only)
    units committed to P3/P4 incidents are taken and those incidents go back to the queue;
    with ``reassign`` a unit moves from any other incident. The database refuses a second
    open assignment for a unit, so concurrent dispatchers can never double-commit it.
    """
    incident = service.get_incident(session, incident_id, lock=True)
    if incident.status in CLOSED:
        raise IncidentClosedError(
            f"incident {incident.number} is {incident.status}; "
            "dispatching is only possible to open incidents"
        )
    if dispatch_in.preempt and incident.priority != Priority.P1:
        raise InvalidInputError("preempt", "only P1 incidents may preempt units")
    units = _lock_units(session, dispatch_in.unit_ids)
    now = utcnow()
    for unit in units:
        status = UnitStatus(unit.status)
        if unit.current_incident_id == incident.id:
            raise UnitBusyError(f"{unit.call_sign} is already on {incident.number}")
        if status in COMMITTED and unit.current_incident_id is not None:
            other = service.get_incident(session, unit.current_incident_id, lock=True)
            if dispatch_in.preempt and other.priority < Priority.P3:
                raise UnitBusyError(
                    f"{unit.call_sign} is on P{other.priority} incident {other.number}; only "
                    "units on P3/P4 incidents can be preempted",
                    allowed=["reassign"],
                )
            if not (dispatch_in.preempt or dispatch_in.reassign):
                raise UnitBusyError(
                    f"{unit.call_sign} is committed to {other.number}; choose a free unit, or "
                    "set preempt (P1) or reassign with a reason",
                    allowed=["preempt", "reassign"],
                )
            active = next(
                a for a in other.assignments if a.released_at is None and a.unit_id == unit.id
            )
            why = "preempted" if dispatch_in.preempt else "reassigned"
            _release(session, ctx, settings, active, why, unit_status=UnitStatus.AVAILABLE)
            service.log(
                session,
                ctx,
                kind="preemption",
                incident_id=other.id,
                unit_id=unit.id,
                text=f"{unit.call_sign} retiré de {other.number} pour {incident.number} : "
                f"{dispatch_in.reason}",
                data={"to": incident.id, "reason": dispatch_in.reason},
            )
            _publish_incident(session, settings, other, "incident.updated")
        elif status not in FREE:
            raise UnitBusyError(
                f"{unit.call_sign} is {status.value} and cannot be dispatched; free units are "
                "available or at station",
                allowed=sorted(s.value for s in FREE),
            )
        session.add(
            Assignment(
                incident_id=incident.id,
                unit_id=unit.id,
                dispatched_at=now,
                dispatched_by=ctx.actor,
                eta_s=(etas or {}).get(unit.id),
            )
        )
        unit.status, unit.status_reason, unit.status_changed_at = "dispatched", None, now
        unit.current_incident_id = incident.id
        try:
            session.flush()
        except IntegrityError as exc:
            raise UnitBusyError(f"{unit.call_sign} was just committed by someone else") from exc
        service.log(
            session,
            ctx,
            kind="unit_dispatched",
            incident_id=incident.id,
            unit_id=unit.id,
            text=f"{unit.call_sign} engagé sur {incident.number}",
            data={"eta_s": (etas or {}).get(unit.id)},
        )
        audit.record(
            session,
            ctx,
            action="incident.dispatch",
            object_type="incident",
            object_id=incident.id,
            details={"unit_id": unit.id},
        )
        _publish_unit(session, unit)
    if incident.first_dispatch_at is None:
        incident.first_dispatch_at = now
    session.flush()  # refresh() below would otherwise discard the line above
    session.refresh(incident)
    refresh_status(incident)
    _publish_incident(session, settings, incident, "incident.updated")
    return incident


def set_unit_status(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, status_in: StatusIn
) -> Unit:
    """Move a unit along its state machine; illegal moves answer 409 with the allowed ones."""
    # Lock order everywhere: incident, then unit (dispatch and close do the same), so a
    # status change racing a closure cannot deadlock.
    committed_to = service.get_unit(session, unit_id).current_incident_id
    if committed_to is not None:
        service.get_incident(session, committed_to, lock=True)
    unit = service.get_unit(session, unit_id, lock=True)
    session.refresh(unit)
    if unit.current_incident_id != committed_to:
        raise ConflictError(
            f"{unit.call_sign} was just moved to another incident; reload and try again"
        )
    current, target = UnitStatus(unit.status), status_in.status
    if target is UnitStatus.DISPATCHED:
        raise IllegalTransitionError(
            "units become dispatched only through POST /api/v1/incidents/{id}/dispatch",
            allowed=allowed_next(current),
        )
    if target not in TRANSITIONS[current] and not (
        target is current and target is UnitStatus.UNAVAILABLE
    ):
        raise IllegalTransitionError(
            f"{unit.call_sign} cannot go from {current.value} to {target.value}",
            allowed=allowed_next(current),
        )
    now = utcnow()
    assignment = None
    if unit.current_incident_id is not None:
        incident = service.get_incident(session, unit.current_incident_id, lock=True)
        assignment = next(
            (a for a in incident.assignments if a.unit_id == unit.id and a.released_at is None),
            None,
        )
    if assignment is not None and target in FREE | {UnitStatus.UNAVAILABLE, UnitStatus.OFF_DUTY}:
        _release(session, ctx, settings, assignment, "cleared", unit_status=target)
        _publish_incident(session, settings, assignment.incident, "incident.updated")
    elif assignment is not None:
        incident = assignment.incident
        if target is UnitStatus.EN_ROUTE and assignment.en_route_at is None:
            assignment.en_route_at = now
        if target is UnitStatus.ON_SCENE and assignment.arrived_at is None:
            assignment.arrived_at = now
            if incident.first_arrival_at is None:
                incident.first_arrival_at = now
        unit.status, unit.status_changed_at = target.value, now
        refresh_status(incident)
        _publish_incident(session, settings, incident, "incident.updated")
    unit.status = target.value
    unit.status_reason = status_in.reason.value if status_in.reason else None
    unit.status_changed_at = now
    if target in FREE and unit.station_lon is not None and target is UnitStatus.AT_STATION:
        unit.last_lon, unit.last_lat, unit.last_position_at = (
            unit.station_lon,
            unit.station_lat,
            now,
        )
    session.flush()
    service.log(
        session,
        ctx,
        kind="unit_status",
        unit_id=unit.id,
        incident_id=assignment.incident_id if assignment else None,
        text=f"{unit.call_sign} : {STATUS_LABEL_FR[current]} → {STATUS_LABEL_FR[target]}"
        + (
            f" ({REASON_LABEL_FR.get(unit.status_reason, unit.status_reason)})"
            if unit.status_reason
            else ""
        ),
        data={"from": current.value, "to": target.value, "reason": unit.status_reason},
    )
    _publish_unit(session, unit)
    return unit


def release_unit(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    unit_id: int,
    reason: str,
) -> Incident:
    """Stand a unit down from an incident (dispatcher's cancel of one assignment)."""
    incident = service.get_incident(session, incident_id, lock=True)
    assignment = next(
        (a for a in incident.assignments if a.unit_id == unit_id and a.released_at is None), None
    )
    if assignment is None:
        raise UnitBusyError(f"unit {unit_id} is not committed to {incident.number}")
    _release(session, ctx, settings, assignment, f"cancelled: {reason}")
    _publish_incident(session, settings, incident, "incident.updated")
    return incident


def _end(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident: Incident,
    *,
    status: str,
    disposition: str,
    note: str | None,
) -> None:
    if incident.status in CLOSED:
        raise IncidentClosedError(
            f"incident {incident.number} is already {incident.status}", allowed=[]
        )
    for assignment in [a for a in incident.assignments if a.released_at is None]:
        _release(session, ctx, settings, assignment, status)
    incident.status = status
    incident.disposition = disposition
    incident.closed_at = utcnow()
    audit.record(
        session,
        ctx,
        action=f"incident.{status}",
        object_type="incident",
        object_id=incident.id,
        details={"disposition": disposition},
    )
    service.log(
        session,
        ctx,
        kind=f"incident_{status}",
        incident_id=incident.id,
        text=f"{incident.number} {'clôturé' if status == 'closed' else 'annulé'} : "
        f"{label_fr(disposition)}" + (f" — {note}" if note else ""),
        data={"disposition": disposition},
    )
    _publish_incident(session, settings, incident, "incident.updated")


def close_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    close_in: CloseIn,
    known_codes: set[str] | None = None,
) -> Incident:
    """Close an incident with a disposition; units still committed are cleared."""
    incident = service.get_incident(session, incident_id, lock=True)
    if known_codes is not None:
        unknown = sorted(set(close_in.offence_codes) - known_codes)
        if unknown:
            raise InvalidInputError(
                "offence_codes", f"unknown codes {unknown}; GET /api/v1/offence-codes lists them"
            )
    incident.offence_codes = list(close_in.offence_codes)
    _end(
        session,
        ctx,
        settings,
        incident,
        status="closed",
        disposition=close_in.disposition.value,
        note=close_in.note,
    )
    return incident


def cancel_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    cancel_in: CancelIn,
) -> Incident:
    """Cancel an incident (false alarm, duplicate); units are released."""
    incident = service.get_incident(session, incident_id, lock=True)
    _end(
        session,
        ctx,
        settings,
        incident,
        status="cancelled",
        disposition="cancelled",
        note=cancel_in.reason,
    )
    return incident


def place_of(incident: Incident) -> Place:
    """The incident's location as a :class:`Place`."""
    return Place(
        lon=incident.lon,
        lat=incident.lat,
        street=incident.street,
        district=incident.district,
        address=incident.address,
        snap_distance_m=incident.snap_distance_m,
    )
