"""Intake: calls, incidents, duplicates and reclassification (one transaction each)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from sqlalchemy import Row, Select, Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.city import CityModel, Place, haversine_m
from arverne.dispatch.errors import IncidentClosedError
from arverne.dispatch.models import Call, Incident, incident_number
from arverne.dispatch.publish import CLOSED, publish_incident
from arverne.dispatch.schemas import (
    CallIn,
    DuplicateCandidate,
    IncidentIn,
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


def _nearby_open_incidents(
    session: Session, settings: Settings, points: Sequence[tuple[float, float]], now: dt.datetime
) -> list[Row[Any]]:
    """Open incidents recent enough to be duplicates, in the box around any of ``points``.

    One Core statement on the table for the whole list (the rows are plain tuples, no
    ORM work), so a batch of intakes asks once.
    """
    dlat = settings.duplicate_radius_m / 111_320.0
    params: dict[str, Any] = {
        "since": now - dt.timedelta(minutes=settings.duplicate_window_minutes),
        "open": list(service.OPEN_STATUSES),
    }
    for i, (lon, lat) in enumerate(points):
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        params |= {
            f"w{i}": lon - dlon,
            f"e{i}": lon + dlon,
            f"s{i}": lat - dlat,
            f"n{i}": lat + dlat,
        }
    statement = _nearby_statement(len(points))
    return list(session.connection().execute(statement, params).all())


@functools.lru_cache(maxsize=128)
def _nearby_statement(boxes: int) -> Select[Any]:
    """The duplicate search for ``boxes`` points, built once per count (bound parameters
    ``w<i>, e<i>, s<i>, n<i>`` per box, ``since`` and ``open``): building the expression
    cost about as much as running it."""
    c = cast(Table, Incident.__table__).c
    near = [
        and_(
            c.lon.between(bindparam(f"w{i}"), bindparam(f"e{i}")),
            c.lat.between(bindparam(f"s{i}"), bindparam(f"n{i}")),
        )
        for i in range(boxes)
    ]
    return select(c.id, c.type_code, c.lon, c.lat, c.created_at).where(
        c.status.in_(bindparam("open", expanding=True)),
        c.created_at >= bindparam("since"),
        or_(*near),
    )


def _duplicates_among(
    settings: Settings,
    candidates: Sequence[Any],
    *,
    type_code: str,
    lon: float,
    lat: float,
    now: dt.datetime,
) -> list[DuplicateCandidate]:
    """The ``candidates`` (rows or incidents: id, type_code, lon, lat, created_at) of a
    compatible type within the duplicate radius of (lon, lat), nearest first."""
    near = [c for c in candidates if compatible(c.type_code, type_code)]
    if not near:
        return []
    dist = haversine_m(np.array([c.lon for c in near]), np.array([c.lat for c in near]), lon, lat)
    found = [
        DuplicateCandidate(
            incident_id=c.id,
            number=incident_number(c.created_at, c.id),
            type_code=c.type_code,
            distance_m=round(float(d), 1),
            minutes_ago=round((now - c.created_at).total_seconds() / 60, 1),
        )
        for c, d in zip(near, dist, strict=True)
        if d <= settings.duplicate_radius_m
    ]
    return sorted(found, key=lambda c: c.distance_m)


def new_call(ctx: AuditContext, incident: Incident, call_in: CallIn, received: dt.datetime) -> Call:
    """A new call on ``incident`` (not yet flushed); moves its first call time back."""
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


def call_line(ctx: AuditContext, incident: Incident, call: Call) -> dutylog.LogLine:
    """The duty-log line of a call that has its id."""
    return dutylog.LogLine(
        ctx,
        kind="call_received",
        incident_id=incident.id,
        text=f"Appel ({label_fr(call.channel)}) reçu pour {incident.number}",
        data={"call_id": call.id, "channel": call.channel},
    )


def audit_call(session: Session, ctx: AuditContext, incident: Incident, call: Call) -> None:
    """Audit the taking of a call (no personal data in the entry)."""
    audit.record(
        session,
        ctx,
        action="call.create",
        object_type="call",
        object_id=call.id,
        details={"incident_id": incident.id, "channel": call.channel},
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
    call = new_call(ctx, incident, call_in, _received_at(call_in))
    session.add(call)
    session.flush()
    audit_call(session, ctx, incident, call)
    dutylog.append_log(session, [call_line(ctx, incident, call)])
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


def locate(
    city: CityModel, lon: float | None, lat: float | None, address: str | None
) -> tuple[Place, str | None]:
    """The place of a point or of an address, and the address to show.

    A point wins (snapped to the street network; the address given, else the nearest
    one, names it); without one the address is geocoded. Reads only (no database).

    Raises
    ------
    InvalidInputError
        The point is outside the city, or the address is unknown or ambiguous.
    """
    if lon is not None and lat is not None:
        place = city.locate(lon, lat)
        return place, address or place.address
    place = city.geocode(address or "")
    return place, place.address or address


def prepare_intake(*, city: CityModel, incident_in: IncidentIn) -> PreparedIntake:
    """Check and locate a new incident (reads only: the geocoder, no database).

    Raises the same errors as :func:`intake` for an unknown type, a place outside the
    city or a call time in the future, before anything is written.
    """
    itype = get_type(incident_in.type_code)
    place, address = locate(city, incident_in.lon, incident_in.lat, incident_in.address)
    return PreparedIntake(
        incident_in=incident_in,
        type_code=itype.code,
        priority=incident_in.priority or int(itype.priority),
        place=place,
        address=address,
        received=_received_at(incident_in.call),
    )


def new_incident(
    place: Place,
    address: str | None,
    *,
    type_code: str,
    priority: int,
    description: str | None,
    ctx: AuditContext,
    now: dt.datetime,
    first_call_at: dt.datetime,
    synthetic: bool,
    split_from_id: int | None = None,
) -> Incident:
    """A new queued incident at ``place`` (not yet added to a session)."""
    return Incident(
        type_code=type_code,
        priority=priority,
        status="queued",
        lon=place.lon,
        lat=place.lat,
        address=address,
        street=place.street,
        district=place.district,
        snap_distance_m=place.snap_distance_m,
        description=description,
        created_at=now,
        created_by=ctx.actor,
        first_call_at=first_call_at,
        offence_codes=[],
        calls=[],
        assignments=[],
        synthetic=synthetic,
        split_from_id=split_from_id,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class NewIncident:
    """One incident for :func:`write_intakes`: who takes it and what was prepared."""

    ctx: AuditContext
    prepared: PreparedIntake
    synthetic: bool = False


def write_intake(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    prepared: PreparedIntake,
    synthetic: bool = False,
) -> IntakeResult:
    """Write a prepared incident, its first call, their audit entries and log lines."""
    item = NewIncident(ctx, prepared, synthetic)
    return write_intakes(session=session, settings=settings, items=[item])[0]


def officer_call(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    incident_in: IncidentIn,
) -> tuple[Incident, str]:
    """Take a call a crew makes itself (distress, own initiative) through the normal intake.

    Returns the new incident and its place as one line of text (address, else street, else
    coordinates) for the duty log.
    """
    prepared = prepare_intake(city=city, incident_in=incident_in)
    incident = write_intake(session=session, ctx=ctx, settings=settings, prepared=prepared).incident
    place = incident.address or incident.street or f"{incident.lat:.5f}, {incident.lon:.5f}"
    return incident, place


def write_intakes(
    *, session: Session, settings: Settings, items: Sequence[NewIncident]
) -> list[IntakeResult]:
    """Write prepared incidents with their first calls, audit entries and log lines.

    A few statements for the whole list (the duplicate search, then one multi-row INSERT
    each for the incidents, the calls and the log lines), so a group commit's batch of
    intakes costs about what one intake does. Each incident's duplicates include the
    incidents written before it in the list (and in the transaction).
    """
    if not items:
        return []
    now = utcnow()
    points = [(item.prepared.place.lon, item.prepared.place.lat) for item in items]
    nearby = _nearby_open_incidents(session, settings, points, now)
    incidents: list[Incident] = []
    calls: list[Call] = []
    for item in items:
        prepared, place = item.prepared, item.prepared.place
        incident = new_incident(
            place,
            prepared.address,
            type_code=prepared.type_code,
            priority=prepared.priority,
            description=prepared.incident_in.description,
            ctx=item.ctx,
            now=now,
            first_call_at=prepared.received,
            synthetic=item.synthetic,
        )
        incidents.append(incident)
        calls.append(new_call(item.ctx, incident, prepared.incident_in.call, prepared.received))
    # Plain multi-row INSERTs (ids for the journal), not a unit-of-work flush: on SQLite
    # this runs holding the write lock, so every microsecond here counts.
    insert_persistent(session, *incidents, *calls)
    lines: list[dutylog.LogLine] = []
    for item, incident, call in zip(items, incidents, calls, strict=True):
        itype, where = get_type(incident.type_code), item.prepared.address or incident.street
        text = f"{incident.number} créé : {itype.label_fr} (P{incident.priority}), {where or ''}"
        data = {"type": itype.code, "priority": incident.priority}
        lines.append(
            dutylog.LogLine(
                item.ctx, "incident_created", text.strip(), incident_id=incident.id, data=data
            )
        )
        lines.append(call_line(item.ctx, incident, call))
    dutylog.append_log(session, lines)
    results = []
    for i, (item, incident, call) in enumerate(zip(items, incidents, calls, strict=True)):
        audit.record(
            session,
            item.ctx,
            action="incident.create",
            object_type="incident",
            object_id=incident.id,
            details={"type": incident.type_code, "priority": incident.priority},
        )
        audit_call(session, item.ctx, incident, call)
        duplicates = _duplicates_among(
            settings,
            [*nearby, *incidents[:i]],
            type_code=incident.type_code,
            lon=incident.lon,
            lat=incident.lat,
            now=now,
        )
        wire = publish_incident(session, settings, incident, "incident.created")
        results.append(IntakeResult(incident, linked=False, duplicates=duplicates, wire=wire))
    return results


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
