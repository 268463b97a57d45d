"""Premise history: earlier incidents at an incident's place, or at any point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from arverne.dispatch import service
from arverne.dispatch.place_history import place_history
from arverne.dispatch.schemas import PlaceHistoryOut
from arverne.security.principal import Principal
from arverne.web.deps import SessionDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["incidents"])
IncidentId = Annotated[int, PathParam(ge=1)]
Radius = Annotated[
    float, Query(ge=5, le=1000, description="Metres around the point that count as the place")
]
Days = Annotated[int, Query(ge=1, le=3650, description="How far back, in days")]
Limit = Annotated[int, Query(ge=1, le=200, description="How many incidents to list")]


@router.get(
    "/incidents/{incident_id}/place-history", summary="Earlier incidents at this incident's place"
)
@on_event_loop
def incident_place_history(
    incident_id: IncidentId,
    session: SessionDep,
    radius_m: Radius = 50.0,
    days: Days = 365,
    limit: Limit = 20,
    _: Principal = require("incident:read"),
) -> PlaceHistoryOut:
    """Incidents within ``radius_m`` of this one over the last ``days`` (itself and
    merged duplicates left out): counts by group, those that call for care on arrival,
    and the latest ones."""
    incident = service.get_incident(session, incident_id, related=False)
    return place_history(
        session, lon=incident.lon, lat=incident.lat, radius_m=radius_m, days=days,
        exclude={incident.id}, limit=limit,
    )  # fmt: skip


@router.get("/place-history", summary="Earlier incidents at a point (before intake)")
@on_event_loop
def point_place_history(
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="WGS84 longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="WGS84 latitude")],
    radius_m: Radius = 50.0,
    days: Days = 365,
    limit: Limit = 20,
    _: Principal = require("incident:read"),
) -> PlaceHistoryOut:
    """Incidents within ``radius_m`` of a point over the last ``days``, as the intake
    form shows them once the place of a new call is known."""
    return place_history(session, lon=lon, lat=lat, radius_m=radius_m, days=days, limit=limit)
