"""Dispatch orchestration: each flow changes incidents and units, writes the duty log,
the audit log and the live events, all in the caller's single transaction.

Intake lives in :mod:`arverne.dispatch.intake`, corrections in
:mod:`arverne.dispatch.update` and the live-event helpers in
:mod:`arverne.dispatch.publish`; their public names are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

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
    derived_status,
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
from arverne.store import direct
from arverne.store.rows import insert_persistent, relate
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


@functools.cache
def _lock_units_query() -> Select[Unit]:
    """The statement of :func:`_lock_units`, built once (``ids`` bound, expanding)."""
    # The crews (for the units' live view) come in the same statement; only the units'
    # rows are locked, in id order.
    return (
        select(Unit)
        .where(Unit.id.in_(bindparam("ids", expanding=True)))
        .options(joinedload(Unit.crew))
        .order_by(Unit.id)
        .with_for_update(of=Unit)
        .execution_options(populate_existing=True)  # what was read before the lock
    )


def _lock_units(session: Session, unit_ids: list[int]) -> list[Unit]:
    # Lock in id order so two dispatchers taking overlapping units cannot deadlock.
    ids = sorted(set(unit_ids))
    units = list(session.scalars(_lock_units_query(), {"ids": ids}).unique())
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
    at: dt.datetime | None = None,
    late: tuple[str, dict[str, str]] = ("", {}),
    unit_changes: Mapping[str, object] | None = None,
    derive: bool = True,
) -> None:
    """End ``assignment``: the unit becomes available (or takes ``unit_changes``), the
    incident's status follows (unless ``derive`` is false: the caller sets it)."""
    now = at or utcnow()
    unit = assignment.unit
    direct.update(session, assignment, released_at=now, release_reason=reason)
    direct.update(
        session,
        unit,
        **(
            {"status": UnitStatus.AVAILABLE.value, "status_reason": None}
            | {"status_changed_at": now, "current_incident_id": None}
            | dict(unit_changes or {})
        ),
    )
    incident = assignment.incident
    if derive:
        _derive(session, incident)
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


def _derive(session: Session, incident: Incident, **changes: object) -> None:
    """Write an open incident's status as its active assignments now make it, with
    ``changes`` (other columns), in one statement if anything changes."""
    status = derived_status(incident)
    if status != incident.status:
        changes["status"] = status
    if changes:
        direct.update(session, incident, **changes)


def dispatch(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    dispatch_in: DispatchIn,
    etas: Mapping[int, float] | Callable[[Incident], Mapping[int, float]] | None = None,
) -> Incident:
    """Commit units to an incident.

    A unit must be free (available or at station). With ``preempt`` (P1 incidents only)
    units committed to P3/P4 incidents are taken and those incidents go back to the queue;
    with ``reassign`` a unit moves from any other incident. The database refuses a second
    open assignment for a unit, so concurrent dispatchers can never double-commit it.
    ``etas`` (seconds per unit id, for the duty log and response-time KPIs) may be a
    function of the incident, called once it is locked: the caller need not read it first.
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
    eta_of = (etas(incident) if callable(etas) else etas) or {}
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
            _release(session, ctx, settings, active, why)
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
        assignment = Assignment(
            incident_id=incident.id,
            unit_id=unit.id,
            dispatched_at=now,
            dispatched_by=ctx.actor,
            eta_s=eta_of.get(unit.id),
        )
        try:
            insert_persistent(session, assignment)
        except IntegrityError as exc:
            raise UnitBusyError(f"{unit.call_sign} was just committed by someone else") from exc
        relate(assignment, incident=incident, unit=unit)  # the published view needs no reload
        direct.update(
            session,
            unit,
            status=UnitStatus.DISPATCHED.value,
            status_reason=None,
            status_changed_at=now,
            current_incident_id=incident.id,
        )
        dutylog.log(
            session,
            ctx,
            kind="unit_dispatched",
            incident_id=incident.id,
            unit_id=unit.id,
            text=f"{unit.call_sign} engagé sur {incident.number}",
            data={"eta_s": eta_of.get(unit.id)},
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
    _derive(
        session,
        incident,
        **({"first_dispatch_at": now} if incident.first_dispatch_at is None else {}),
    )
    publish_incident(session, settings, incident, "incident.updated")
    return incident


def set_unit_status(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, status_in: StatusIn
) -> Unit:
    """Move a unit along its state machine; illegal moves answer 409 with the allowed ones."""
    # Lock order everywhere: incident, then unit (dispatch and close do the same), so a
    # status change racing a closure cannot deadlock.
    incident = service.committed_incident(session, unit_id)
    committed_to = None if incident is None else incident.id
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
    changes: dict[str, object] = {
        "status": target.value,
        "status_reason": status_in.reason.value if status_in.reason else None,
        "status_changed_at": now,
    }
    if target is UnitStatus.AT_STATION and unit.station_lon is not None:
        changes |= {"last_lon": unit.station_lon, "last_lat": unit.station_lat}
        changes["last_position_at"] = now
    releasing = target in FREE | {UnitStatus.UNAVAILABLE, UnitStatus.OFF_DUTY}
    if assignment is not None and releasing:
        _release(
            session, ctx, settings, assignment, "cleared", at=now, late=late, unit_changes=changes
        )
    else:
        direct.update(session, unit, **changes)
    if assignment is not None:
        if not releasing:
            firsts = _move_on(session, assignment, target, now, status_in.destination)
            _derive(session, assignment.incident, **firsts)
        publish_incident(session, settings, assignment.incident, "incident.updated")
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
    if assignment is None or not releasing:  # else published on release
        publish_unit(session, settings, unit)
    return unit


def _move_on(
    session: Session,
    assignment: Assignment,
    target: UnitStatus,
    now: dt.datetime,
    destination: str | None,
) -> dict[str, object]:
    """Record on a unit's assignment the step ``target`` marks; return the incident's
    columns it sets too (its first arrival), for the caller to write."""
    times: dict[str, object] = {}
    firsts: dict[str, object] = {}
    if target is UnitStatus.EN_ROUTE and assignment.en_route_at is None:
        times["en_route_at"] = now
    if target is UnitStatus.ON_SCENE and assignment.arrived_at is None:
        times["arrived_at"] = now
        if assignment.incident.first_arrival_at is None:
            firsts["first_arrival_at"] = now
    if target is UnitStatus.TRANSPORTING:
        times["transport_to"] = destination
    if times:
        direct.update(session, assignment, **times)
    return firsts


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
    offence_codes: list[str] | None = None,
) -> None:
    if incident.status in CLOSED:
        raise IncidentClosedError(
            f"incident {incident.number} is already {incident.status}", allowed=[]
        )
    for assignment in [a for a in incident.assignments if a.released_at is None]:
        _release(session, ctx, settings, assignment, status, derive=False)
    direct.update(
        session,
        incident,
        status=status,
        disposition=disposition,
        closed_at=utcnow(),
        **({} if offence_codes is None else {"offence_codes": offence_codes}),
    )
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
    _end(
        session,
        ctx,
        settings,
        incident,
        status="closed",
        disposition=close_in.disposition.value,
        note=close_in.note,
        offence_codes=list(close_in.offence_codes),
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
