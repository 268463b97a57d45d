"""Place a WGS84 point in the city: nearest street piece, house number, district.

This is what dispatch needs for a caller's or a unit's position: the street it is on
(snapped to the nearest *edge* of the road graph, with the snapping distance), the
nearest known house number, and the district it falls in. Points far from any road or
outside the city are flagged, never silently moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from arverne.geo.districts import DistrictIndex
from arverne.geo.pack import CityPack
from arverne.geo.routing import check_lonlat
from arverne.geo.snap import DEFAULT_MAX_SNAP_M

ADDRESS_MAX_M = 60.0


@dataclass(frozen=True)
class Location:
    """Where a point is in the city (see :func:`locate`)."""

    lon: float
    lat: float
    street: str | None
    housenumber_label: str | None
    district: str | None
    snap_distance_m: float
    snapped_lon: float
    snapped_lat: float
    link: int
    on_network: bool
    outside: bool

    @property
    def label(self) -> str:
        """Human text: "12 Rue Blatin", "Rue Blatin" or "unnamed street"."""
        return self.housenumber_label or self.street or "unnamed street"


def _district_index(pack: CityPack) -> DistrictIndex | None:
    cache = pack.__dict__.setdefault("_district_index", [])
    if not cache:
        cache.append(DistrictIndex(pack.districts) if pack.districts else None)
    found: DistrictIndex | None = cache[0]
    return found


def locate(
    pack: CityPack,
    lon: float,
    lat: float,
    *,
    mode: str = "drive",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Location:
    """Snap a WGS84 point to the nearest street piece and name its street and district.

    Parameters
    ----------
    pack
        A loaded city pack.
    lon, lat
        The point in WGS84 degrees.
    mode
        Graph to snap to: ``"drive"`` (default) or ``"walk"``.
    max_snap_m
        Points farther than this from the road (or outside the city by more than this)
        get ``on_network=False``.

    Returns
    -------
    Location
        Street of the snapped edge (or, for an unnamed edge, the nearest named street),
        nearest house number within 60 m, district (None without districts or outside
        them), snapping distance and flags.

    Raises
    ------
    ValueError
        When ``lon``/``lat`` are not WGS84 degrees.
    """
    lon, lat = check_lonlat((lon, lat), what="lon, lat")
    graph = pack.graph(mode)
    x, y = pack.projector.to_metric(lon, lat)
    snaps = pack.snapper(mode).snap([float(x)], [float(y)], max_snap_m=max_snap_m)
    link = int(snaps.link[0])
    name_id = int(graph.link_name_id[link])
    street: str | None = pack.street_names[name_id] if name_id > 0 else None
    reverse = pack.reverse_index()
    if street is None:
        nearest = reverse.nearest_street(float(x), float(y))
        street = nearest[0] if nearest is not None else None
    address = reverse.nearest_address(float(x), float(y), street, max_m=ADDRESS_MAX_M)
    index = _district_index(pack)
    district = index.names_of([lon], [lat])[0] if index is not None else None
    slon, slat = pack.projector.to_lonlat(snaps.x, snaps.y)
    distance = float(snaps.distance_m[0])
    return Location(
        lon=lon,
        lat=lat,
        street=street,
        housenumber_label=address[0] if address else None,
        district=district,
        snap_distance_m=distance if math.isfinite(distance) else math.inf,
        snapped_lon=round(float(np.asarray(slon)[0]), 7),
        snapped_lat=round(float(np.asarray(slat)[0]), 7),
        link=link,
        on_network=bool(snaps.ok[0]),
        outside=bool(snaps.outside[0]),
    )
