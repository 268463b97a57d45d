"""Dispatch's view of a city pack: road travel times, geocoding, street and district names.

:class:`RoadCity` wraps :mod:`arverne.geo` behind the small :class:`CityModel` interface;
:func:`load_city` picks it when ``ARVERNE_CITY_PACK`` names a pack, and the straight-line
fallback otherwise (its answers say ``straight_line`` so nobody mistakes them for routing).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from arverne.config import Settings
from arverne.dispatch.city import CityModel, Place, StraightLineCity, Travel
from arverne.errors import InvalidInputError

if TYPE_CHECKING:
    from arverne.geo.districts import DistrictIndex
    from arverne.geo.geocode import Candidate, Geocoder
    from arverne.geo.pack import CityPack

logger = logging.getLogger("arverne.city")
# A point farther than this from any road is refused rather than silently moved.
MAX_SNAP_M = 250.0
# Below this confidence a geocoding answer is not trusted for intake.
MIN_CONFIDENCE = 0.6


@dataclasses.dataclass
class RoadCity:
    """City model on a city pack: road network travel times and the pack's geocoder."""

    pack: CityPack
    max_snap_m: float = MAX_SNAP_M

    @property
    def name(self) -> str:
        """The city's name."""
        return self.pack.name

    @functools.cached_property
    def geocoder(self) -> Geocoder:
        """The pack's geocoder (indexes built on first use)."""
        from arverne.geo.geocode import Geocoder

        return Geocoder(self.pack)

    @functools.cached_property
    def districts(self) -> DistrictIndex | None:
        """Point-in-district index of the pack's districts, if it has any."""
        if not self.pack.districts:
            return None
        from arverne.geo.districts import DistrictIndex

        return DistrictIndex(self.pack.districts)

    def district_of(self, lon: float, lat: float) -> str | None:
        """Name of the district containing the point (None outside every district)."""
        return None if self.districts is None else self.districts.names_of([lon], [lat])[0]

    def locate(self, lon: float, lat: float) -> Place:
        """Name the street (and house) at a point; refuse points outside or off the roads."""
        found = self.geocoder.reverse(lon, lat, max_distance_m=self.max_snap_m)
        if found.outside:
            raise InvalidInputError(
                "lon/lat",
                f"point ({lon:.5f}, {lat:.5f}) is outside {self.name}; check the coordinates "
                "(longitude first) or place the incident on the map",
            )
        if found.far:
            raise InvalidInputError(
                "lon/lat",
                f"point ({lon:.5f}, {lat:.5f}) is {found.distance_m:.0f} m from the nearest "
                f"street (more than {self.max_snap_m:.0f} m); place it nearer a road",
            )
        return Place(
            lon=lon,
            lat=lat,
            street=found.street,
            district=self.district_of(lon, lat),
            address=found.label if found.street else None,
            snap_distance_m=round(float(found.distance_m), 1),
        )

    def suggest(self, query: str, *, limit: int = 5) -> tuple[list[Candidate], str | None]:
        """Ranked candidates for an address (for autocomplete), and a hint when none."""
        result = self.geocoder.geocode(query, limit=limit)
        return list(result.candidates), result.hint

    def geocode(self, query: str) -> Place:
        """The best place for an address; a weak or missing match is an error naming why."""
        candidates, hint = self.suggest(query, limit=3)
        if not candidates:
            raise InvalidInputError(
                "address", f"{query!r} was not found in {self.name}: {hint or 'check it'}"
            )
        best = candidates[0]
        if best.confidence < MIN_CONFIDENCE:
            raise InvalidInputError(
                "address",
                f"{query!r} is ambiguous (best guess {best.label!r} at "
                f"{best.confidence:.0%}); pick a suggestion or place it on the map",
            )
        place = self.locate(best.lon, best.lat)
        return dataclasses.replace(place, address=best.label, street=best.street or place.street)

    def travel(
        self,
        origins: NDArray[np.float64],
        target: tuple[float, float],
        *,
        walking: NDArray[np.bool_],
    ) -> Travel:
        """Road travel time (emergency driving, or walking for foot units) to ``target``."""
        from arverne.geo.routing import rank_to_target

        eta = np.full(len(origins), np.inf)
        dist = np.full(len(origins), np.inf)
        for mode, mask in (("drive", ~walking), ("walk", walking)):
            if not mask.any() or (mode == "walk" and self.pack.walk is None):
                continue
            ranking = rank_to_target(
                self.pack,
                origins[mask],
                target,
                emergency=mode == "drive",
                mode=mode,
                max_snap_m=self.max_snap_m,
            )
            eta[mask], dist[mask] = ranking.eta_s, ranking.distance_m
        return Travel(eta_s=eta, distance_m=dist, method="road_network")

    @functools.cached_property
    def streets_geojson(self) -> dict[str, Any]:
        """The drivable streets as GeoJSON lines (one feature per link) for the map."""
        graph = self.pack.drive
        names = self.pack.street_names
        ptr = graph.link_geom_ptr
        lon = np.round(graph.geom_lon, 5)
        lat = np.round(graph.geom_lat, 5)
        features = []
        for link in range(graph.n_links):
            start, end = int(ptr[link]), int(ptr[link + 1])
            name_id = int(graph.link_name_id[link])
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "name": names[name_id] if 0 < name_id < len(names) else None,
                        "highway": str(graph.highway_classes[graph.link_highway_id[link]]),
                    },
                    "geometry": {
                        "type": "LineString",
                        "coordinates": np.column_stack([lon[start:end], lat[start:end]]).tolist(),
                    },
                }
            )
        return {"type": "FeatureCollection", "features": features}

    @functools.cached_property
    def districts_geojson(self) -> dict[str, Any]:
        """The districts and the city boundary as GeoJSON polygons."""
        import shapely

        features = [
            {
                "type": "Feature",
                "properties": {"name": name, "kind": "district"},
                "geometry": shapely.geometry.mapping(geometry),
            }
            for name, geometry in self.pack.districts
        ]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": self.name, "kind": "boundary"},
                "geometry": shapely.geometry.mapping(self.pack.boundary),
            }
        )
        return {"type": "FeatureCollection", "features": features}

    def study_area(self) -> tuple[Any, str]:
        """The pack's boundary (WGS84) and its metric CRS."""
        return self.pack.boundary, f"EPSG:{self.pack.epsg}"

    def info(self) -> dict[str, Any]:
        """Name, synthetic flag and where the pack came from."""
        lon0, lat0, lon1, lat1 = self.pack.drive.extent()
        return {
            "name": self.name,
            "synthetic": self.pack.synthetic,
            "bbox": [lon0, lat0, lon1, lat1],
            "method": "road_network",
            "note": self.pack.meta.get("note"),
        }


def load_city(settings: Settings) -> CityModel:
    """Return the city model for ``settings``.

    With ``ARVERNE_CITY_PACK`` set, the pack is loaded (a broken pack is an error: a
    dispatch centre must not silently fall back to straight lines). Without it, the
    straight-line model over ``ARVERNE_CITY_BBOX`` is used.
    """
    if settings.city_pack is None:
        return StraightLineCity(name="city (no city pack loaded)", bbox=settings.city_bbox)
    from arverne.geo.errors import CityPackError
    from arverne.geo.pack import load_pack

    try:
        pack = load_pack(settings.city_pack)
    except (CityPackError, OSError) as exc:
        raise InvalidInputError(
            "ARVERNE_CITY_PACK", f"cannot load city pack {settings.city_pack}: {exc}"
        ) from exc
    logger.info("city pack %s loaded from %s", pack.name, settings.city_pack)
    return RoadCity(pack)
