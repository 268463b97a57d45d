"""Read an OSM extract (PBF or XML) with pyosmium into plain Python records.

One pass over the file collects what a city pack needs: highway ways with their node
references and coordinates, named landmarks (nodes and way centroids), house-number
addresses (nodes and building ways). A second, optional pass assembles administrative
boundary relations into polygons (:func:`read_admin_areas`).

The input is checked before pyosmium sees it: a missing, empty or non-OSM file, or one
pyosmium fails to parse, raises :class:`~arverne.geo.errors.CityPackError` naming the
file and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from arverne.geo.errors import CityPackError

HIGHWAY_KEYS = (
    "highway", "name", "oneway", "junction", "maxspeed", "maxspeed:forward",
    "maxspeed:backward", "zone:maxspeed", "maxspeed:type", "source:maxspeed", "access",
    "motor_vehicle", "motorcar", "vehicle", "foot", "service", "area", "ref",
)  # fmt: skip

# (key, value or "*", kind) in priority order: the first match names the landmark kind.
LANDMARK_RULES: tuple[tuple[str, str, str], ...] = (
    ("amenity", "police", "police"),
    ("amenity", "hospital", "hospital"),
    ("amenity", "fire_station", "fire_station"),
    ("amenity", "townhall", "townhall"),
    ("amenity", "school", "school"),
    ("amenity", "university", "university"),
    ("amenity", "college", "university"),
    ("amenity", "bar", "bar"),
    ("amenity", "pub", "pub"),
    ("amenity", "nightclub", "nightclub"),
    ("amenity", "theatre", "theatre"),
    ("amenity", "cinema", "cinema"),
    ("amenity", "place_of_worship", "place_of_worship"),
    ("railway", "station", "station"),
    ("railway", "tram_stop", "tram_stop"),
    ("highway", "bus_stop", "bus_stop"),
    ("public_transport", "stop_position", "stop"),
    ("public_transport", "platform", "stop"),
    ("public_transport", "station", "station"),
    ("leisure", "stadium", "stadium"),
    ("leisure", "park", "park"),
    ("place", "square", "square"),
    ("place", "quarter", "quarter"),
    ("place", "suburb", "quarter"),
    ("place", "neighbourhood", "quarter"),
    ("tourism", "museum", "museum"),
    ("shop", "*", "shop"),
)
_INTERESTING_KEYS = ("highway", "addr:housenumber", *sorted({r[0] for r in LANDMARK_RULES}))
_PBF_MARK = b"OSMHeader"


@dataclass(slots=True)
class HighwayWay:
    """A way tagged ``highway=*`` with its node references and WGS84 coordinates."""

    osm_id: int
    tags: dict[str, str]
    refs: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]


@dataclass(slots=True)
class Landmark:
    """A named point of interest (node, or centroid of a way)."""

    name: str
    kind: str
    lon: float
    lat: float
    osm_type: str
    osm_id: int


@dataclass(slots=True)
class Address:
    """A house-number address (node, or centroid of a building way)."""

    housenumber: str
    street: str
    lon: float
    lat: float
    postcode: str
    city: str


@dataclass(slots=True)
class RawOsm:
    """Everything read from one OSM file."""

    ways: list[HighwayWay] = field(default_factory=list)
    landmarks: list[Landmark] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    objects_read: int = 0
    ways_missing_nodes: int = 0


@dataclass(slots=True)
class AdminArea:
    """An assembled ``boundary=administrative`` relation."""

    name: str
    admin_level: int
    geometry: BaseGeometry


def landmark_kind(tags: Any) -> str | None:
    """Return the landmark kind of an object's tags, or None if it is not a landmark.

    Parameters
    ----------
    tags
        An osmium tag list or any mapping with ``get``.

    Returns
    -------
    str or None
        ``"police"``, ``"station"``, ``"shop"`` ... (see :data:`LANDMARK_RULES`).
    """
    for key, value, kind in LANDMARK_RULES:
        tagged = tags.get(key)
        if tagged is not None and (value in ("*", tagged)):
            return kind
    return None


def sniff_format(path: Path) -> str:
    """Check that ``path`` looks like an OSM file and return pyosmium's format name.

    Raises
    ------
    CityPackError
        When the file is missing, empty, a directory or neither OSM PBF nor OSM XML.
    """
    fix = "give an OpenStreetMap extract (.osm.pbf or .osm XML), e.g. from `arverne city fetch`"
    if not path.exists():
        raise CityPackError(path, "file not found", "check the path; " + fix)
    if not path.is_file():
        raise CityPackError(path, "is not a file", fix)
    with path.open("rb") as handle:
        head = handle.read(2048)
    if not head:
        raise CityPackError(path, "file is empty", fix)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        if b"<osm" not in head:
            raise CityPackError(path, "is XML but not OSM XML (no <osm> root)", fix)
        return "osm"
    if head[:3] == b"BZh":
        return "osm.bz2"
    if len(head) > 8 and _PBF_MARK in head[4:64]:
        return "pbf"
    raise CityPackError(path, "is not an OSM file (neither PBF nor XML)", fix)


def _centroid(nodes: Any) -> tuple[float, float] | None:
    lons: list[float] = []
    lats: list[float] = []
    for node in nodes:
        location = node.location
        if location.valid():
            lons.append(location.lon)
            lats.append(location.lat)
    if not lons:
        return None
    if len(lons) > 2 and lons[0] == lons[-1] and lats[0] == lats[-1]:
        lons.pop()
        lats.pop()
    return float(np.mean(lons)), float(np.mean(lats))


def _read_way(obj: Any, raw: RawOsm) -> tuple[float, float] | None:
    """Store a highway way; return its centroid (for landmark/address tags) if needed."""
    tags = obj.tags
    if "highway" in tags and tags.get("area") != "yes":
        refs: list[int] = []
        lons: list[float] = []
        lats: list[float] = []
        for node in obj.nodes:
            location = node.location
            if location.valid():
                refs.append(node.ref)
                lons.append(location.lon)
                lats.append(location.lat)
        if len(refs) < len(obj.nodes):
            raw.ways_missing_nodes += 1
        if len(refs) >= 2:
            raw.ways.append(
                HighwayWay(
                    osm_id=obj.id,
                    tags={k: tags[k] for k in HIGHWAY_KEYS if k in tags},
                    refs=np.asarray(refs, dtype=np.int64),
                    lon=np.asarray(lons, dtype=np.float64),
                    lat=np.asarray(lats, dtype=np.float64),
                )
            )
    if "addr:housenumber" in tags or ("name" in tags and landmark_kind(tags)):
        return _centroid(obj.nodes)
    return None


def _store_poi(tags: Any, lon: float, lat: float, osm_type: str, osm_id: int, raw: RawOsm) -> None:
    kind = landmark_kind(tags)
    name = tags.get("name")
    if kind is not None and name and not (kind == "bus_stop" and osm_type == "way"):
        raw.landmarks.append(Landmark(name, kind, lon, lat, osm_type, osm_id))
    number = tags.get("addr:housenumber")
    street = tags.get("addr:street") or tags.get("addr:place")
    if number and street:
        raw.addresses.append(
            Address(
                housenumber=number.strip(),
                street=street.strip(),
                lon=lon,
                lat=lat,
                postcode=tags.get("addr:postcode", ""),
                city=tags.get("addr:city", ""),
            )
        )


def read_osm(path: str | Path) -> RawOsm:
    """Read highway ways, landmarks and addresses from an OSM file.

    Parameters
    ----------
    path
        An OSM PBF (``.osm.pbf``) or XML (``.osm``, ``.osm.bz2``) file.

    Returns
    -------
    RawOsm
        The records found; ways keep only their nodes with a known location.

    Raises
    ------
    CityPackError
        When the file is missing, empty, not OSM or cannot be parsed.
    """
    source = Path(path)
    fmt = sniff_format(source)
    raw = RawOsm()
    processor = (
        osmium.FileProcessor(osmium.io.File(str(source), fmt))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter(*_INTERESTING_KEYS))
    )
    try:
        for obj in processor:
            raw.objects_read += 1
            if isinstance(obj, osmium.osm.Node):
                location = obj.location
                if location.valid():
                    _store_poi(obj.tags, location.lon, location.lat, "node", obj.id, raw)
            elif isinstance(obj, osmium.osm.Way):
                centre = _read_way(obj, raw)
                if centre is not None:
                    _store_poi(obj.tags, centre[0], centre[1], "way", obj.id, raw)
    except RuntimeError as exc:
        raise CityPackError(
            source,
            f"cannot be parsed as OSM ({exc})",
            "the file is corrupt or truncated; download the extract again",
        ) from exc
    return raw


def read_admin_areas(path: str | Path) -> list[AdminArea]:
    """Assemble the ``boundary=administrative`` relations of an OSM file into polygons.

    Relations whose member ways are cut off by the extract do not assemble and are skipped.

    Parameters
    ----------
    path
        The OSM file (already checked by :func:`read_osm`).

    Returns
    -------
    list of AdminArea
        Valid polygons in WGS84, with name and admin level.
    """
    source = Path(path)
    fmt = sniff_format(source)
    admin = osmium.filter.TagFilter(("boundary", "administrative"))
    processor = (
        osmium.FileProcessor(osmium.io.File(str(source), fmt))
        .with_areas(admin)
        .with_filter(osmium.filter.TagFilter(("boundary", "administrative")))
    )
    factory = osmium.geom.WKBFactory()
    areas: list[AdminArea] = []
    try:
        for obj in processor:
            if not isinstance(obj, osmium.osm.Area) or obj.from_way():
                continue
            level = obj.tags.get("admin_level") or ""
            if not level.isdigit():
                continue
            try:
                geometry = shapely.from_wkb(factory.create_multipolygon(obj))
            except RuntimeError:
                continue
            if geometry.is_valid and not geometry.is_empty:
                areas.append(AdminArea(obj.tags.get("name") or "", int(level), geometry))
    except RuntimeError as exc:
        raise CityPackError(
            source, f"cannot be parsed as OSM ({exc})", "download the extract again"
        ) from exc
    return areas
