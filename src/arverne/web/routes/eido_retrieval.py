"""NENA's EIDO Retrieval Service and EIDO Dereference Factory (NENA-STA-024).

A partner that holds an incident tracking id (from an EIDO, a transfer, a conveyance
notification) fetches the incident's current EIDO, or asks for a URI it can hand on to
whoever should fetch it. Paths and answers follow NENA's published OpenAPI description
of the two services (``WebSocket-Subscribe-Notify``, ``schema/edfers.yaml``): below a
base URL, ``GET /incidents/{incidentID}`` (the EIDO, ``application/json``),
``GET /references/{incidentID}`` (the dereference URI, ``text/plain``) and
``GET /Versions``; 403 without permission, 404 for an unknown incident, 406 when the
``Accept`` header admits no JSON (or, for a reference, no plain text).

Here the base URL is ``/api/v1/IncidentData/v1``. Access is the API's: a Bearer token or
a console session with ``incident:read``; NENA's mutual TLS belongs to the reverse proxy
in front. The dereference URI is this service's retrieval URI: who dereferences it
authenticates as for any retrieval, so the URI grants nothing by itself. Documents carry
callers' identities only as the export does (``include_personal``, the
``call:read_personal`` permission and an ``X-Access-Reason``, audited); each retrieval
and each reference made is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi import Path as PathParam
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

import arverne
from arverne.dispatch import dutylog, eido, service
from arverne.dispatch.eido_apply import known_incident
from arverne.dispatch.eido_conveyance import accepts_json, media_ranges
from arverne.dispatch.eido_export import tracking_segment
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.errors import NotFoundError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.principal import Principal
from arverne.store.session import end_read_phase
from arverne.web.deps import AccessReason, AuditCtx, SessionDep, require
from arverne.web.routes.eido import AgencyDep
from arverne.web.routing import TransactionalRoute, on_event_loop

BASE = "/api/v1/IncidentData/v1"
router = APIRouter(route_class=TransactionalRoute, prefix=BASE, tags=["eido"])
# A tracking id is a URN (urn:emergency:uid:incidentid:...); a partner's may hold "/".
TrackingId = Annotated[str, PathParam(min_length=1, max_length=300)]
AcceptHeader = Annotated[str | None, Header()]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No incident with this tracking id here"}
}
_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"description": "The account may not read incidents"},
    406: {"description": "The Accept header admits no representation this service has"},
}


def _admits(accept: str | None, media: str) -> bool:
    """Whether an ``Accept`` header admits ``media`` (``text/plain`` or JSON)."""
    if not accept:
        return True
    if media != "text/plain":
        return accepts_json(accept)
    return bool(media_ranges(accept) & {"*/*", "text/*", "text/plain"})


def _not_acceptable(accept: str | None, media: str) -> None:
    if not _admits(accept, media):
        raise HTTPException(
            status.HTTP_406_NOT_ACCEPTABLE,
            f"this resource is {media}; the Accept header {accept!r} does not admit it",
        )


def _audited(
    session: Session, ctx: AuditContext, agency: eido.AgencyInfo, tracking: str, action: str
) -> int:
    """The incident ``tracking`` names (404 if none), its access recorded as ``action``."""
    end_read_phase(session)  # an audited read: one write transaction
    found = known_incident(session, tracking, agency.identifier)
    if found is None:
        raise NotFoundError("incident", tracking)
    audit.record(
        session, ctx, action=action, object_type="incident", object_id=found,
        details={"tracking_id": tracking},
    )  # fmt: skip
    return found


@router.get(
    "/incidents/{incident_tracking_id:path}",
    summary="EIDO Retrieval Service: the incident's current EIDO",
    response_model=EidoDocument,
    response_model_exclude_none=True,
    response_model_by_alias=True,
    responses={**_NOT_FOUND, **_REFUSED},
)
@on_event_loop  # audited: SQLite writes it through the writer gate
def retrieve_eido(
    incident_tracking_id: TrackingId,
    session: SessionDep,
    agency: AgencyDep,
    ctx: AuditCtx,
    accept: AcceptHeader = None,
    reason: AccessReason = None,
    include_personal: bool = False,
    principal: Principal = require("incident:read"),
) -> EidoDocument:
    """The current state of an incident of this system, or of one imported here, as an
    EIDO document (NENA-STA-021).

    Callers' identities are included only with ``include_personal``, the
    ``call:read_personal`` permission and an ``X-Access-Reason``; that read is audited.
    """
    _not_acceptable(accept, "application/json")
    incident_id = _audited(session, ctx, agency, incident_tracking_id, "eido.retrieve")
    if include_personal:
        service.read_callers(
            session, ctx, roles=principal.roles, incident_id=incident_id, reason=reason,
            via="eido retrieval",
        )  # fmt: skip
    incident = service.get_incident(session, incident_id)
    log = dutylog.list_log(session, incident_id=incident.id, kinds=eido.NOTE_KINDS)
    return eido.export_incident(incident, agency=agency, include_personal=include_personal, log=log)


@router.get(
    "/references/{incident_tracking_id:path}",
    summary="EIDO Dereference Factory: a URI to fetch the incident's EIDO by",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string", "format": "uri"}}}},
        **_NOT_FOUND,
        **_REFUSED,
    },
)
@on_event_loop
def eido_reference(
    incident_tracking_id: TrackingId,
    request: Request,
    session: SessionDep,
    agency: AgencyDep,
    ctx: AuditCtx,
    accept: AcceptHeader = None,
    _: Principal = require("incident:read"),
) -> PlainTextResponse:
    """The URI at which the incident's current EIDO is retrieved (opaque to the caller);
    whoever dereferences it needs ``incident:read`` here."""
    _not_acceptable(accept, "text/plain")
    _audited(session, ctx, agency, incident_tracking_id, "eido.reference")
    segment = tracking_segment(incident_tracking_id)
    uri = request.url_for("retrieve_eido", incident_tracking_id=segment)
    return PlainTextResponse(str(uri))


@router.get("/Versions", summary="Versions of the retrieval service offered")
def versions(_: Principal = require("incident:read")) -> dict[str, Any]:
    """The interface versions offered (NENA i3 ``VersionsArray``): 1.0, by Arverne."""
    return {
        "versions": [{"major": 1, "minor": 0, "vendor": "Arverne"}],
        "fingerprint": f"Arverne {arverne.__version__}",
    }
