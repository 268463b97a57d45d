"""``/api/v1/geo``: the city for the console: geocoding, reverse geocoding, map layers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from arverne.dispatch.city import Place
from arverne.web.deps import CityDep, CurrentPrincipal
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/geo", tags=["city"])


@router.get("/info", summary="The loaded city: name, extent, travel-time method")
def info(city: CityDep, _: CurrentPrincipal) -> dict[str, Any]:
    """Name, bounding box, whether travel times come from roads, synthetic flag."""
    return city.info()


@router.get("/geocode", summary="Address search (autocomplete)")
def geocode(
    city: CityDep,
    _: CurrentPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Address, street, place")],
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> dict[str, Any]:
    """Ranked candidates with a confidence; an empty list comes with a hint."""
    candidates, hint = city.suggest(q, limit=limit)
    return {
        "query": q,
        "candidates": [
            {
                "label": c.label,
                "kind": c.kind,
                "lon": c.lon,
                "lat": c.lat,
                "confidence": round(float(c.confidence), 3),
                "street": c.street,
            }
            for c in candidates
        ],
        "hint": hint,
    }


@router.get("/reverse", summary="Street and district at a point")
def reverse(
    city: CityDep,
    _: CurrentPrincipal,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> Place:
    """What intake would record for this point (422 outside the city or off the roads)."""
    return city.locate(lon, lat)


@router.get("/streets", summary="Streets as GeoJSON (for the map)")
def streets(city: CityDep, _: CurrentPrincipal) -> dict[str, Any]:
    """Drivable streets as GeoJSON lines with name and road class."""
    return city.streets_geojson


@router.get("/districts", summary="Districts and boundary as GeoJSON")
def districts(city: CityDep, _: CurrentPrincipal) -> dict[str, Any]:
    """District polygons and the city boundary."""
    return city.districts_geojson
