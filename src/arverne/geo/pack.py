"""City packs: build one from an OSM extract, load it, describe it.

A city pack is a directory (see ``docs/city.md``)::

    meta.json            format_version, name, crs, source sha256, build time, counts,
                         extent, synthetic flag, emergency factor, boundary source
    drive.npz walk.npz   road graphs (nodes, links with geometry, arcs), see graph.py
    drive_ch.npz         core contraction hierarchy of the drive graph, see hierarchy.py
    streets.parquet      street names (id, name, normalised key)
    addresses.parquet    house numbers (number, street, lon/lat, metric x/y)
    landmarks.parquet    named places (name, kind, lon/lat, metric x/y)
    boundary.geojson     the city's area (WGS84)
    districts.geojson    optional: named districts (WGS84)

Arrays are plain ``.npz`` (loaded with ``allow_pickle=False``) and string tables are
Parquet, so a pack is portable and safe to load. It is written atomically.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from arverne import __version__
from arverne.geo.atomic import atomic_directory
from arverne.geo.crs import Projector, choose_metric_crs
from arverne.geo.errors import CityPackError
from arverne.geo.geojson import feature, load_area, read_json, write_feature_collection
from arverne.geo.graph import RoadGraph
from arverne.geo.hierarchy import Hierarchy, build_hierarchy
from arverne.geo.network import NameTable, build_graph
from arverne.geo.osm_read import HighwayWay, RawOsm, read_admin_areas, read_osm
from arverne.geo.speeds import DEFAULT_EMERGENCY_FACTOR, DEFAULT_SPEED_KMH, check_emergency_factor
from arverne.geo.tables import address_table, landmark_table, street_table

if TYPE_CHECKING:
    from arverne.geo.geocode_index import ReverseIndex
    from arverne.geo.snap import EdgeSnapper

FORMAT_VERSION = 1
BOUNDARY_MARGIN_M = 250.0
HULL_MARGIN_M = 100.0
ADMIN_COVERAGE = 0.9
_NAME = re.compile(r"^[\w][\w .'()-]{0,99}$")

Progress = Callable[[str, float], None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _clip_ways(ways: Sequence[HighwayWay], area: BaseGeometry) -> list[HighwayWay]:
    """Keep the ways with at least one point in ``area`` (WGS84)."""
    if not ways:
        return []
    shapely.prepare(area)
    lon = np.concatenate([w.lon for w in ways])
    lat = np.concatenate([w.lat for w in ways])
    inside = shapely.contains_xy(area, lon, lat)
    starts = np.concatenate([[0], np.cumsum([w.refs.size for w in ways])[:-1]])
    hits = np.add.reduceat(inside.astype(np.int64), starts) > 0
    return [w for w, hit in zip(ways, hits, strict=True) if hit]


def _default_boundary(
    source: Path, graph: RoadGraph, walk: RoadGraph | None, projector: Projector
) -> tuple[BaseGeometry, str, list[tuple[str, BaseGeometry]]]:
    """Smallest admin area holding 90 % of the drive nodes, else a convex hull."""
    areas = read_admin_areas(source)
    best: tuple[float, BaseGeometry, str] | None = None
    for area in areas:
        inside = shapely.contains_xy(area.geometry, graph.node_lon, graph.node_lat).mean()
        size = float(area.geometry.area)
        if inside >= ADMIN_COVERAGE and (best is None or size < best[0]):
            best = (size, area.geometry, f"osm admin_level={area.admin_level} {area.name}")
    xs = [graph.node_x] + ([walk.node_x] if walk is not None else [])
    ys = [graph.node_y] + ([walk.node_y] if walk is not None else [])
    hull = shapely.MultiPoint(np.column_stack([np.concatenate(xs), np.concatenate(ys)]))
    hull_lonlat = projector.geometry_to_lonlat(hull.convex_hull.buffer(HULL_MARGIN_M))
    boundary, how = (best[1], best[2]) if best else (hull_lonlat, "convex hull of the roads")
    quarters = [
        (a.name or f"area {i}", a.geometry)
        for i, a in enumerate(areas)
        if a.admin_level >= 9 and boundary.intersects(a.geometry)
    ]
    return boundary, how, quarters if len(quarters) >= 2 else []


def _admin_area(source: Path, admin_name: str) -> BaseGeometry:
    """The administrative area of an OSM file with this name (the largest if several)."""
    from arverne.geo.text import fold

    areas = read_admin_areas(source)
    wanted = fold(admin_name)
    found = [a for a in areas if fold(a.name) == wanted]
    if not found:
        known = ", ".join(sorted({a.name for a in areas if a.name})[:20]) or "none"
        raise CityPackError(
            source,
            f"has no administrative boundary named {admin_name!r}",
            f"use one of: {known}; or pass --boundary with a GeoJSON polygon",
        )
    return max(found, key=lambda a: float(a.geometry.area)).geometry


def build_pack(
    source_path: str | Path,
    *,
    name: str,
    out_dir: str | Path,
    boundary: BaseGeometry | str | Path | None = None,
    admin_name: str | None = None,
    emergency_factor: float = DEFAULT_EMERGENCY_FACTOR,
    districts: str | Path | None = None,
    synthetic: bool = False,
    note: str = "",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Build a city pack from an OSM extract.

    Parameters
    ----------
    source_path
        OSM PBF or XML file.
    name
        Human name of the city ("Clermont-Ferrand"); letters, digits, spaces, ``.'()-``.
    out_dir
        Directory to create for the pack (its parent must exist).
    boundary
        The city's area as a WGS84 shapely geometry or a GeoJSON file. Roads are clipped
        to it (plus 250 m). Default: the smallest OSM administrative area holding 90 % of
        the roads, else the convex hull of the roads plus 100 m.
    admin_name
        Use the OSM ``boundary=administrative`` relation of this name as the boundary
        (case and accents ignored); exclusive with ``boundary``.
    emergency_factor
        How many times faster emergency driving is (1.0 .. 3.0), stored in ``meta.json``.
    districts
        Optional GeoJSON FeatureCollection of named district polygons to include.
    synthetic
        Mark the pack as generated data (the demo city).
    note
        Free text stored in ``meta.json``.
    overwrite
        Replace an existing pack at ``out_dir``.
    progress
        Called with (stage, fraction of the stage done).

    Returns
    -------
    pathlib.Path
        The pack directory.

    Raises
    ------
    CityPackError
        Bad input file or no usable road; nothing is written.
    """
    source, target = Path(source_path), Path(out_dir)
    report = progress or (lambda stage, fraction: None)
    if not _NAME.match(name):
        raise ValueError(f"name={name!r} is not a valid city name; use letters, digits, spaces")
    factor = check_emergency_factor(emergency_factor)
    area = None if boundary is None else load_area(boundary)
    district_features = None
    if districts is not None:
        from arverne.geo.districts import read_districts

        district_features = read_districts(districts)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; remove it or pass overwrite=True")
    report("reading OSM", 0.0)
    raw = read_osm(source)
    if admin_name is not None:
        if area is not None:
            raise ValueError("give either boundary or admin_name, not both")
        area = _admin_area(source, admin_name)
    report("reading OSM", 1.0)
    return _assemble(
        raw,
        source,
        target,
        name=name,
        area=area,
        area_source="argument" if admin_name is None else f"osm admin area {admin_name}",
        factor=factor,
        districts=district_features,
        synthetic=synthetic,
        note=note,
        overwrite=overwrite,
        report=report,
    )


