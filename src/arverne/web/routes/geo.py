"""``/api/v1/geo``: the city for the console: geocoding, reverse geocoding, map layers."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request, Response

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


@dataclasses.dataclass(frozen=True, slots=True)
class _Layer:
    """A map layer serialised once: JSON, its gzip and an ETag."""

    raw: bytes
    gzipped: bytes
    etag: str


def _layer(request: Request, name: str, data: dict[str, Any]) -> Response:
    """Answer a map layer: a 304 when the browser has it, gzip when it accepts it.

    The city's layers change only when the server loads another city pack, and the
    streets of a city are megabytes of JSON: each process serialises and compresses
    them once, and browsers revalidate with ``If-None-Match`` instead of downloading again.
    """
    cache: dict[str, _Layer] | None = getattr(request.app.state, "geo_layers", None)
    if cache is None:
        cache = request.app.state.geo_layers = {}
    layer = cache.get(name)
    if layer is None:
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        layer = _Layer(raw, gzip.compress(raw, 6), f'"{hashlib.sha256(raw).hexdigest()[:32]}"')
        cache[name] = layer
    headers = {"ETag": layer.etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == layer.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(layer.gzipped, media_type="application/json", headers=headers)
    return Response(layer.raw, media_type="application/json", headers=headers)


@router.get("/streets", summary="Streets as GeoJSON (for the map)")
async def streets(request: Request, city: CityDep, _: CurrentPrincipal) -> Response:
    """Drivable streets as GeoJSON lines with name and road class (ETag, gzip)."""
    return await anyio.to_thread.run_sync(_layer, request, "streets", city.streets_geojson)


@router.get("/districts", summary="Districts and boundary as GeoJSON")
async def districts(request: Request, city: CityDep, _: CurrentPrincipal) -> Response:
    """District polygons and the city boundary (ETag, gzip)."""
    return await anyio.to_thread.run_sync(_layer, request, "districts", city.districts_geojson)
