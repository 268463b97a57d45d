"""Dispatch orchestration: each flow changes incidents and units, writes the duty log,
the audit log and the live events, all in the caller's single transaction.

Intake lives in :mod:`arverne.dispatch.intake`, corrections in
:mod:`arverne.dispatch.update` and the live-event helpers in
:mod:`arverne.dispatch.publish`; their public names are re-exported here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, offences, reported, service
from arverne.dispatch.city import Place
from arverne.dispatch.errors import IllegalTransitionError, IncidentClosedError, UnitBusyError
from arverne.dispatch.intake import (
    IntakeResult,
    PreparedIntake,
    add_call,
    intake,
    prepare_intake,
    write_intake,
)
from arverne.dispatch.models import Assignment, Incident, Unit
from arverne.dispatch.publish import (
    CLOSED,
    checks_for,
    plans_for,
    publish_incident,
    publish_unit,
    refresh_status,
    targets_for,
)
from arverne.dispatch.schemas import (
    CancelIn,
    CloseIn,
    DispatchIn,
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
from arverne.dispatch.taxonomy import Priority
from arverne.dispatch.update import update_incident
from arverne.errors import ConflictError, InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow

__all__ = [
    "CLOSED",
    "IntakeResult",
    "PreparedIntake",
    "add_call",
    "cancel_incident",
    "checks_for",
    "close_incident",
    "dispatch",
    "intake",
    "place_of",
    "plans_for",
    "prepare_intake",
    "refresh_status",
    "release_unit",
    "set_unit_status",
    "targets_for",
    "update_incident",
    "write_intake",
]


def _lock_units(session: Session, unit_ids: list[int]) -> list[Unit]:
    # Lock in id order so two dispatchers taking overlapping units cannot deadlock.
    ids = sorted(set(unit_ids))
    units = list(
        session.scalars(
            select(Unit)
            .where(Unit.id.in_(ids))
            .order_by(Unit.id)
            .with_for_update()
            .execution_options(populate_existing=True)  # what was read before the lock
        )
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
    at: dt.datetime | None = None,
    late: tuple[str, dict[str, str]] = ("", {}),
) -> None:
    now = at or utcnow()
    unit = assignment.unit
    # The crew (for the unit's live view) is loaded now: a lazy load after the changes
    # below would autoflush them and update the incident twice.
    _ = unit.crew
    assignment.released_at = now
    assignment.release_reason = reason
    unit.status, unit.status_reason, unit.status_changed_at = unit_status.value, None, now
    unit.current_incident_id = None
    session.flush()
    incident = assignment.incident
    refresh_status(incident)
    dutylog.log(
        session,
        ctx,
        kind="unit_released",
        incident_id=incident.id,
        unit_id=unit.id,
        text=f"{unit.call_sign} libéré de {incident.number} ({label_fr(reason)}){late[0]}",
        data={"reason": reason} | late[1],
    )
    publish_unit(session, settings, unit)


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
            # Lock the other incident only to take the unit from it: locking it just to
            # refuse would take an incident lock after a unit lock (lock-order deadlock).
            taking = dispatch_in.preempt or dispatch_in.reassign
            other = service.get_incident(session, unit.current_incident_id, lock=taking)
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
            dutylog.log(
                session,
                ctx,
                kind="preemption",
                incident_id=other.id,
                unit_id=unit.id,
                text=f"{unit.call_sign} retiré de {other.number} pour {incident.number} : "
                f"{dispatch_in.reason}",
                data={"to": incident.id, "reason": dispatch_in.reason},
            )
            publish_incident(session, settings, other, "incident.updated")
        elif status not in FREE:
            raise UnitBusyError(
                f"{unit.call_sign} is {status.value} and cannot be dispatched; free units are "
                "available or at station",
                allowed=sorted(s.value for s in FREE),
            )
        session.add(
            Assignment(  # joins incident.assignments: the published view needs no reload
                incident=incident,
                unit=unit,
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
        dutylog.log(
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
        publish_unit(session, settings, unit)
    if incident.first_dispatch_at is None:
        incident.first_dispatch_at = now
    refresh_status(incident)
    publish_incident(session, settings, incident, "incident.updated")
    return incident


def set_unit_status(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, status_in: StatusIn
) -> Unit:
    """Move a unit along its state machine; illegal moves answer 409 with the allowed ones."""
    # Lock order everywhere: incident, then unit (dispatch and close do the same), so a
    # status change racing a closure cannot deadlock.
    committed_to = service.unit_incident_id(session, unit_id)
    incident = None
    if committed_to is not None:
        incident = service.get_incident(session, committed_to, lock=True)
    unit = service.get_unit(session, unit_id, lock=True)  # re-read under the lock
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
    received = utcnow()
    now = reported.reported_time(
        status_in.at, now=received, max_late_minutes=settings.late_report_minutes
    )
    if status_in.at is not None:
        now = reported.not_before(
            now, unit.status_changed_at, f"{unit.call_sign} changed status", settings.zone
        )
    late = reported.lateness(now, received, settings.zone)
    assignment = None
    if incident is not None:  # locked above, before the unit
        assignment = next(
            (a for a in incident.assignments if a.unit_id == unit.id and a.released_at is None),
            None,
        )
    if assignment is not None and target in FREE | {UnitStatus.UNAVAILABLE, UnitStatus.OFF_DUTY}:
        _release(
            session, ctx, settings, assignment, "cleared", unit_status=target, at=now, late=late
        )
        publish_incident(session, settings, assignment.incident, "incident.updated")
    elif assignment is not None:
        incident = assignment.incident
        if target is UnitStatus.EN_ROUTE and assignment.en_route_at is None:
            assignment.en_route_at = now
        if target is UnitStatus.ON_SCENE and assignment.arrived_at is None:
            assignment.arrived_at = now
            if incident.first_arrival_at is None:
                incident.first_arrival_at = now
        if target is UnitStatus.TRANSPORTING:
            assignment.transport_to = status_in.destination
        unit.status, unit.status_changed_at = target.value, now
        refresh_status(incident)
        publish_incident(session, settings, incident, "incident.updated")
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
    dutylog.log(
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
        )
        + (f" vers {status_in.destination}" if status_in.destination else "")
        + late[0],
        data={
            "from": current.value,
            "to": target.value,
            "reason": unit.status_reason,
            **({"destination": status_in.destination} if status_in.destination else {}),
            **late[1],
        },
    )
    publish_unit(session, settings, unit)
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
    publish_incident(session, settings, incident, "incident.updated")
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
    dutylog.log(
        session,
        ctx,
        kind=f"incident_{status}",
        incident_id=incident.id,
        text=f"{incident.number} {'clôturé' if status == 'closed' else 'annulé'} : "
        f"{label_fr(disposition)}" + (f" — {note}" if note else ""),
        data={"disposition": disposition},
    )
    publish_incident(session, settings, incident, "incident.updated")


def close_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    close_in: CloseIn,
) -> Incident:
    """Close an incident with a disposition; units still committed are cleared.

    Offence codes must be in the reference and in force on the day of the first call.
    """
    incident = service.get_incident(session, incident_id, lock=True)
    if close_in.offence_codes:
        on = incident.first_call_at.astimezone(settings.zone).date()
        offences.check_codes(session, close_in.offence_codes, on=on)
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
