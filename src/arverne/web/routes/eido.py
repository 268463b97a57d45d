"""NENA EIDO interoperability: export an incident, import another agency's incident."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from fastapi import Path as PathParam
from starlette.requests import HTTPConnection

from arverne.dispatch import dutylog, eido, flows, service
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.schemas import IncidentOut
from arverne.security.principal import Principal
from arverne.store.session import end_read_phase
from arverne.web.deps import AccessReason, AuditCtx, CityDep, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["eido"])
IncidentId = Annotated[int, PathParam(ge=1)]


def this_agency(
    connection: HTTPConnection, settings: SettingsDep, city: CityDep
) -> eido.AgencyInfo:
    """This agency, as its EIDO documents name it: ``ARVERNE_AGENCY_ID``, else the host
    serving the API (a NENA-STA-010 style domain). A request's or a WebSocket's."""
    return eido.AgencyInfo(
        identifier=settings.agency_id or connection.url.hostname or "arverne.invalid",
        name=f"Arverne — {city.name}",
        zone=settings.zone,
    )


AgencyDep = Annotated[eido.AgencyInfo, Depends(this_agency)]


@router.get(
    "/incidents/{incident_id}/eido",
    summary="Export an incident as NENA EIDO JSON",
    response_model=EidoDocument,
    response_model_exclude_none=True,
    response_model_by_alias=True,
)
@on_event_loop  # may audit a read of callers: SQLite writes it through the writer gate
def export_eido(
    incident_id: IncidentId,
    session: SessionDep,
    agency: AgencyDep,
    ctx: AuditCtx,
    reason: AccessReason = None,
    include_personal: bool = False,
    principal: Principal = require("incident:read"),
) -> EidoDocument:
    """The incident as an EIDO document (NENA-STA-021).

    Callers' identities are included only with ``include_personal``, the
    ``call:read_personal`` permission and an ``X-Access-Reason``; that read is audited.
    """
    if include_personal:
        end_read_phase(session)  # an audited read: one write transaction
    incident = service.get_incident(session, incident_id)
    if include_personal:
        service.read_callers(
            session, ctx, roles=principal.roles, incident_id=incident.id, reason=reason,
            via="eido",
        )  # fmt: skip
    log = dutylog.list_log(session, incident_id=incident.id, kinds=eido.NOTE_KINDS)
    return eido.export_incident(
        incident,
        agency=agency,
        include_personal=include_personal,
        log=log,
    )


@router.post(
    "/eido",
    status_code=status.HTTP_201_CREATED,
    summary="Import another agency's incident from NENA EIDO JSON (create or update)",
    responses={200: {"model": IncidentOut, "description": "An incident already imported, updated"}},
)
def import_eido(
    body: EidoDocument,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    agency: AgencyDep,
    ctx: AuditCtx,
    _: Principal = require("incident:create"),
) -> IncidentOut:
    """Create an incident from an EIDO document (201), or apply a later message about an
    incident already imported (200), through the normal flows.

    Answers 409 if the message was already received, was sent before the last one applied,
    or describes one of this system's incidents, and 422 naming the EIDO field that
    cannot be accepted.
    """
    received = eido.import_eido(
        session,
        ctx,
        settings,
        city,
        body,
        own_agency=agency.identifier,
    )
    if not received.created:
        response.status_code = status.HTTP_200_OK
    return service.incident_out(received.incident, targets=flows.targets_for(settings))
