"""Snapping points to the nearest street piece (edge), not to the nearest junction.

A point is projected on the closest segment of the closest link; the result keeps the
offset along the link, so a route starting mid-street pays only the part of the link it
actually travels, and the snapping distance, so callers can refuse points far from any
road. Points farther than ``max_snap_m`` from the road, or farther than that from the
pack's boundary, are flagged (``ok`` false); :meth:`EdgeSnapper.snap_one` raises
:class:`~arverne.geo.errors.SnapError` for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from arverne.geo.errors import SnapError
from arverne.geo.graph import RoadGraph

DEFAULT_MAX_SNAP_M = 250.0
CELL_M = 30.0
REACHES = (1, 6)  # block half-widths tried, in cells, before comparing with every segment
SAME_POINT_M = 1e-6

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Snaps:
    """Snapping results for an array of points (metric CRS unless named lon/lat)."""

    link: I64
    offset_m: F64
    distance_m: F64
    x: F64
    y: F64
    outside: NDArray[np.bool_]
    ok: NDArray[np.bool_]

    def fraction(self, graph: RoadGraph) -> F64:
        """Position along each link, 0 at its ``u`` end and 1 at its ``v`` end."""
        length = graph.link_length_m[self.link]
        return np.divide(self.offset_m, length, out=np.zeros_like(length), where=length > 0)


@dataclass(frozen=True)
class Snap:
    """One snapped point."""

    link: int
    offset_m: float
    distance_m: float
    x: float
    y: float


class EdgeSnapper:
    """Nearest-segment index over a graph's link geometry.

    Why not a k-d tree of points along the segments: a ranking query snaps 200 points, and
    a k-d tree over the million 10 m pieces of a 50k-node city took 0.5 ms of the 2 ms
    budget, mostly cache misses. A uniform grid of square cells, each listing the segments
    whose bounding box touches it, answers with a few contiguous slices per point.

    A query looks at the block of cells around each point. The answer is exact: any
    segment listed in none of the block's cells lies entirely outside the block, so when the
    best distance found is not more than the distance from the point to the block's edge,
    no other segment can be nearer. Points for which that fails (far from every road) try
    a wider block, then every segment.

    Parameters
    ----------
    graph
        The road graph.
    boundary_metric
        The city's area in the graph's metric CRS.
    """

    def __init__(self, graph: RoadGraph, boundary_metric: BaseGeometry) -> None:
        self.graph = graph
        self.boundary = boundary_metric
        shapely.prepare(self.boundary)
        last = graph.link_geom_ptr[1:] - 1
        starts = np.ones(graph.geom_x.size, dtype=bool)
        starts[last] = False
        self._seg_start = np.flatnonzero(starts)
        point_link = np.repeat(np.arange(graph.n_links), np.diff(graph.link_geom_ptr))
        self._seg_link = point_link[self._seg_start]
        step = np.hypot(np.diff(graph.geom_x), np.diff(graph.geom_y))
        cumulative = np.concatenate([[0.0], np.cumsum(step)])
        link_first = graph.link_geom_ptr[:-1][self._seg_link]
        self._seg_offset = cumulative[self._seg_start] - cumulative[link_first]
        a = self._seg_start
        self._ax, self._ay = graph.geom_x[a], graph.geom_y[a]
        self._dx = graph.geom_x[a + 1] - self._ax
        self._dy = graph.geom_y[a + 1] - self._ay
        self._build_grid()

    def _build_grid(self) -> None:
        ax, ay, dx, dy = self._ax, self._ay, self._dx, self._dy
        n_seg = ax.size
        x_lo, x_hi = np.minimum(ax, ax + dx), np.maximum(ax, ax + dx)
        y_lo, y_hi = np.minimum(ay, ay + dy), np.maximum(ay, ay + dy)
        self._x0 = float(x_lo.min()) if n_seg else 0.0
        self._y0 = float(y_lo.min()) if n_seg else 0.0
        width = float(x_hi.max()) - self._x0 if n_seg else 0.0
        height = float(y_hi.max()) - self._y0 if n_seg else 0.0
        # About two cells per segment, never below CELL_M (keeps the blocks' slices short).
        self._cell = max(CELL_M, math.sqrt(width * height / max(2 * n_seg, 1)))
        self._n_cols = int(width // self._cell) + 1
        self._n_rows = int(height // self._cell) + 1
        col_lo, col_hi = self._cell_of(x_lo, self._x0), self._cell_of(x_hi, self._x0)
        row_lo, row_hi = self._cell_of(y_lo, self._y0), self._cell_of(y_hi, self._y0)
        cols = col_hi - col_lo + 1
        count = cols * (row_hi - row_lo + 1)
        k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        cols_rep = np.repeat(cols, count)
        cell = (np.repeat(row_lo, count) + k // cols_rep) * self._n_cols
        cell += np.repeat(col_lo, count) + k % cols_rep
        order = np.argsort(cell, kind="stable")
        seg = np.repeat(np.arange(n_seg), count)[order]
        n_cells = self._n_cols * self._n_rows
        self._cell_ptr = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=n_cells))])
        # Copies in cell order: a block's segments are then read from contiguous memory.
        self._cell_seg = seg
        # One row per entry (ax, ay, dx, dy, squared length): one gather reads all five.
        self._cell_geom = np.column_stack(
            [ax[seg], ay[seg], dx[seg], dy[seg], dx[seg] ** 2 + dy[seg] ** 2]
        )

    def _cell_of(self, value: F64, origin: float) -> I64:
        return np.floor((value - origin) / self._cell).astype(np.int64)

    def _project(self, seg: I64, px: F64, py: F64) -> tuple[F64, F64]:
        """Parameter along each segment (0..1) and distance of each point to it."""
        dx, dy = self._dx[seg], self._dy[seg]
        norm = dx * dx + dy * dy
        t = np.divide(
            (px - self._ax[seg]) * dx + (py - self._ay[seg]) * dy,
            norm,
            out=np.zeros_like(norm),
            where=norm > 0,
        )
        t = np.clip(t, 0.0, 1.0)
        distance = np.hypot(px - (self._ax[seg] + t * dx), py - (self._ay[seg] + t * dy))
        return t, distance

    def _block_search(
        self, px: F64, py: F64, reach: int
    ) -> tuple[I64, F64, F64, NDArray[np.bool_]]:
        """Nearest segment among the cells within ``reach`` cells of each point.

        Returns the segment (-1 when the block holds none), the parameter along it and the
        distance to it, and whether it is sure: its distance is at most the distance from
        the point to the edge of the block.
        """
        size = 2 * reach + 1
        col, row = self._cell_of(px, self._x0), self._cell_of(py, self._y0)
        rows = row[:, None] + np.arange(-reach, reach + 1)[None, :]
        col_lo = np.maximum(col - reach, 0)[:, None]
        col_hi = np.minimum(col + reach, self._n_cols - 1)[:, None]
        valid = (rows >= 0) & (rows < self._n_rows) & (col_lo <= col_hi)
        first = np.where(valid, rows * self._n_cols + col_lo, 0)
        start = self._cell_ptr[first]
        count = np.where(
            valid, self._cell_ptr[np.where(valid, first + col_hi - col_lo + 1, 0)] - start, 0
        )
        count = count.ravel()
        total = int(count.sum())
        if total == 0:
            none = np.full(px.size, np.inf)
            return np.full(px.size, -1, dtype=np.int64), none, none, np.zeros(px.size, dtype=bool)
        index = np.repeat(start.ravel() - (np.cumsum(count) - count), count) + np.arange(total)
        per_point = count.reshape(px.size, size).sum(axis=1)
        owner = np.repeat(np.arange(px.size), per_point)
        qx, qy = px[owner], py[owner]
        ax, ay, dx, dy, norm = np.take(self._cell_geom, index, axis=0).T
        t = np.divide((qx - ax) * dx + (qy - ay) * dy, norm, out=np.zeros(total), where=norm > 0)
        np.clip(t, 0.0, 1.0, out=t)
        distance = np.hypot(qx - (ax + t * dx), qy - (ay + t * dy))
        found = per_point > 0
        best = np.full(px.size, np.inf)
        group_start = np.cumsum(per_point) - per_point
        best[found] = np.minimum.reduceat(distance, group_start[found])
        hits = np.flatnonzero(distance == best[owner])
        first_hit = hits[np.concatenate([[True], owner[hits[1:]] != owner[hits[:-1]]])]
        seg = np.full(px.size, -1, dtype=np.int64)
        seg[owner[first_hit]] = self._cell_seg[index[first_hit]]
        along = np.zeros(px.size)
        along[owner[first_hit]] = t[first_hit]
        x_lo = self._x0 + (col - reach) * self._cell
        y_lo = self._y0 + (row - reach) * self._cell
        side = size * self._cell
        margin = np.minimum(
            np.minimum(px - x_lo, x_lo + side - px), np.minimum(py - y_lo, y_lo + side - py)
        )
        return seg, along, best, found & (best <= margin)

    def nearest_segments(self, px: F64, py: F64) -> I64:
        """Index of the segment nearest to each metric point (exact)."""
        return self._nearest(np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64))[0]

    def _nearest(self, px: F64, py: F64) -> tuple[I64, F64, F64]:
        """Nearest segment, parameter along it (0..1) and distance, for each point."""
        seg = np.zeros(px.size, dtype=np.int64)
        along, distance = np.zeros(px.size), np.zeros(px.size)
        todo = np.arange(px.size)
        for reach in REACHES:
            if not todo.size:
                return seg, along, distance
            found, t, d, sure = self._block_search(px[todo], py[todo], reach)
            done = todo[sure]
            seg[done], along[done], distance[done] = found[sure], t[sure], d[sure]
            todo = todo[~sure]
        everything = np.arange(self._ax.size)
        for i in todo.tolist():  # far from every road: compare with every segment
            t, d = self._project(
                everything, np.full(everything.size, px[i]), np.full(everything.size, py[i])
            )
            best = int(np.argmin(d))
            seg[i], along[i], distance[i] = best, t[best], d[best]
        return seg, along, distance

    def snap(self, x: ArrayLike, y: ArrayLike, *, max_snap_m: float = DEFAULT_MAX_SNAP_M) -> Snaps:
        """Snap metric points to their nearest link.

        Parameters
        ----------
        x, y
            Metric coordinates (arrays of the same length).
        max_snap_m
            Largest accepted distance to the road and to the boundary.

        Returns
        -------
        Snaps
            One entry per point; ``ok`` is False for points too far or outside.
        """
        px = np.atleast_1d(np.asarray(x, dtype=np.float64))
        py = np.atleast_1d(np.asarray(y, dtype=np.float64))
        seg, t, distance = self._nearest(px, py)
        seg_length = np.hypot(self._dx[seg], self._dy[seg])
        sx, sy = self._ax[seg] + t * self._dx[seg], self._ay[seg] + t * self._dy[seg]
        link = self._seg_link[seg].astype(np.int64)
        offset = np.minimum(self._seg_offset[seg] + t * seg_length, self.graph.link_length_m[link])
        outside = ~np.asarray(shapely.contains_xy(self.boundary, px, py), dtype=bool)
        if outside.any():
            far = shapely.distance(self.boundary, shapely.points(px[outside], py[outside]))
            outside[outside] = np.asarray(far) > max_snap_m
        ok = (distance <= max_snap_m) & ~outside
        return Snaps(link, offset, distance, sx, sy, outside, ok)

    def snap_one(
        self,
        x: float,
        y: float,
        *,
        what: str,
        lonlat: tuple[float, float],
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
    ) -> Snap:
        """Snap one metric point or raise :class:`SnapError` naming ``what`` it is."""
        snaps = self.snap([x], [y], max_snap_m=max_snap_m)
        return self.checked(snaps, 0, what=what, lonlat=lonlat, max_snap_m=max_snap_m)

    def checked(
        self, snaps: Snaps, index: int, *, what: str, lonlat: tuple[float, float], max_snap_m: float
    ) -> Snap:
        """Return entry ``index`` of ``snaps``, or raise :class:`SnapError` if it is flagged."""
        if snaps.outside[index]:
            raise SnapError(what, lonlat[0], lonlat[1], "is outside the city's boundary")
        if not snaps.ok[index]:
            raise SnapError(
                what,
                lonlat[0],
                lonlat[1],
                f"is {snaps.distance_m[index]:.0f} m from the nearest {self.graph.mode} road "
                f"(limit {max_snap_m:.0f} m)",
            )
        return Snap(
            int(snaps.link[index]),
            float(snaps.offset_m[index]),
            float(snaps.distance_m[index]),
            float(snaps.x[index]),
            float(snaps.y[index]),
        )


def departures(graph: RoadGraph, link: I64, offset_m: F64) -> tuple[I64, F64, F64]:
    """Ways to leave snapped points onto the network (two columns: towards v, towards u).

    Returns
    -------
    tuple of numpy.ndarray
        ``node`` (n, 2), ``time_s`` (n, 2), ``length_m`` (n, 2); time is inf where the
        direction is not allowed (oneway).
    """
    return _ends(graph, link, offset_m, arriving=False)


def arrivals(graph: RoadGraph, link: I64, offset_m: F64) -> tuple[I64, F64, F64]:
    """Ways to reach snapped points from the network (two columns: from u, from v)."""
    return _ends(graph, link, offset_m, arriving=True)


def _ends(graph: RoadGraph, link: I64, offset_m: F64, *, arriving: bool) -> tuple[I64, F64, F64]:
    link = np.atleast_1d(np.asarray(link, dtype=np.int64))
    length = graph.link_length_m[link]
    fraction = np.divide(np.atleast_1d(offset_m), length, out=np.zeros(link.size), where=length > 0)
    fwd, bwd = graph.link_fwd_arc[link], graph.link_bwd_arc[link]
    fwd_time = np.where(fwd >= 0, graph.arc_travel_time_s[np.maximum(fwd, 0)], np.inf)
    bwd_time = np.where(bwd >= 0, graph.arc_travel_time_s[np.maximum(bwd, 0)], np.inf)
    u, v = graph.link_u[link].astype(np.int64), graph.link_v[link].astype(np.int64)
    if arriving:  # enter the link at u going forward, or at v going backward
        share = np.column_stack([fraction, 1.0 - fraction])
        nodes = np.column_stack([u, v])
    else:  # leave forward towards v, or backward towards u
        share = np.column_stack([1.0 - fraction, fraction])
        nodes = np.column_stack([v, u])
    full = np.column_stack([fwd_time, bwd_time])
    allowed = np.isfinite(full)
    times = np.where(allowed, share * np.where(allowed, full, 0.0), np.inf)
    # A point exactly on a node is at that node whatever the link's direction.
    lengths = share * length[:, None]
    times[lengths <= SAME_POINT_M] = 0.0
    return nodes, times, lengths
