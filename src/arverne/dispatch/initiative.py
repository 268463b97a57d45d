"""Interventions d'initiative: a crew comes upon an event and handles it at once.

One transaction takes the call (channel ``officer``) through the same intake as any
call, commits the crew's unit to the new incident and puts it on scene; the duty log says
it was the crew's initiative. Only a free unit (available or at its station) can do it:
a crew already committed clears its incident first, or calls the control room.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, flows, service
from arverne.dispatch.city import CityModel
from arverne.dispatch.crew_schemas import InitiativeIn
from arverne.dispatch.intake import officer_call
from arverne.dispatch.kpi import INITIATIVE_KIND as KIND
from arverne.dispatch.models import Incident
from arverne.dispatch.schemas import CallIn, Channel, DispatchIn, IncidentIn, StatusIn
from arverne.dispatch.status import UnitStatus
from arverne.errors import ConflictError, InvalidInputError
from arverne.security.audit import AuditContext

FREE = (UnitStatus.AVAILABLE, UnitStatus.AT_STATION)


def take_initiative(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    unit_id: int,
    initiative_in: InitiativeIn,
) -> Incident:
    """Create the incident a crew handles on its own initiative, the unit on scene.

    Raises
    ------
    NotFoundError
        No such unit, or unknown incident type.
    ConflictError
        The unit is not free (``allowed`` lists the statuses that are).
    InvalidInputError
        No place: none given and the unit has no position (``lon``).
    """
    unit = service.get_unit(session, unit_id, lock=True)
    if UnitStatus(unit.status) not in FREE:
        raise ConflictError(
            f"{unit.call_sign} is {unit.status}: only a free unit starts an intervention on "
            "its own initiative; clear the current one first or call the control room",
            allowed=[s.value for s in FREE],
        )
    lon, lat = initiative_in.lon, initiative_in.lat
    if lon is None and initiative_in.address is None:
        if unit.last_lon is None or unit.last_lat is None:
            msg = (
                f"{unit.call_sign} has no known position: give the place (lon and lat, or address)"
            )
            raise InvalidInputError("lon", msg)
        lon, lat = unit.last_lon, unit.last_lat
    incident_in = IncidentIn(
        type_code=initiative_in.type_code,
        priority=initiative_in.priority,
        lon=lon,
        lat=lat,
        address=initiative_in.address,
        description=initiative_in.description,
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
        text=f"{unit.call_sign} : intervention d'initiative, {incident.number}, {place}",
        data={"unit": unit.call_sign},
    )
    flows.dispatch(
        session=session,
        ctx=ctx,
        settings=settings,
        incident_id=incident.id,
        dispatch_in=DispatchIn(unit_ids=[unit.id]),
    )
    flows.set_unit_status(
        session=session,
        ctx=ctx,
        settings=settings,
        unit_id=unit.id,
        status_in=StatusIn(status=UnitStatus.ON_SCENE),
    )
    return service.get_incident(session, incident.id)
