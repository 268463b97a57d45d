"""City model: OSM city packs, road graph, travel-time routing, geocoding, districts (pure).

This package imports only the standard library and the scientific stack; it never touches
the database, the web layer or the settings. Coordinates are WGS84 (lon, lat) on the wire
and a metric CRS inside (Lambert-93 in France, UTM elsewhere).

The public names below are loaded on first use, so ``import arverne.geo`` stays cheap for
commands that never route or geocode.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arverne.geo.demo_city import build_demo_pack
    from arverne.geo.districts import (
        Beats,
        DistrictIndex,
        generate_beats,
        node_weights,
        read_districts,
    )
    from arverne.geo.errors import (
        CityPackError,
        DistrictError,
        FetchError,
        NoRouteError,
        SnapError,
    )
    from arverne.geo.fetch import MemoryTransport, Transport, UrllibTransport, fetch_extract
    from arverne.geo.geocode import Candidate, Geocoder, GeocodeResult, ReverseResult
    from arverne.geo.isochrones import isochrone
    from arverne.geo.location import Location, locate
    from arverne.geo.pack import CityPack, build_pack, load_pack, pack_info
    from arverne.geo.routing import Ranking, Route, rank_to_target, route

_EXPORTS = {
    "build_demo_pack": "demo_city",
    "Beats": "districts",
    "DistrictIndex": "districts",
    "generate_beats": "districts",
    "read_districts": "districts",
    "CityPackError": "errors",
    "DistrictError": "errors",
    "FetchError": "errors",
    "NoRouteError": "errors",
    "SnapError": "errors",
    "MemoryTransport": "fetch",
    "Transport": "fetch",
    "UrllibTransport": "fetch",
    "fetch_extract": "fetch",
    "Candidate": "geocode",
    "GeocodeResult": "geocode",
    "Geocoder": "geocode",
    "ReverseResult": "geocode",
    "isochrone": "isochrones",
    "Location": "location",
    "locate": "location",
    "node_weights": "districts",
    "CityPack": "pack",
    "build_pack": "pack",
    "load_pack": "pack",
    "pack_info": "pack",
    "Ranking": "routing",
    "Route": "routing",
    "rank_to_target": "routing",
    "route": "routing",
}
__all__ = [
    "Beats",
    "Candidate",
    "CityPack",
    "CityPackError",
    "DistrictError",
    "DistrictIndex",
    "FetchError",
    "GeocodeResult",
    "Geocoder",
    "Location",
    "MemoryTransport",
    "NoRouteError",
    "Ranking",
    "ReverseResult",
    "Route",
    "SnapError",
    "Transport",
    "UrllibTransport",
    "build_demo_pack",
    "build_pack",
    "fetch_extract",
    "generate_beats",
    "isochrone",
    "load_pack",
    "locate",
    "node_weights",
    "pack_info",
    "rank_to_target",
    "read_districts",
    "route",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'arverne.geo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"arverne.geo.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value