def _assemble(
    raw: RawOsm,
    source: Path,
    target: Path,
    *,
    name: str,
    area: BaseGeometry | None,
    area_source: str,
    factor: float,
    districts: list[tuple[str, BaseGeometry]] | None,
    synthetic: bool,
    note: str,
    overwrite: bool,
    report: Progress,
) -> Path:
    ways = raw.ways
    no_roads = CityPackError(
        source,
        "contains no drivable road network (highway=primary, residential ...)",
        "give an OSM extract that covers a town or a city",
    )
    if not ways:
        raise no_roads
    if area is not None:
        centre = area.centroid
        epsg = choose_metric_crs(centre.x, centre.y)
        projector = Projector(epsg)
        margin = projector.geometry_to_lonlat(
            projector.geometry_to_metric(area).buffer(BOUNDARY_MARGIN_M)
        )
        ways = _clip_ways(ways, margin)
    else:
        lon = np.concatenate([w.lon for w in ways])
        lat = np.concatenate([w.lat for w in ways])
        epsg = choose_metric_crs(float(np.mean(lon)), float(np.mean(lat)))
        projector = Projector(epsg)
    names = NameTable()
    report("building graphs", 0.0)
    drive = build_graph(ways, mode="drive", projector=projector, names=names)
    if drive is None or drive.n_nodes < 2:
        raise no_roads
    walk = build_graph(ways, mode="walk", projector=projector, names=names)
    report("building graphs", 1.0)
    quarters: list[tuple[str, BaseGeometry]] = []
    if area is not None:
        boundary, how = area, area_source
    else:
        boundary, how, quarters = _default_boundary(source, drive, walk, projector)
    hierarchy = build_hierarchy(drive, progress=lambda f: report("contracting", f))
    addresses = address_table(raw.addresses, projector, boundary)
    landmarks = landmark_table(raw.landmarks, projector, boundary)
    streets = street_table(names.names)
    district_list = districts if districts is not None else quarters
    lon_min, lat_min, lon_max, lat_max = shapely.bounds(boundary).tolist()
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "crs": {"epsg": epsg, "name": f"EPSG:{epsg}"},
        "source": {"file": source.name, "sha256": _sha256(source), "bytes": source.stat().st_size},
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "builder": f"arverne {__version__}",
        "synthetic": synthetic,
        "note": note,
        "emergency_factor": factor,
        "boundary_source": how,
        "extent": [lon_min, lat_min, lon_max, lat_max],
        "default_speed_kmh": dict(DEFAULT_SPEED_KMH),
        "counts": {
            "drive_nodes": drive.n_nodes,
            "drive_links": drive.n_links,
            "drive_arcs": drive.n_arcs,
            "walk_nodes": walk.n_nodes if walk else 0,
            "walk_links": walk.n_links if walk else 0,
            "walk_arcs": walk.n_arcs if walk else 0,
            "streets": len(names.names) - 1,
            "addresses": len(addresses),
            "landmarks": len(landmarks),
            "districts": len(district_list),
            "core_nodes": int(hierarchy.is_core.sum()),
        },
    }
    report("writing", 0.0)
    with atomic_directory(target, overwrite=overwrite) as temp:
        drive.save(temp / "drive.npz")
        if walk is not None:
            walk.save(temp / "walk.npz")
        hierarchy.save(temp / "drive_ch.npz")
        streets.to_parquet(temp / "streets.parquet", index=False)
        addresses.to_parquet(temp / "addresses.parquet", index=False)
        landmarks.to_parquet(temp / "landmarks.parquet", index=False)
        write_feature_collection(temp / "boundary.geojson", [feature(boundary, {"name": name})])
        if district_list:
            write_feature_collection(
                temp / "districts.geojson", [feature(g, {"name": n}) for n, g in district_list]
            )
        (temp / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    report("writing", 1.0)
    return target


class CityPack:
    """A loaded city pack: graphs, string tables, boundary and metadata.

    Use :func:`load_pack` to get one. Spatial indexes and the contraction hierarchy are
    loaded or built on first use.
    """

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        drive: RoadGraph,
        walk: RoadGraph | None,
        streets: pd.DataFrame,
        addresses: pd.DataFrame,
        landmarks: pd.DataFrame,
        boundary: BaseGeometry,
    ) -> None:
        self.path = path
        self.meta = meta
        self.drive = drive
        self.walk = walk
        self.streets = streets
        self.addresses = addresses
        self.landmarks = landmarks
        self.boundary = boundary

    def __repr__(self) -> str:
        return f"CityPack({self.name!r}, {self.drive.n_nodes} drive nodes, path={self.path})"

    @property
    def name(self) -> str:
        """City name."""
        return str(self.meta["name"])

    @property
    def epsg(self) -> int:
        """EPSG code of the metric CRS."""
        return int(self.meta["crs"]["epsg"])

    @property
    def synthetic(self) -> bool:
        """True for generated data (the demo city)."""
        return bool(self.meta.get("synthetic", False))

    @property
    def emergency_factor(self) -> float:
        """How many times faster emergency driving is."""
        return float(self.meta["emergency_factor"])

    @functools.cached_property
    def projector(self) -> Projector:
        """WGS84 <-> metric converter."""
        return Projector(self.epsg)

    @functools.cached_property
    def boundary_metric(self) -> BaseGeometry:
        """The boundary in the metric CRS (prepared for fast point tests)."""
        geometry = self.projector.geometry_to_metric(self.boundary)
        shapely.prepare(geometry)
        return geometry

    @functools.cached_property
    def hierarchy(self) -> Hierarchy:
        """Core contraction hierarchy of the drive graph."""
        return Hierarchy.load(self.path / "drive_ch.npz")

    @functools.cached_property
    def street_names(self) -> list[str]:
        """Street names by id (id 0 is the empty name)."""
        return [str(s) for s in self.streets["name"].tolist()]

    @functools.cached_property
    def districts(self) -> list[tuple[str, BaseGeometry]]:
        """Named district polygons shipped with the pack (WGS84), possibly empty."""
        path = self.path / "districts.geojson"
        if not path.exists():
            return []
        from arverne.geo.districts import read_districts

        return read_districts(path)

    def graph(self, mode: str) -> RoadGraph:
        """Return the ``"drive"`` or ``"walk"`` graph."""
        if mode == "drive":
            return self.drive
        if mode == "walk":
            if self.walk is None:
                raise ValueError(f"the pack {self.name} has no walk graph; use mode='drive'")
            return self.walk
        raise ValueError(f"mode={mode!r} is not supported; use 'drive' or 'walk'")

    def reverse_index(self) -> ReverseIndex:
        """Nearest named street and address index (built on first use)."""
        found: ReverseIndex | None = self.__dict__.get("_reverse_index")
        if found is None:
            from arverne.geo.geocode_index import ReverseIndex

            found = ReverseIndex(self)
            self.__dict__["_reverse_index"] = found
        return found

    def snapper(self, mode: str) -> EdgeSnapper:
        """Nearest-edge index of a graph (built on first use)."""
        cache: dict[str, EdgeSnapper] = self.__dict__.setdefault("_snappers", {})
        if mode not in cache:
            from arverne.geo.snap import EdgeSnapper

            cache[mode] = EdgeSnapper(self.graph(mode), self.boundary_metric)
        return cache[mode]


