"""Intake: calls, incidents, duplicates and reclassification (one transaction each)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from typing import Any, cast

import numpy as np
from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import service
from arverne.dispatch.city import CityModel, Place, haversine_m
from arverne.dispatch.errors import IncidentClosedError
from arverne.dispatch.models import Call, Incident, incident_number
from arverne.dispatch.publish import CLOSED, publish_incident
from arverne.dispatch.schemas import (
    CallIn,
    DuplicateCandidate,
    IncidentIn,
    IncidentUpdate,
)
from arverne.dispatch.status import (
    label_fr,
)
from arverne.dispatch.taxonomy import compatible, get_type
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.rows import insert_persistent
from arverne.store.session import end_read_phase
from arverne.store.types import utcnow


@dataclasses.dataclass(frozen=True, slots=True)
class IntakeResult:
    """What intake produced."""

    incident: Incident
    linked: bool
    duplicates: list[DuplicateCandidate]
    wire: dict[str, Any]  # the incident's wire view as published (JSON-ready)


def _received_at(call_in: CallIn) -> dt.datetime:
    now = utcnow()
    received = call_in.received_at or now
    if received > now + dt.timedelta(minutes=1):
        raise InvalidInputError("call.received_at", "is in the future; check the clock")
    return received.astimezone(dt.UTC)  # stored and shown in UTC, whatever the sender's zone


@functools.cache
def _nearby_open_incidents() -> Select[int, str, float, float, dt.datetime]:
    """Open incidents in a box and since a time (built once: intake runs it every call).

    A Core statement on the table: the rows are plain tuples, no ORM work per call.
    """
    c = cast(Table, Incident.__table__).c
    return select(c.id, c.type_code, c.lon, c.lat, c.created_at).where(
        c.status.in_(service.OPEN_STATUSES),
        c.created_at >= bindparam("since"),
        c.lon.between(bindparam("lon_lo"), bindparam("lon_hi")),
        c.lat.between(bindparam("lat_lo"), bindparam("lat_hi")),
    )


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
    dlat = settings.duplicate_radius_m / 111_320.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    params = {
        "since": now - dt.timedelta(minutes=settings.duplicate_window_minutes),
        "lon_lo": lon - dlon,
        "lon_hi": lon + dlon,
        "lat_lo": lat - dlat,
        "lat_hi": lat + dlat,
    }
    rows = [
        row
        for row in session.connection().execute(_nearby_open_incidents(), params).all()
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


def _new_call(
    ctx: AuditContext, incident: Incident, call_in: CallIn, received: dt.datetime
) -> Call:
    call = Call(
        incident=incident,  # also appends to incident.calls
        channel=call_in.channel.value,
        received_at=received,
        caller_name=call_in.caller_name,
        caller_phone=call_in.caller_phone,
        description=call_in.description,
        taken_by=ctx.actor,
    )
    if received < incident.first_call_at:
        incident.first_call_at = received
    return call


def _journal_call(session: Session, ctx: AuditContext, incident: Incident, call: Call) -> None:
    """Audit and log a call that has its id (flushed)."""
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


def add_call(
    *, session: Session, ctx: AuditContext, settings: Settings, incident_id: int, call_in: CallIn
) -> tuple[Incident, dict[str, Any]]:
    """Link another call to an open incident (several callers, one event).

    Returns the incident and its wire view as published.
    """
    incident = service.get_incident(session, incident_id, lock=True)
    if incident.status in CLOSED:
        raise IncidentClosedError(
            f"incident {incident.number} is {incident.status}; create a new incident instead",
            allowed=["POST /api/v1/incidents"],
        )
    call = _new_call(ctx, incident, call_in, _received_at(call_in))
    session.add(call)
    session.flush()
    _journal_call(session, ctx, incident, call)
    return incident, publish_incident(session, settings, incident, "incident.updated")


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedIntake:
    """What intake works out before writing: type, place and call time."""

    incident_in: IncidentIn
    type_code: str
    priority: int
    place: Place
    address: str | None
    received: dt.datetime


def prepare_intake(*, city: CityModel, incident_in: IncidentIn) -> PreparedIntake:
    """Check and locate a new incident (reads only: the geocoder, no database).

    Raises the same errors as :func:`intake` for an unknown type, a place outside the
    city or a call time in the future, before anything is written.
    """
    itype = get_type(incident_in.type_code)
    if incident_in.lon is not None and incident_in.lat is not None:
        place = city.locate(incident_in.lon, incident_in.lat)
        address = incident_in.address or place.address
    else:
        place = city.geocode(incident_in.address or "")
        address = place.address or incident_in.address
    return PreparedIntake(
        incident_in=incident_in,
        type_code=itype.code,
        priority=incident_in.priority or int(itype.priority),
        place=place,
        address=address,
        received=_received_at(incident_in.call),
    )


def write_intake(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    prepared: PreparedIntake,
    synthetic: bool = False,
) -> IntakeResult:
    """Write a prepared incident, its first call, their audit entries and log lines.

    The duplicate search runs first, in the same transaction: it also sees the incidents
    written just before in a shared transaction (:mod:`arverne.store.batch`).
    """
    place, address, itype = prepared.place, prepared.address, get_type(prepared.type_code)
    duplicates = find_duplicates(
        session, settings, type_code=itype.code, lon=place.lon, lat=place.lat
    )
    incident = Incident(
        type_code=itype.code,
        priority=prepared.priority,
        status="queued",
        lon=place.lon,
        lat=place.lat,
        address=address,
        street=place.street,
        district=place.district,
        snap_distance_m=place.snap_distance_m,
        description=prepared.incident_in.description,
        created_at=utcnow(),
        created_by=ctx.actor,
        first_call_at=prepared.received,
        offence_codes=[],
        calls=[],
        assignments=[],
        synthetic=synthetic,
    )
    call = _new_call(ctx, incident, prepared.incident_in.call, prepared.received)
    # Two plain INSERTs (ids for the journal), not a unit-of-work flush: this is the start
    # of the write transaction, so every microsecond here is spent holding its lock.
    insert_persistent(session, incident, call)
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
    _journal_call(session, ctx, incident, call)
    wire = publish_incident(session, settings, incident, "incident.created")
    return IntakeResult(incident=incident, linked=False, duplicates=duplicates, wire=wire)


def intake(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    incident_in: IncidentIn,
    synthetic: bool = False,
) -> IntakeResult:
    """Create an incident from a call (or link the call to ``link_to``), in one transaction.

    The checks come first; on SQLite the write lock is taken only for the duplicate
    search and the writes that follow (:func:`prepare_intake`, then :func:`write_intake`).
    """
    if incident_in.link_to is not None:
        incident, wire = add_call(
            session=session,
            ctx=ctx,
            settings=settings,
            incident_id=incident_in.link_to,
            call_in=incident_in.call,
        )
        return IntakeResult(incident=incident, linked=True, duplicates=[], wire=wire)
    prepared = prepare_intake(city=city, incident_in=incident_in)
    end_read_phase(session)  # SQLite: take the write lock only for what follows
    return write_intake(
        session=session, ctx=ctx, settings=settings, prepared=prepared, synthetic=synthetic
    )


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
    publish_incident(session, settings, incident, "incident.updated")
    return incident
