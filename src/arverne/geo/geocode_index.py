"""Search structures of the geocoder, built once from a city pack.

* one :class:`StreetEntry` per normalised street name (from both graphs and from the
  addresses): display name, type and distinctive part, a representative point, the graph
  nodes it touches (for intersections) and its house numbers;
* landmarks with their normalised names and kinds;
* a nearest-named-street index and an address k-d tree for reverse geocoding.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from arverne.geo.pack import CityPack
from arverne.geo.text import split_street

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass
class StreetEntry:
    """Everything the geocoder knows about one street name."""

    key: str
    name: str
    street_type: str
    rest: str
    x: float
    y: float
    nodes: dict[str, I64] = field(default_factory=dict)
    numbers: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    suffixes: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    address_x: F64 = field(default_factory=lambda: np.zeros(0))
    address_y: F64 = field(default_factory=lambda: np.zeros(0))


def _link_table(pack: CityPack) -> pd.DataFrame:
    frames = []
    keys = pack.streets["key"].to_numpy()
    for graph in (pack.drive, pack.walk):
        if graph is None:
            continue
        named = np.flatnonzero(graph.link_name_id > 0)
        mid = (graph.link_geom_ptr[named] + graph.link_geom_ptr[named + 1] - 1) // 2
        frames.append(
            pd.DataFrame(
                {
                    "mode": graph.mode,
                    "link": named,
                    "name_id": graph.link_name_id[named],
                    "key": keys[graph.link_name_id[named]],
                    "u": graph.link_u[named].astype(np.int64),
                    "v": graph.link_v[named].astype(np.int64),
                    "x": graph.geom_x[mid],
                    "y": graph.geom_y[mid],
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _representative(x: F64, y: F64) -> tuple[float, float]:
    """The point closest to the centroid (stays on the street, unlike the centroid)."""
    cx, cy = float(x.mean()), float(y.mean())
    best = int(np.argmin((x - cx) ** 2 + (y - cy) ** 2))
    return float(x[best]), float(y[best])


def _groups(keys: NDArray[np.object_]) -> Iterator[tuple[str, I64]]:
    """(key, row indices) per distinct key, in order of first appearance (no pandas groupby)."""
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for key, rows in zip(uniques, np.split(order, bounds), strict=True):
        yield str(key), rows


def build_streets(pack: CityPack) -> dict[str, StreetEntry]:
    """One entry per normalised street name found in the graphs or the addresses."""
    entries: dict[str, StreetEntry] = {}
    names = pack.street_names
    links = _link_table(pack)
    if not links.empty:
        name_id = links["name_id"].to_numpy()
        lx, ly = links["x"].to_numpy(), links["y"].to_numpy()
        ends = np.column_stack([links["u"].to_numpy(), links["v"].to_numpy()])
        modes = links["mode"].to_numpy().astype(str)
        for key, rows in _groups(links["key"].to_numpy()):
            display = names[int(np.bincount(name_id[rows]).argmax())]
            street_type, rest = split_street(key)
            x, y = _representative(lx[rows], ly[rows])
            entry = StreetEntry(key, display, street_type, rest, x, y)
            for mode in ("drive", "walk"):
                chosen = rows[modes[rows] == mode]
                if chosen.size:
                    entry.nodes[mode] = np.unique(ends[chosen])
            entries[key] = entry
    addresses = pack.addresses
    if len(addresses):
        ax, ay = addresses["x"].to_numpy(), addresses["y"].to_numpy()
        numbers = addresses["number"].to_numpy().astype(np.int64)
        suffixes = addresses["suffix"].to_numpy().astype(str)
        labels = addresses["housenumber"].to_numpy().astype(str)
        streets = addresses["street"].to_numpy().astype(str)
        for key, rows in _groups(addresses["street_key"].to_numpy()):
            if key not in entries:
                street_type, rest = split_street(key)
                x, y = _representative(ax[rows], ay[rows])
                entries[key] = StreetEntry(key, str(streets[rows[0]]), street_type, rest, x, y)
            entry = entries[key]
            entry.numbers = numbers[rows]
            entry.suffixes = suffixes[rows].tolist()
            entry.labels = labels[rows].tolist()
            entry.address_x = ax[rows]
            entry.address_y = ay[rows]
    return entries


class ReverseIndex:
    """Nearest named street piece and nearest address of a metric point."""

    def __init__(self, pack: CityPack) -> None:
        self.pack = pack

    @functools.cached_property
    def _streets(self) -> tuple[shapely.STRtree, list[str]]:
        lines: list[BaseGeometry] = []
        labels: list[str] = []
        names = self.pack.street_names
        for graph in (self.pack.drive, self.pack.walk):
            if graph is None:
                continue
            named = np.flatnonzero(graph.link_name_id > 0)
            starts, ends = graph.link_geom_ptr[named], graph.link_geom_ptr[named + 1]
            for link, a, b in zip(named.tolist(), starts.tolist(), ends.tolist(), strict=True):
                lines.append(
                    shapely.LineString(np.column_stack([graph.geom_x[a:b], graph.geom_y[a:b]]))
                )
                labels.append(names[int(graph.link_name_id[link])])
        return shapely.STRtree(lines), labels

    @functools.cached_property
    def _addresses(self) -> cKDTree | None:
        frame = self.pack.addresses
        if not len(frame):
            return None
        return cKDTree(np.column_stack([frame["x"].to_numpy(), frame["y"].to_numpy()]))

    def nearest_street(self, x: float, y: float) -> tuple[str, float, float, float] | None:
        """(name, distance_m, snapped x, snapped y) of the nearest named street piece."""
        tree, labels = self._streets
        if not labels:
            return None
        point = shapely.Point(x, y)
        index = tree.query_nearest(point, all_matches=False)
        line = tree.geometries[int(index[0])]
        snapped = line.interpolate(line.project(point))
        return labels[int(index[0])], float(point.distance(line)), snapped.x, snapped.y

    def nearest_address(
        self, x: float, y: float, street: str | None, *, max_m: float
    ) -> tuple[str, float] | None:
        """(label, distance_m) of the nearest address, preferring the given street."""
        tree = self._addresses
        if tree is None:
            return None
        frame = self.pack.addresses
        k = min(8, len(frame))
        distance, index = tree.query([x, y], k=k, distance_upper_bound=max_m)
        distance, index = np.atleast_1d(distance), np.atleast_1d(index)
        found = [(float(d), int(i)) for d, i in zip(distance, index, strict=True) if np.isfinite(d)]
        if not found:
            return None
        same = [f for f in found if street and frame["street"].iloc[f[1]] == street]
        d, i = (same or found)[0]
        row = frame.iloc[i]
        return f"{row['housenumber']} {row['street']}", d
