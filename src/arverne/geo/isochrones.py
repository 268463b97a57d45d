"""Isochrones: the area reachable from a point within a travel time.

One Dijkstra from the snapped start (bounded by the time budget) gives the arrival time at
every node. Every arc whose tail is reached in time contributes its geometry, cut where
the remaining time runs out (partially reached streets count for the part driven). The
pieces are buffered by ``buffer_m`` (the street and its frontage) and unioned, then
returned in WGS84.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry

from arverne.geo.linegeom import link_piece
from arverne.geo.pack import CityPack
from arverne.geo.routing import check_lonlat
from arverne.geo.snap import DEFAULT_MAX_SNAP_M, departures

DEFAULT_BUFFER_M = 40.0
MAX_MINUTES = 180.0


def reachable_times(
    pack: CityPack,
    lonlat: ArrayLike,
    *,
    limit_s: float,
    mode: str = "drive",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> tuple[np.ndarray, int, float]:
    """Normal travel time from a point to every node, up to ``limit_s`` (inf beyond).

    Returns
    -------
    tuple
        Times per node, and the snapped link and offset of the start.
    """
    start_ll = check_lonlat(lonlat, what="lonlat")
    graph = pack.graph(mode)
    x, y = pack.projector.to_metric(start_ll[0], start_ll[1])
    snap = pack.snapper(mode).snap_one(
        float(x), float(y), what="start", lonlat=start_ll, max_snap_m=max_snap_m
    )
    nodes, times, _ = departures(graph, np.array([snap.link]), np.array([snap.offset_m]))
    arrival = np.full(graph.n_nodes, np.inf)
    for node, offset in zip(nodes[0].tolist(), times[0].tolist(), strict=True):
        if np.isfinite(offset) and offset <= limit_s:
            dist = dijkstra(graph.matrix, indices=node, limit=limit_s - offset)
            arrival = np.minimum(arrival, dist + offset)
    return arrival, snap.link, snap.offset_m


def isochrone(
    pack: CityPack,
    lonlat: ArrayLike,
    *,
    minutes: float,
    mode: str = "drive",
    emergency: bool = False,
    buffer_m: float = DEFAULT_BUFFER_M,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> BaseGeometry:
    """Area reachable from a point within ``minutes``.

    Parameters
    ----------
    pack
        A loaded city pack.
    lonlat
        Start (lon, lat) in WGS84.
    minutes
        Time budget (0 < minutes <= 180).
    mode
        ``"drive"`` or ``"walk"``.
    emergency
        Emergency driving (the budget stretches by the pack's emergency factor).
    buffer_m
        Half-width of the area kept around each reachable street piece.
    max_snap_m
        Refuse a start farther than this from the roads.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        The reachable area in WGS84 (lon, lat).

    Raises
    ------
    SnapError
        The start is too far from the roads or outside the city.
    """
    if not 0.0 < minutes <= MAX_MINUTES:
        raise ValueError(f"minutes={minutes} is out of range; give 0 < minutes <= {MAX_MINUTES:g}")
    if not 1.0 <= buffer_m <= 500.0:
        raise ValueError(f"buffer_m={buffer_m} is out of range; give 1 .. 500 metres")
    if emergency and mode != "drive":
        raise ValueError("emergency=True applies to driving only; use mode='drive'")
    budget = minutes * 60.0 * (pack.emergency_factor if emergency else 1.0)
    graph = pack.graph(mode)
    arrival, start_link, start_offset = reachable_times(
        pack, lonlat, limit_s=budget, mode=mode, max_snap_m=max_snap_m
    )
    pieces: list[LineString] = []
    tail = arrival[graph.arc_u]
    reached = np.flatnonzero(tail < budget)
    share = np.minimum(
        1.0, (budget - tail[reached]) / np.maximum(graph.arc_travel_time_s[reached], 1e-9)
    )
    for arc, part in zip(reached.tolist(), share.tolist(), strict=True):
        link = int(graph.arc_link[arc])
        length = float(graph.link_length_m[link])
        if graph.arc_forward[arc]:
            xs, ys = link_piece(graph, link, 0.0, part * length)
        else:
            xs, ys = link_piece(graph, link, length, length - part * length)
        pieces.append(shapely.LineString(np.column_stack([xs, ys])))
    # The start's own street, in each allowed direction, as far as the budget goes.
    length = float(graph.link_length_m[start_link])
    for arc, towards in (
        (graph.link_fwd_arc[start_link], length),
        (graph.link_bwd_arc[start_link], 0.0),
    ):
        if arc >= 0:
            speed_m_s = length / max(float(graph.arc_travel_time_s[arc]), 1e-9)
            reach = min(abs(towards - start_offset), budget * speed_m_s)
            end = start_offset + reach if towards > start_offset else start_offset - reach
            xs, ys = link_piece(graph, start_link, start_offset, end)
            pieces.append(shapely.LineString(np.column_stack([xs, ys])))
    area = shapely.buffer(MultiLineString(pieces), buffer_m, quad_segs=4)
    area = shapely.simplify(area, buffer_m / 8.0)
    return pack.projector.geometry_to_lonlat(area)
