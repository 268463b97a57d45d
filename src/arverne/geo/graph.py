"""The road graph of a city pack: columnar arrays, their storage and derived structures.

A graph has three tables, all numpy arrays:

* **nodes** (junctions and dead ends): OSM id, WGS84 lon/lat, metric x/y;
* **links** (a street piece between two nodes, undirected, with its full geometry):
  end nodes ``u``/``v``, ``length_m``, street name id, highway class id, the slice of the
  geometry arrays holding its points (``geom_ptr``), and the arcs travelling it forward
  (u to v) and backward (v to u), -1 where that direction is not allowed (oneways);
* **arcs** (directed, what routing uses): ``u``, ``v``, link, direction, ``length_m``,
  ``speed_kmh`` and ``travel_time_s`` (normal driving or walking, never emergency).

Derived structures (sparse matrices, arc look-up) are built on first use, so that loading a
pack stays fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

MIN_ARC_TIME_S = 1e-3  # csgraph ignores zero weights; a millisecond changes no ranking

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
I32 = NDArray[np.int32]


@dataclass(eq=False)
class RoadGraph:
    """Directed road graph of one travel mode (``"drive"`` or ``"walk"``)."""

    mode: str
    highway_classes: NDArray[np.str_]
    node_osm_id: I64
    node_lon: F64
    node_lat: F64
    node_x: F64
    node_y: F64
    link_u: I32
    link_v: I32
    link_length_m: F64
    link_name_id: I32
    link_highway_id: NDArray[np.int16]
    link_geom_ptr: I64
    link_fwd_arc: I32
    link_bwd_arc: I32
    geom_lon: F64
    geom_lat: F64
    geom_x: F64
    geom_y: F64
    arc_u: I32
    arc_v: I32
    arc_link: I32
    arc_forward: NDArray[np.bool_]
    arc_length_m: F64
    arc_speed_kmh: F64
    arc_travel_time_s: F64

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x.size)

    @property
    def n_links(self) -> int:
        """Number of links (undirected street pieces)."""
        return int(self.link_u.size)

    @property
    def n_arcs(self) -> int:
        """Number of directed arcs."""
        return int(self.arc_u.size)

    def save(self, path: Path) -> None:
        """Write the graph as one uncompressed ``.npz`` (no pickled objects)."""
        arrays: dict[str, Any] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "mode"
        }
        with path.open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: Path, *, mode: str) -> RoadGraph:
        """Read a graph written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {f.name: data[f.name] for f in fields(cls) if f.name != "mode"}
        return cls(mode=mode, **arrays)

    # -- derived structures -------------------------------------------------------------

    @functools.cached_property
    def best_arc(self) -> tuple[I64, I64]:
        """Fastest arc for each (u, v) pair: sorted keys ``u * n + v`` and arc indices."""
        keys = self.arc_u.astype(np.int64) * self.n_nodes + self.arc_v
        order = np.lexsort((self.arc_travel_time_s, keys))
        sorted_keys = keys[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = sorted_keys[1:] != sorted_keys[:-1]
        return sorted_keys[first], order[first].astype(np.int64)

    def arcs_between(self, u: I64, v: I64) -> I64:
        """Indices of the fastest arc from each ``u[i]`` to ``v[i]`` (-1 where none)."""
        keys, arcs = self.best_arc
        wanted = np.asarray(u, dtype=np.int64) * self.n_nodes + np.asarray(v, dtype=np.int64)
        pos = np.clip(np.searchsorted(keys, wanted), 0, max(keys.size - 1, 0))
        found = keys[pos] == wanted if keys.size else np.zeros(wanted.size, dtype=bool)
        return np.where(found, arcs[pos], -1)

    def _matrix(self, *, reverse: bool) -> sp.csr_matrix:
        _, arcs = self.best_arc
        weight = np.maximum(self.arc_travel_time_s[arcs], MIN_ARC_TIME_S)
        rows, cols = self.arc_u[arcs], self.arc_v[arcs]
        if reverse:
            rows, cols = cols, rows
        return sp.csr_matrix((weight, (rows, cols)), shape=(self.n_nodes, self.n_nodes))

    @functools.cached_property
    def matrix(self) -> sp.csr_matrix:
        """Travel-time adjacency matrix (row = from node), fastest arc per node pair."""
        return self._matrix(reverse=False)

    @functools.cached_property
    def matrix_reversed(self) -> sp.csr_matrix:
        """Transpose of :attr:`matrix`: searches from a target over reversed arcs."""
        return self._matrix(reverse=True)

    def link_points(self, link: int) -> tuple[F64, F64]:
        """Metric x, y of a link's points, from ``u`` to ``v``."""
        start, end = int(self.link_geom_ptr[link]), int(self.link_geom_ptr[link + 1])
        return self.geom_x[start:end], self.geom_y[start:end]

    def link_lonlat(self, link: int) -> tuple[F64, F64]:
        """WGS84 lon, lat of a link's points, from ``u`` to ``v``."""
        start, end = int(self.link_geom_ptr[link]), int(self.link_geom_ptr[link + 1])
        return self.geom_lon[start:end], self.geom_lat[start:end]

    def extent(self) -> tuple[float, float, float, float]:
        """WGS84 bounding box (min lon, min lat, max lon, max lat) of the geometry."""
        if self.geom_lon.size == 0:
            return (0.0, 0.0, 0.0, 0.0)
        return (
            float(self.geom_lon.min()),
            float(self.geom_lat.min()),
            float(self.geom_lon.max()),
            float(self.geom_lat.max()),
        )
