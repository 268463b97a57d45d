"""Small generated OSM towns for the geo tests (no real data, no network).

:func:`write_town_osm` writes a 5 x 5 grid of named streets (100 m blocks) in
Clermont-Ferrand's area, so the pack uses Lambert-93. It has a oneway street, a footway
diagonal, a oneway dead end (outside the drive graph's strongly connected component),
house numbers, and landmarks. :func:`write_grid_osm` writes a larger random grid.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

LON0, LAT0 = 3.08, 45.77
DLON, DLAT = 0.00129, 0.0009  # about 100 m each way at this latitude

ROWS = (
    ("Rue Blatin", {"highway": "residential", "maxspeed": "30"}),
    ("Boulevard Côte-Blatin", {"highway": "primary", "maxspeed": "50"}),
    ("Rue de la Rotonde", {"highway": "residential", "maxspeed": "30", "oneway": "yes"}),
    ("Avenue des États-Unis", {"highway": "secondary"}),
    ("Rue Saint-Esprit", {"highway": "residential", "zone:maxspeed": "FR:30"}),
)
COLUMNS = (
    ("Rue Pascal", {"highway": "residential", "maxspeed": "30"}),
    ("Rue Gonod", {"highway": "residential", "maxspeed": "30"}),
    ("Rue du Onze Novembre", {"highway": "tertiary", "maxspeed": "50"}),
    ("Rue Ballainvilliers", {"highway": "residential", "maxspeed": "30"}),
    ("Avenue Julien", {"highway": "secondary", "maxspeed": "50"}),
)


def grid_lonlat(row: float, col: float) -> tuple[float, float]:
    """WGS84 position of a (fractional) grid position of the town."""
    return LON0 + col * DLON, LAT0 + row * DLAT


def node_id(row: int, col: int) -> int:
    """OSM id of the town's junction at (row, col)."""
    return 1 + row * 10 + col


class OsmXml:
    """Tiny OSM XML writer (nodes, then ways)."""

    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.ways: list[str] = []
        self.relations: list[str] = []
        self._next_way = 1000
        self._next_node = 5000

    def node(
        self, lon: float, lat: float, tags: dict[str, str] | None = None, osm_id: int | None = None
    ) -> int:
        if osm_id is None:
            osm_id = self._next_node
            self._next_node += 1
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in (tags or {}).items())
        self.nodes.append(
            f'<node id="{osm_id}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">{body}</node>'
        )
        return osm_id

    def way(self, refs: list[int], tags: dict[str, str]) -> int:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        self.ways.append(f'<way id="{self._next_way}" version="1">{nds}{body}</way>')
        self._next_way += 1
        return self._next_way - 1

    def relation(self, way_ids: list[int], tags: dict[str, str]) -> None:
        members = "".join(f'<member type="way" ref="{w}" role="outer"/>' for w in way_ids)
        body = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        self.relations.append(
            f'<relation id="{self._next_way}" version="1">{members}{body}</relation>'
        )
        self._next_way += 1

    def write(self, path: Path) -> Path:
        text = "\n".join(
            [
                "<?xml version='1.0' encoding='UTF-8'?>",
                '<osm version="0.6" generator="arverne tests">',
                *self.nodes,
                *self.ways,
                *self.relations,
                "</osm>",
            ]
        )
        path.write_text(text + "\n", encoding="utf-8")
        return path


