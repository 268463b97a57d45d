"""Splitting an incident: a second event found within the first becomes its own incident.

The mirror of :mod:`arverne.dispatch.merge`. A caller linked to an incident turns out
to describe another event (a burglary next door, not the noise complaint), or the crew on
scene finds a second matter that needs its own type, priority and report. The dispatcher
splits it out: a new incident is created with its own type and place, takes the calls
that were about it and the units now working on it (with their times, so they keep
their status and the response times stay true), and points at the incident it came
from. When no call moves, the new incident's first call is officer-initiated. Nothing is
deleted; the duty log and the audit log say who split what, when and why.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.city import CityModel, Place
from arverne.dispatch.errors import IncidentClosedError
from arverne.dispatch.flows import place_of
from arverne.dispatch.intake import audit_call, call_line, locate, new_call, new_incident
from arverne.dispatch.merge import earliest, move_unit
from arverne.dispatch.models import Call, Incident
from arverne.dispatch.publish import CLOSED, publish_incident, refresh_status
from arverne.dispatch.schemas import CallIn, Channel, SplitIn
from arverne.dispatch.taxonomy import get_type
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow


def _place(city: CityModel, split_in: SplitIn, source: Incident) -> tuple[Place, str | None]:
    """Where the new incident is: the point or address given, else the source's place."""
    if split_in.lon is None and split_in.address is None:
        return place_of(source), source.address
    return locate(city, split_in.lon, split_in.lat, split_in.address)


def _check_ids(source: Incident, split_in: SplitIn) -> None:
    """Refuse calls and units that are not the source's, or taking every call."""
    calls = {c.id for c in source.calls}
    stray = [i for i in split_in.call_ids if i not in calls]
    if stray:
        raise InvalidInputError(
            "call_ids",
            f"calls {stray} are not calls of incident {source.number}; "
            f"its calls are {sorted(calls)}",
        )
    if split_in.call_ids and len(split_in.call_ids) == len(calls):
        raise InvalidInputError(
            "call_ids",
            f"incident {source.number} must keep at least one call; to change the type of "
            "the whole incident, update it instead (PATCH /api/v1/incidents/{id})",
        )
    committed = {a.unit_id for a in source.assignments if a.released_at is None}
    stray = [i for i in split_in.unit_ids if i not in committed]
    if stray:
        raise InvalidInputError(
            "unit_ids",
            f"units {stray} are not committed to incident {source.number}; "
            f"its committed units are {sorted(committed)} (dispatch others to the new incident)",
        )


def split_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    incident_id: int,
    split_in: SplitIn,
) -> tuple[Incident, Incident]:
    """Split a new incident out of incident ``incident_id``; return (source, new).

    The calls in ``split_in.call_ids`` move to the new incident (the source keeps at
    least one), and so do the units in ``split_in.unit_ids``, each with its dispatch,
    en-route and arrival times. The new incident takes the type, priority, place and
    description given, ``split_from`` set to the source, and the earliest call, dispatch
    and arrival times of what it took; the source's first call time is recomputed from
    the calls it keeps. With no call moved, the new incident's first call is an
    officer-initiated one, now.

    Raises
    ------
    InvalidInputError
        Unknown type, a place outside the city, a call or unit that is not the source's,
        or every call of the source.
    IncidentClosedError
        The source is closed or cancelled.
    NotFoundError
        The source does not exist.
    """
    itype = get_type(split_in.type_code)
    source = service.get_incident(session, incident_id, lock=True)
    if source.status in CLOSED:
        raise IncidentClosedError(
            f"incident {source.number} is {source.status}; only open incidents split, "
            "create a new incident instead",
            allowed=["POST /api/v1/incidents"],
        )
    _check_ids(source, split_in)
    place, address = _place(city, split_in, source)
    now = utcnow()
    by_id = {c.id: c for c in source.calls}
    calls: list[Call] = [by_id[i] for i in split_in.call_ids]
    new = new_incident(
        place,
        address,
        type_code=itype.code,
        priority=split_in.priority or int(itype.priority),
        description=split_in.description,
        ctx=ctx,
        now=now,
        first_call_at=min((c.received_at for c in calls), default=now),
        synthetic=source.synthetic,
        split_from_id=source.id,
    )
    session.add(new)
    session.flush()
    where = address or place.street or ""
    dutylog.log(
        session,
        ctx,
        kind="incident_created",
        incident_id=new.id,
        text=f"{new.number} créé par scission de {source.number} : {itype.label_fr} "
        f"(P{new.priority}), {where}".strip(),
        data={"type": itype.code, "priority": new.priority, "split_from": source.id},
    )
    audit.record(
        session,
        ctx,
        action="incident.create",
        object_type="incident",
        object_id=new.id,
        details={"type": new.type_code, "priority": new.priority, "split_from": source.id},
    )
    if calls:
        for call in calls:
            call.incident = new  # moves it from one incident's list to the other's
        source.first_call_at = min(c.received_at for c in source.calls)
    else:
        officer = CallIn(channel=Channel.OFFICER, description=f"Scission : {split_in.reason}")
        first = new_call(ctx, new, officer, now)
        session.add(first)
        session.flush()
        audit_call(session, ctx, new, first)
        dutylog.append_log(session, [call_line(ctx, new, first)])
    moving = {a.unit_id: a for a in source.assignments if a.released_at is None}
    units = [
        move_unit(session, ctx, settings, moving[u], to=new, now=now, why="split")
        for u in sorted(split_in.unit_ids)  # lock order: units by id
    ]
    for a in new.assignments:
        new.first_dispatch_at = earliest(new.first_dispatch_at, a.dispatched_at)
        new.first_arrival_at = earliest(new.first_arrival_at, a.arrived_at)
    refresh_status(source)
    refresh_status(new)
    session.flush()
    audit.record(
        session,
        ctx,
        action="incident.split",
        object_type="incident",
        object_id=source.id,
        reason=split_in.reason,
        details={"new": new.id, "calls": [c.id for c in calls], "units": units},
    )
    dutylog.log(
        session,
        ctx,
        kind="incident_split",
        incident_id=source.id,
        text=f"{new.number} séparé de {source.number} : {split_in.reason} "
        f"({len(calls)} appel(s), {len(units)} unité(s))",
        data={"new": new.id, "calls": [c.id for c in calls], "units": units},
    )
    publish_incident(session, settings, source, "incident.updated")
    publish_incident(session, settings, new, "incident.created")
    return source, new