def load_pack(path: str | Path) -> CityPack:
    """Load a city pack directory.

    Parameters
    ----------
    path
        Directory written by :func:`build_pack` or :func:`~arverne.geo.demo_city.build_demo_pack`.

    Returns
    -------
    CityPack

    Raises
    ------
    CityPackError
        When the directory is missing, incomplete or of another format version.
    """
    root = Path(path)
    rebuild = "rebuild it with `arverne city build` (or `arverne city demo`)"
    if not (root / "meta.json").is_file():
        raise CityPackError(
            root, "is not a city pack (no meta.json)", "check the path or " + rebuild
        )
    try:
        meta = read_json(root / "meta.json", what="pack metadata")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise CityPackError(
                root, f"has format version {version}, expected {FORMAT_VERSION}", rebuild
            )
        drive = RoadGraph.load(root / "drive.npz", mode="drive")
        walk_path = root / "walk.npz"
        walk = RoadGraph.load(walk_path, mode="walk") if walk_path.exists() else None
        streets = pd.read_parquet(root / "streets.parquet")
        addresses = pd.read_parquet(root / "addresses.parquet")
        landmarks = pd.read_parquet(root / "landmarks.parquet")
        boundary = load_area(root / "boundary.geojson")
    except CityPackError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise CityPackError(root, f"is damaged or incomplete ({exc})", rebuild) from exc
    return CityPack(root, meta, drive, walk, streets, addresses, landmarks, boundary)


def pack_info(pack: CityPack) -> dict[str, Any]:
    """Summarise a pack: name, CRS, counts, extent, flags.

    Parameters
    ----------
    pack
        A loaded pack.

    Returns
    -------
    dict
        Plain JSON-serialisable values.
    """
    meta = pack.meta
    return {
        "name": pack.name,
        "path": str(pack.path),
        "format_version": meta["format_version"],
        "crs": meta["crs"]["name"],
        "synthetic": pack.synthetic,
        "note": meta.get("note", ""),
        "built_at": meta["built_at"],
        "source_file": meta["source"]["file"],
        "source_sha256": meta["source"]["sha256"],
        "emergency_factor": pack.emergency_factor,
        "boundary_source": meta.get("boundary_source", ""),
        "extent": list(meta["extent"]),
        "counts": dict(meta["counts"]),
    }