def write_town_osm(path: Path, *, admin_area: bool = False) -> Path:
    """Write the 5 x 5 test town as OSM XML and return the path.

    With ``admin_area`` the file also holds a ``boundary=administrative`` relation named
    "Quartier Nord" around the two northern rows (rows 3 and 4).
    """
    osm = OsmXml()
    if admin_area:
        (a, b), (c, d) = grid_lonlat(2.5, -0.5), grid_lonlat(4.5, 4.5)
        ring = [osm.node(x, y) for x, y in ((a, b), (c, b), (c, d), (a, d))]
        way = osm.way([*ring, ring[0]], {"boundary": "administrative"})
        osm.relation(
            [way],
            {
                "type": "boundary",
                "boundary": "administrative",
                "admin_level": "10",
                "name": "Quartier Nord",
            },
        )
    for row in range(5):
        for col in range(5):
            osm.node(*grid_lonlat(row, col), osm_id=node_id(row, col))
    for row, (name, tags) in enumerate(ROWS):
        osm.way([node_id(row, c) for c in range(5)], {**tags, "name": name})
    for col, (name, tags) in enumerate(COLUMNS):
        osm.way([node_id(r, col) for r in range(5)], {**tags, "name": name})
    # Footway diagonal: a pedestrian shortcut, not for cars.
    osm.way([node_id(0, 0), node_id(1, 1)], {"highway": "footway", "name": "Passage des Jacobins"})
    # Oneway dead end: cars can enter but not leave, so it is outside the drive SCC.
    end = osm.node(*grid_lonlat(5, 4), osm_id=100)
    osm.way(
        [node_id(4, 4), end],
        {"highway": "residential", "oneway": "yes", "name": "Impasse du Cul-de-Sac"},
    )
    # House numbers along Rue Blatin (odd south, even north, about 11 m off the street).
    for k in range(4):
        lon, lat = grid_lonlat(0, 0.25 + 0.5 * k)
        for number, side in ((2 * k + 1, -0.00010), (2 * k + 2, 0.00010)):
            tags = {"addr:housenumber": str(number), "addr:street": "Rue Blatin"}
            osm.node(lon, lat + side, tags)
    # A building with an address on Avenue des États-Unis.
    lon, lat = grid_lonlat(3.15, 2.5)
    corners = [osm.node(lon + dx, lat + dy) for dx, dy in ((0, 0), (2e-4, 0), (2e-4, 1e-4))]
    osm.way(
        [*corners, corners[0]],
        {
            "building": "yes",
            "addr:housenumber": "12 bis",
            "addr:street": "Avenue des États-Unis",
            "addr:postcode": "63000",
            "addr:city": "Clermont-Ferrand",
        },
    )
    osm.node(*grid_lonlat(2.15, 2.2), {"amenity": "police", "name": "Hôtel de police"})
    osm.node(*grid_lonlat(3.2, 4.1), {"railway": "station", "name": "Gare de Clermont-Ferrand"})
    osm.node(*grid_lonlat(1.3, 2.5), {"place": "square", "name": "Place de Jaude"})
    osm.node(*grid_lonlat(0.5, 3.5), {"amenity": "bar", "name": "Le Café de la Place"})
    lon, lat = grid_lonlat(3.5, 0.5)
    ring = [osm.node(lon + dx, lat + dy) for dx, dy in ((0, 0), (3e-4, 0), (3e-4, 2e-4))]
    osm.way([*ring, ring[0]], {"amenity": "hospital", "name": "CHU Gabriel-Montpied"})
    return osm.write(path)


def write_grid_osm(path: Path, *, size: int = 20, seed: int = 1) -> Path:
    """Write a ``size`` x ``size`` random grid (oneways, mixed speeds) as OSM XML."""
    rng = np.random.default_rng(seed)
    osm = OsmXml()
    ids = np.arange(size * size).reshape(size, size) + 1
    for row in range(size):
        for col in range(size):
            jitter = rng.uniform(-0.1, 0.1, size=2)
            osm.node(*grid_lonlat(row + jitter[0], col + jitter[1]), osm_id=int(ids[row, col]))
    lines = [ids[row, :] for row in range(size)] + [ids[:, col] for col in range(size)]
    for k, refs in enumerate(lines):
        # Split each line into a few ways with their own direction and speed.
        cuts = sorted(rng.choice(np.arange(1, size - 1), size=2, replace=False).tolist())
        for lo, hi in zip([0, *cuts], [*cuts, size - 1], strict=True):
            tags = {
                "highway": str(rng.choice(["residential", "tertiary", "primary"])),
                "maxspeed": str(int(rng.choice([30, 50, 70]))),
                "name": f"Rue {k}",
            }
            if k % 4 == 1:
                tags["oneway"] = "yes" if rng.random() < 0.5 else "-1"
            osm.way([int(r) for r in refs[lo : hi + 1]], tags)
    return osm.write(path)


def districts_geojson() -> dict[str, object]:
    """Two districts splitting the town west / east at column 2."""

    def box(c0: float, c1: float) -> list[list[list[float]]]:
        (a, b), (c, d) = grid_lonlat(-1, c0), grid_lonlat(6, c1)
        return [[[a, b], [c, b], [c, d], [a, d], [a, b]]]

    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Ouest"},
                "geometry": {"type": "Polygon", "coordinates": box(-1, 2)},
            },
            {
                "type": "Feature",
                "properties": {"name": "Est"},
                "geometry": {"type": "Polygon", "coordinates": box(2, 6)},
            },
        ],
    }
