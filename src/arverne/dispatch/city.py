"""What dispatch needs from the city model, behind a small interface.

``RoadCity`` answers with road travel times from a city pack; ``StraightLineCity`` is the
honest fallback when no pack is configured (every answer is labelled ``straight_line``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from arverne.errors import InvalidInputError

EARTH_RADIUS_M = 6_371_008.8


@dataclasses.dataclass(frozen=True, slots=True)
class Place:
    """A located incident: the point snapped to the street network, and its names."""

    lon: float
    lat: float
    street: str | None = None
    district: str | None = None
    address: str | None = None
    snap_distance_m: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Travel:
    """Travel from several origins to one target."""

    eta_s: NDArray[np.float64]
    distance_m: NDArray[np.float64]
    method: str


class CityModel(Protocol):
    """The city services dispatch relies on."""

    @property
    def name(self) -> str:
        """The city's name."""
        ...

    @property
    def streets_geojson(self) -> dict[str, Any]:
        """Streets for the map (GeoJSON FeatureCollection of lines)."""
        ...

    @property
    def districts_geojson(self) -> dict[str, Any]:
        """Districts and boundary for the map (GeoJSON FeatureCollection)."""
        ...

    def info(self) -> dict[str, Any]:
        """Name, extent (``bbox``), travel-time ``method`` and synthetic flag."""
        ...

    def suggest(self, query: str, *, limit: int = 5) -> tuple[list[Any], str | None]:
        """Ranked geocoding candidates and a hint when there is none."""
        ...

    def study_area(self) -> tuple[Any, str]:
        """The city's area (shapely geometry, WGS84) and the metric CRS to analyse it in."""
        ...

    def locate(self, lon: float, lat: float) -> Place:
        """Snap a point to the city and name it; raise ``InvalidInputError`` outside."""
        ...

    def geocode(self, query: str) -> Place:
        """Return the best place for an address; raise ``InvalidInputError`` if none."""
        ...

    def travel(
        self,
        origins: NDArray[np.float64],
        target: tuple[float, float],
        *,
        walking: NDArray[np.bool_],
    ) -> Travel:
        """Travel time and distance from each origin (lon, lat rows) to ``target``."""
        ...


def haversine_m(
    lon1: NDArray[np.float64], lat1: NDArray[np.float64], lon2: float, lat2: float
) -> NDArray[np.float64]:
    """Great-circle distance in metres from arrays of points to one point."""
    phi1, phi2 = np.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * math.cos(phi2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


@dataclasses.dataclass
class StraightLineCity:
    """Fallback city: a bounding box, straight-line distances and mean speeds.

    Road distance is estimated as 1.3 x the straight line (a common detour factor for
    urban grids); the result says ``straight_line`` so nobody mistakes it for routing.
    """

    name: str
    bbox: tuple[float, float, float, float]  # min_lon, min_lat, max_lon, max_lat
    drive_speed_mps: float = 30 / 3.6
    walk_speed_mps: float = 5 / 3.6
    detour: float = 1.3

    def locate(self, lon: float, lat: float) -> Place:
        """Accept points inside the bounding box."""
        min_lon, min_lat, max_lon, max_lat = self.bbox
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            raise InvalidInputError(
                "lon/lat",
                f"point ({lon:.5f}, {lat:.5f}) is outside {self.name} "
                f"(lon {min_lon}..{max_lon}, lat {min_lat}..{max_lat}); check the coordinates "
                "(GeoJSON order: longitude first)",
            )
        return Place(lon=lon, lat=lat)

    @property
    def streets_geojson(self) -> dict[str, Any]:
        """No streets without a city pack."""
        return {"type": "FeatureCollection", "features": []}

    @property
    def districts_geojson(self) -> dict[str, Any]:
        """The bounding box as the only area."""
        x0, y0, x1, y1 = self.bbox
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": self.name, "kind": "boundary"},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ],
        }

    def info(self) -> dict[str, Any]:
        """Name, extent and the straight-line method."""
        return {
            "name": self.name,
            "synthetic": False,
            "bbox": list(self.bbox),
            "method": "straight_line",
            "note": "no city pack loaded: distances are straight lines x 1.3",
        }

    def study_area(self) -> tuple[Any, str]:
        """The bounding box, analysed in the UTM zone of its centre."""
        import shapely

        x0, y0, x1, y1 = self.bbox
        lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
        zone = int((lon + 180) // 6) + 1
        crs = f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
        return shapely.box(x0, y0, x1, y1), crs

    def suggest(self, query: str, *, limit: int = 5) -> tuple[list[Any], str | None]:
        """No candidates without a city pack."""
        return [], "no city pack is loaded: place the incident on the map"

    def geocode(self, query: str) -> Place:
        """No address data without a city pack."""
        raise InvalidInputError(
            "address",
            f"no city pack is loaded, so {query!r} cannot be geocoded; place the incident "
            "on the map (lon, lat) or configure ARVERNE_CITY_PACK",
        )

    def travel(
        self,
        origins: NDArray[np.float64],
        target: tuple[float, float],
        *,
        walking: NDArray[np.bool_],
    ) -> Travel:
        """Straight-line distance times the detour factor, at mean speeds."""
        distance = haversine_m(origins[:, 0], origins[:, 1], target[0], target[1]) * self.detour
        speed = np.where(walking, self.walk_speed_mps, self.drive_speed_mps)
        return Travel(eta_s=distance / speed, distance_m=distance, method="straight_line")
