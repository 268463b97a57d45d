"""Snapping points to the nearest street piece (edge), not to the nearest junction.

A point is projected on the closest segment of the closest link; the result keeps the
offset along the link, so a route starting mid-street pays only the part of the link it
actually travels, and the snapping distance, so callers can refuse points far from any
road. Points farther than ``max_snap_m`` from the road, or farther than that from the
pack's boundary, are flagged (``ok`` false); :meth:`EdgeSnapper.snap_one` raises
:class:`~arverne.geo.errors.SnapError` for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from arverne.geo.errors import SnapError
from arverne.geo.graph import RoadGraph

DEFAULT_MAX_SNAP_M = 250.0
PIECE_M = 10.0
CANDIDATES = 8
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

    Segments are cut into pieces of at most :data:`PIECE_M` metres whose midpoints go
    into a k-d tree. A query takes the :data:`CANDIDATES` nearest midpoints, projects the
    point on their segments and keeps the closest one. The answer is exact: when the
    farthest candidate midpoint is not far enough to rule out every other segment (the
    k-th midpoint distance minus half a piece is below the best distance found), the point
    falls back to every piece midpoint within that radius.

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
        seg_length = step[a]
        pieces = np.maximum(1, np.ceil(seg_length / PIECE_M).astype(np.int64))
        piece_seg = np.repeat(np.arange(a.size), pieces)
        first_piece = np.concatenate([[0], np.cumsum(pieces)[:-1]])
        rank = np.arange(piece_seg.size) - np.repeat(first_piece, pieces)
        t = (rank + 0.5) / pieces[piece_seg]
        self._piece_seg = piece_seg
        self._half_piece = float(np.max(seg_length / pieces) / 2.0) if a.size else 0.0
        self._kdtree = cKDTree(
            np.column_stack(
                [
                    self._ax[piece_seg] + t * self._dx[piece_seg],
                    self._ay[piece_seg] + t * self._dy[piece_seg],
                ]
            )
        )

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

    def nearest_segments(self, px: F64, py: F64) -> I64:
        """Index of the segment nearest to each metric point (exact)."""
        k = min(CANDIDATES, self._piece_seg.size)
        radius, piece = self._kdtree.query(np.column_stack([px, py]), k=k)
        radius, piece = radius.reshape(px.size, k), piece.reshape(px.size, k)
        candidates = self._piece_seg[piece]
        _, distance = self._project(candidates.ravel(), np.repeat(px, k), np.repeat(py, k))
        distance = distance.reshape(px.size, k)
        pick = np.argmin(distance, axis=1)
        rows = np.arange(px.size)
        seg = candidates[rows, pick]
        best = distance[rows, pick]
        unsure = np.flatnonzero(radius[:, -1] - self._half_piece < best)
        if k == CANDIDATES and unsure.size:
            # Every segment closer than ``best`` has a piece midpoint in this disc.
            discs = self._kdtree.query_ball_point(
                np.column_stack([px[unsure], py[unsure]]), r=best[unsure] + self._half_piece
            )
            for i, near in zip(unsure.tolist(), discs.tolist(), strict=True):
                segs = np.unique(self._piece_seg[np.asarray(near, dtype=np.int64)])
                _, d = self._project(segs, np.full(segs.size, px[i]), np.full(segs.size, py[i]))
                seg[i] = segs[int(np.argmin(d))]
        result: I64 = np.asarray(seg, dtype=np.int64)
        return result

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
        seg = self.nearest_segments(px, py)
        t, distance = self._project(seg, px, py)
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
