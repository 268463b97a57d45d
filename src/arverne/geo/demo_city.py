"""The Clermont-Ferrand demo city: a generated street network written as OSM XML.

No street data of Clermont-Ferrand is available to the project, so the demo generates a
plausible network over the city's extent (see :mod:`arverne.geo.demo_layout`), puts house
numbers along every street, places real landmarks at their real positions, and feeds the
result to the same importer as real data (:func:`arverne.geo.pack.build_pack`). The pack
is flagged ``synthetic`` with a note saying the streets are generated.
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from arverne.geo import demo_data as data
from arverne.geo.demo_layout import Layout, Street
from arverne.geo.geojson import feature, write_feature_collection
from arverne.geo.pack import Progress, build_pack

DEMO_NAME = "Clermont-Ferrand (demo)"
DEMO_NOTE = "streets are generated; landmark positions are real (approximate)"
DEFAULT_SEED = 63000
TRIM_M = 70.0
ADDRESS_SPACING_M = 45.0
ADDRESS_SETBACK_M = 9.0
F64 = NDArray[np.float64]
_SHOP_TAGS = {
    "Boulangerie": "bakery", "Pharmacie": "chemist", "Librairie": "books",
    "Fromagerie": "cheese", "Fleuriste": "florist", "Boucherie": "butcher",
    "Tabac-Presse": "tobacco", "Opticien": "optician", "Bijouterie": "jewelry",
    "Chaussures": "shoes", "Épicerie fine": "deli", "Pâtisserie": "pastry",
}  # fmt: skip
SHOPPING_STREETS = ("Rue du 11 Novembre", "Rue des Gras", "Rue Blatin", "Avenue des États-Unis")


@dataclass
class DemoCity:
    """What :func:`generate_city_osm` wrote, for building the pack."""

    osm_path: Path
    boundary: BaseGeometry
    districts: list[tuple[str, BaseGeometry]]
    streets: int
    addresses: int


def _node_streets(streets: list[Street]) -> tuple[F64, list[NDArray[np.int64]]]:
    """Insert every street crossing as a shared point; return points and per-street refs."""
    lines = np.array([shapely.LineString(s.xy) for s in streets], dtype=object)
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    crossing = shapely.intersection(lines[left], lines[right])
    parts, pair = shapely.get_parts(crossing, return_index=True)
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    owner_a, owner_b = left[pair[part_of]], right[pair[part_of]]
    key = np.round(coords * 100).astype(np.int64)
    unique_key, point_id = np.unique(key, axis=0, return_inverse=True)
    point_id = point_id.ravel()
    shared_xy = unique_key / 100.0
    owners = np.concatenate([owner_a, owner_b])
    ids = np.concatenate([point_id, point_id])
    positions = shapely.line_locate_point(lines[owners], shapely.points(shared_xy[ids]))
    by_street: dict[int, list[int]] = defaultdict(list)
    for k, owner in enumerate(owners.tolist()):
        by_street[owner].append(k)
    points = [shared_xy]
    next_id = shared_xy.shape[0]
    refs: list[NDArray[np.int64]] = []
    for i, street in enumerate(streets):
        xy = street.xy
        cumulative = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        members = np.asarray(by_street.get(i, []), dtype=np.int64)
        cross_pos, cross_id = positions[members], ids[members]
        if cross_pos.size:
            near = np.min(np.abs(cumulative[:, None] - cross_pos[None, :]), axis=1) < 0.05
        else:
            near = np.zeros(cumulative.size, dtype=bool)
        vertex_pos = cumulative[~near]
        vertex_id = np.arange(next_id, next_id + vertex_pos.size)
        points.append(xy[~near])
        next_id += vertex_pos.size
        pos = np.concatenate([vertex_pos, cross_pos])
        ref = np.concatenate([vertex_id, cross_id])
        order = np.argsort(pos, kind="stable")
        ref = ref[order]
        distinct = np.ones(ref.size, dtype=bool)
        distinct[1:] = ref[1:] != ref[:-1]
        refs.append(ref[distinct])
    return np.concatenate(points), refs


def _trim(streets: list[Street], refs: list[NDArray[np.int64]], xy: F64) -> list[NDArray[np.int64]]:
    """Cut dangling overhangs (< 70 m past the last crossing) of grid and connector streets."""
    counts = np.bincount(np.concatenate(refs), minlength=xy.shape[0])
    trimmed = []
    for street, ref in zip(streets, refs, strict=True):
        if street.trim:
            shared = np.flatnonzero(counts[ref] >= 2)
            if shared.size == 0:
                trimmed.append(ref[:0])
                continue
            steps = np.hypot(*np.diff(xy[ref], axis=0).T)
            along = np.concatenate([[0.0], np.cumsum(steps)])
            first, last = int(shared[0]), int(shared[-1])
            start = first if along[first] < TRIM_M else 0
            end = last if along[-1] - along[last] < TRIM_M else ref.size - 1
            ref = ref[start : end + 1]
        trimmed.append(ref if ref.size >= 2 else ref[:0])
    return trimmed


def _address_points(xy: F64, spacing_m: float) -> Iterator[tuple[int, F64, F64]]:
    """Yield (slot, left point, right point) along a polyline every ``spacing_m``."""
    line = shapely.LineString(xy)
    length = float(line.length)
    for slot, s in enumerate(np.arange(spacing_m / 2, length - 5.0, spacing_m)):
        a = np.array(line.interpolate(s).coords[0])
        b = np.array(line.interpolate(min(s + 2.0, length)).coords[0])
        direction = (b - a) / max(float(np.hypot(*(b - a))), 1e-9)
        normal = np.array([-direction[1], direction[0]]) * ADDRESS_SETBACK_M
        yield slot, a + normal, a - normal


class _OsmWriter:
    """Streams OSM XML (nodes first, then ways)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.next_node = 1
        self.next_way = 1

    def node(self, xy: F64, tags: dict[str, str] | None = None) -> int:
        lon, lat = self.layout.projector.to_lonlat(xy[0], xy[1])
        node_id = self.next_node
        self.next_node += 1
        head = f'  <node id="{node_id}" version="1" lat="{float(lat):.7f}" lon="{float(lon):.7f}"'
        self.nodes.append(head + ("/>" if not tags else ">" + _tags(tags) + "</node>"))
        return node_id

    def bulk_nodes(self, xy: F64) -> int:
        lon, lat = self.layout.projector.to_lonlat(xy[:, 0], xy[:, 1])
        first = self.next_node
        for k, (a, b) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
            self.nodes.append(f'  <node id="{first + k}" version="1" lat="{b:.7f}" lon="{a:.7f}"/>')
        self.next_node += xy.shape[0]
        return first

    def way(self, refs: list[int], tags: dict[str, str]) -> None:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        self.ways.append(f'  <way id="{self.next_way}" version="1">{nds}{_tags(tags)}</way>')
        self.next_way += 1

    def write(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as handle:
            handle.write("<?xml version='1.0' encoding='UTF-8'?>\n")
            handle.write('<osm version="0.6" generator="arverne demo_city">\n')
            handle.write("\n".join(self.nodes))
            handle.write("\n")
            handle.write("\n".join(self.ways))
            handle.write("\n</osm>\n")


def _tags(tags: dict[str, str]) -> str:
    return "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())


def _write_addresses(writer: _OsmWriter, streets: list[Street], rng: np.random.Generator) -> int:
    slots_used: dict[str, int] = defaultdict(int)
    count = 0
    shops = 0
    for street in streets:
        if not street.addresses or street.xy.shape[0] < 2:
            continue
        base = slots_used[street.name]
        slot = -1
        for slot, left, right in _address_points(street.xy, ADDRESS_SPACING_M):
            for number, point in ((2 * (base + slot) + 1, left), (2 * (base + slot) + 2, right)):
                tags = {
                    "addr:housenumber": str(number),
                    "addr:street": street.name,
                    "addr:postcode": "63000",
                    "addr:city": "Clermont-Ferrand",
                }
                if street.name in SHOPPING_STREETS and shops < 80 and rng.random() < 0.35:
                    kind = str(rng.choice(list(_SHOP_TAGS)))
                    tags.update(shop=_SHOP_TAGS[kind], name=f"{kind} {rng.choice(data.SURNAMES)}")
                    shops += 1
                    writer.node(point, tags)
                elif count % 10 == 0:
                    corners = point + np.array([[-5.0, -5], [5, -5], [5, 5], [-5, 5]])
                    first = writer.bulk_nodes(corners)
                    tags["building"] = "house"
                    writer.way([first, first + 1, first + 2, first + 3, first], tags)
                else:
                    writer.node(point, tags)
                count += 1
        slots_used[street.name] = base + slot + 1
    return count


def _write_landmarks(writer: _OsmWriter, layout: Layout, streets: list[Street]) -> None:
    for name, tags, lon, lat in data.LANDMARKS:
        writer.node(layout.point((lon, lat)), {**tags, "name": name})
    for name, kind, lon, lat in data.NIGHTLIFE:
        writer.node(layout.point((lon, lat)), {"amenity": kind, "name": name})
    for name, lon, lat in data.TRAM_STOPS:
        tags = {"railway": "tram_stop", "public_transport": "platform", "name": name}
        writer.node(layout.point((lon, lat)), tags)
    radials = {name for name, *_ in data.RADIALS}
    lines = [shapely.LineString(s.xy) for s in streets]
    tree = shapely.STRtree(lines)
    for street in streets:
        if street.name not in radials:
            continue
        line = shapely.LineString(street.xy)
        for s in np.arange(300.0, line.length, 450.0):
            point = np.array(line.interpolate(s).coords[0]) + 6.0
            near = tree.query(shapely.Point(point).buffer(120.0))
            others = [i for i in near.tolist() if streets[i].name != street.name]
            if not others:
                continue
            best = min(others, key=lambda i: lines[i].distance(shapely.Point(point)))
            stop = streets[best].name.split(" ", 1)[-1]
            writer.node(point, {"highway": "bus_stop", "name": stop})
    rng = layout.rng
    residential = [s for s in streets if s.tags.get("highway") == "residential"]
    for eponym in rng.choice(data.EPONYMS, size=min(10, len(residential)), replace=False):
        street = residential[int(rng.integers(len(residential)))]
        point = street.xy[street.xy.shape[0] // 2] + 15.0
        writer.node(point, {"amenity": "school", "name": f"École élémentaire {eponym}"})


def _districts(layout: Layout, boundary_xy: BaseGeometry) -> list[tuple[str, BaseGeometry]]:
    seeds = np.array([layout.point((lon, lat)) for _, lon, lat in data.QUARTERS])
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=boundary_xy, ordered=True)
    result = []
    for (name, _, _), cell in zip(data.QUARTERS, shapely.get_parts(cells), strict=True):
        clipped = shapely.intersection(cell, boundary_xy)
        if not clipped.is_empty:
            result.append((name, layout.projector.geometry_to_lonlat(clipped)))
    return result


def generate_city_osm(
    path: str | Path, *, seed: int = DEFAULT_SEED, scale: float = 1.0
) -> DemoCity:
    """Generate the demo city's streets, addresses and landmarks as an OSM XML file.

    Parameters
    ----------
    path
        Where to write the ``.osm`` file.
    seed
        Random seed (same seed, same city).
    scale
        Area multiplier of the base extent (1.0 is Clermont-Ferrand's size, about
        7 km x 7 km).

    Returns
    -------
    DemoCity
        The file, the boundary (WGS84) and the quarters to use as districts.
    """
    if not 0.1 <= scale <= 50.0:
        raise ValueError(f"scale={scale} is out of range; give a value between 0.1 and 50")
    layout = Layout(seed, scale)
    streets = layout.generate()
    xy, refs = _node_streets(streets)
    refs = _trim(streets, refs, xy)
    writer = _OsmWriter(layout)
    used = np.unique(np.concatenate([r for r in refs if r.size]))
    first = writer.bulk_nodes(xy[used])
    node_of = np.full(xy.shape[0], -1, dtype=np.int64)
    node_of[used] = np.arange(first, first + used.size)
    kept = []
    for street, ref in zip(streets, refs, strict=True):
        if ref.size >= 2:
            writer.way(node_of[ref].tolist(), street.tags)
            kept.append(Street(xy[ref], street.name, street.tags, street.trim, street.addresses))
    addresses = _write_addresses(writer, kept, layout.rng)
    _write_landmarks(writer, layout, kept)
    target = Path(path)
    writer.write(target)
    boundary_xy = layout.box
    boundary = layout.projector.geometry_to_lonlat(shapely.segmentize(boundary_xy, 200.0))
    return DemoCity(target, boundary, _districts(layout, boundary_xy), len(kept), addresses)


def build_demo_pack(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Build the Clermont-Ferrand demo city pack (generated streets, real landmarks).

    Parameters
    ----------
    out_dir
        Pack directory to create.
    seed
        Random seed; the same seed gives the same city.
    scale
        Area multiplier (1.0 for the real city's size; larger for benchmarks).
    overwrite
        Replace an existing pack.
    progress
        Called with (stage, fraction done).

    Returns
    -------
    pathlib.Path
        The pack directory, flagged ``synthetic`` in its ``meta.json``.
    """
    report = progress or (lambda stage, fraction: None)
    with tempfile.TemporaryDirectory(prefix="arverne-demo-") as work:
        report("generating streets", 0.0)
        city = generate_city_osm(Path(work) / "clermont-demo.osm", seed=seed, scale=scale)
        districts_path = Path(work) / "quartiers.geojson"
        write_feature_collection(
            districts_path, [feature(g, {"name": n}) for n, g in city.districts]
        )
        report("generating streets", 1.0)
        suffix = "" if math.isclose(scale, 1.0) else f" x{scale:g}"
        return build_pack(
            city.osm_path,
            name=DEMO_NAME if not suffix else f"Generated city{suffix}",
            out_dir=out_dir,
            boundary=city.boundary,
            districts=districts_path,
            synthetic=True,
            note=f"{DEMO_NOTE}; seed {seed}, scale {scale:g}",
            overwrite=overwrite,
            progress=report,
        )
