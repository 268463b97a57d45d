"""A crew's distress call (appel de détresse): a P1 incident where the crew is, at once.

The crew presses its alert button, or the dispatcher relays a radio call. One transaction
creates a P1 "officer needs assistance" incident at the crew's place (its last AVL
position, else its incident's place, else the place given), through the same intake as
any call; links it to the incident the crew was working; writes a ``unit_distress`` line
that every console shows as an alarm. Pressing again while that incident is open answers
with it: a second press never makes a second incident. The response plan of the type
(three crews by default) then proposes who goes; a person still decides.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.city import CityModel
from arverne.dispatch.crew_schemas import DistressIn
from arverne.dispatch.intake import officer_call
from arverne.dispatch.links import link_incidents
from arverne.dispatch.models import DutyLogEntry, Incident, Unit
from arverne.dispatch.schemas import CallIn, Channel, IncidentIn, LinkIn
from arverne.dispatch.status import UnitStatus
from arverne.errors import ConflictError, InvalidInputError
from arverne.security.audit import AuditContext

DISTRESS_TYPE = "officer_distress"
KIND = "unit_distress"


def raise_distress(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    unit_id: int,
    distress_in: DistressIn,
) -> tuple[Incident, bool]:
    """Create (or find) the distress incident of a unit; return it and whether it is new.

    Raises
    ------
    NotFoundError
        No such unit.
    ConflictError
        The unit is off duty (its crew calls 17 like anyone).
    InvalidInputError
        No place: the unit has no position and no incident, and none was given (``lon``).
    """
    unit = service.get_unit(session, unit_id, lock=True)  # two presses queue up here
    if unit.status == UnitStatus.OFF_DUTY:
        raise ConflictError(
            f"{unit.call_sign} is off duty: an officer off duty calls 17, not the unit alarm",
            allowed=[s.value for s in UnitStatus if s is not UnitStatus.OFF_DUTY],
        )
    open_one = _open_distress(session, unit.id)
    if open_one is not None:
        return open_one, False
    working = unit.current_incident_id
    point = _where(session, unit, distress_in)
    lon, lat = point if point is not None else (None, None)
    said = f" : « {distress_in.note} »" if distress_in.note else ""
    incident_in = IncidentIn(
        type_code=DISTRESS_TYPE,
        lon=lon,
        lat=lat,
        address=distress_in.address,
        description=f"Appel de détresse de {unit.call_sign}{said}",
        call=CallIn(channel=Channel.OFFICER),
    )
    incident, place = officer_call(
        session=session, ctx=ctx, settings=settings, city=city, incident_in=incident_in
    )
    dutylog.log(
        session,
        ctx,
        kind=KIND,
        unit_id=unit.id,
        incident_id=incident.id,
        text=f"APPEL DE DÉTRESSE : {unit.call_sign}, {place}{said}",
        data={"unit": unit.call_sign, "working": working, "note": distress_in.note},
    )
    if working is not None:
        link_incidents(
            session=session,
            ctx=ctx,
            settings=settings,
            incident_id=incident.id,
            link_in=LinkIn(other=working, reason=f"appel de détresse de {unit.call_sign}"),
        )
    return incident, True


def _open_distress(session: Session, unit_id: int) -> Incident | None:
    """The unit's distress incident still open, if any."""
    return session.scalar(
        select(Incident)
        .join(DutyLogEntry, DutyLogEntry.incident_id == Incident.id)
        .where(
            DutyLogEntry.kind == KIND,
            DutyLogEntry.unit_id == unit_id,
            Incident.status.in_(service.OPEN_STATUSES),
        )
        .order_by(Incident.id.desc())
        .limit(1)
    )


def _where(session: Session, unit: Unit, distress_in: DistressIn) -> tuple[float, float] | None:
    """The point of the distress call: given, else the unit's AVL, else its incident's."""
    if distress_in.lon is not None and distress_in.lat is not None:
        return distress_in.lon, distress_in.lat
    if unit.last_lon is not None and unit.last_lat is not None:
        return unit.last_lon, unit.last_lat
    if unit.current_incident_id is not None:
        incident = session.get(Incident, unit.current_incident_id)
        if incident is not None:
            return incident.lon, incident.lat
    if distress_in.address is None:
        msg = f"{unit.call_sign} has no known position: give the place (lon and lat, or address)"
        raise InvalidInputError("lon", msg)
    return None
