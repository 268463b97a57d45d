"""Links between related incidents that stay separate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi import Path as PathParam

from arverne.dispatch import service
from arverne.dispatch.links import link_incidents, links_of, unlink_incidents
from arverne.dispatch.schemas import LinkIn, LinkOut, UnlinkIn
from arverne.security.principal import Principal
from arverne.web.deps import AuditCtx, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["incidents"])
IncidentId = Annotated[int, PathParam(ge=1)]


@router.get("/incidents/{incident_id}/links", summary="Related incidents")
@on_event_loop
def list_links(
    incident_id: IncidentId,
    session: SessionDep,
    removed: Annotated[bool, Query(description="Include removed links")] = False,
    _: Principal = require("incident:read"),
) -> list[LinkOut]:
    """The incidents linked to this one, oldest link first."""
    service.get_incident(session, incident_id, related=False)  # 404 for an unknown id
    return links_of(session, incident_id, removed=removed)


@router.post(
    "/incidents/{incident_id}/links",
    summary="Link to a related incident",
    status_code=status.HTTP_201_CREATED,
)
@on_event_loop
def link(
    incident_id: IncidentId,
    body: LinkIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:update"),
) -> LinkOut:
    """Link this incident to ``other`` (both stay separate), with a reason; answers with
    the other incident as seen from this one."""
    return link_incidents(
        session=session, ctx=ctx, settings=settings, incident_id=incident_id, link_in=body
    )


@router.post("/incidents/{incident_id}/links/{other_id}/remove", summary="Remove a link")
@on_event_loop
def unlink(
    incident_id: IncidentId,
    other_id: IncidentId,
    body: UnlinkIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:update"),
) -> LinkOut:
    """Remove the link between the two incidents; it is kept, marked removed, with the
    reason."""
    return unlink_incidents(
        session=session,
        ctx=ctx,
        settings=settings,
        incident_id=incident_id,
        other_id=other_id,
        unlink_in=body,
    )
