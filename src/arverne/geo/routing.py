"""Routing on a city pack: point-to-point routes and many-to-one ranking of units.

Both take WGS84 (lon, lat) points, snap them to the nearest street piece (the partial
piece travelled counts), and refuse points too far from the roads or outside the city.

* :func:`route` runs scipy's Dijkstra from the start and returns time, distance, the
  geometry (lon, lat) and the street names along the way.
* :func:`rank_to_target` answers "which of these units reaches this point first": on the
  drive graph it uses the pack's core contraction hierarchy (one reverse search from the
  target, then a vectorised look-up per origin, see :mod:`arverne.geo.hierarchy`); on the
  walk graph one reverse Dijkstra from the target.

Emergency driving divides drive times by the pack's ``emergency_factor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import dijkstra

from arverne.geo.errors import NoRouteError, SnapError
from arverne.geo.graph import RoadGraph
from arverne.geo.linegeom import link_piece
from arverne.geo.pack import CityPack
from arverne.geo.snap import DEFAULT_MAX_SNAP_M, Snap, Snaps, arrivals, departures

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


def check_lonlat(value: Any, *, what: str) -> tuple[float, float]:
    """Validate a (lon, lat) pair in WGS84 degrees and return it as floats.

    Raises
    ------
    ValueError
        When the value is not two finite numbers within the WGS84 ranges.
    """
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a (lon, lat) pair of numbers, got {value!r}") from exc
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(
            f"{what}=({lon}, {lat}) is not a WGS84 point; give lon in -180..180 and lat in "
            "-90..90 (lon first)"
        )
    return lon, lat


@dataclass(frozen=True)
class Route:
    """A route between two points."""

    mode: str
    emergency: bool
    travel_time_s: float
    distance_m: float
    geometry: list[tuple[float, float]]
    street_names: list[str]
    snap_from_m: float
    snap_to_m: float
    node_path: list[int] = field(repr=False, default_factory=list)

    def to_geojson(self) -> dict[str, Any]:
        """GeoJSON Feature (LineString, WGS84) with times and names as properties."""
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(p) for p in self.geometry]},
            "properties": {
                "mode": self.mode,
                "emergency": self.emergency,
                "travel_time_s": round(self.travel_time_s, 1),
                "distance_m": round(self.distance_m, 1),
                "street_names": self.street_names,
            },
        }


@dataclass(frozen=True)
class Ranking:
    """Result of :func:`rank_to_target`, one entry per origin (input order)."""

    eta_s: F64
    distance_m: F64
    order: I64
    snap_distance_m: F64
    ok: NDArray[np.bool_]


def _time_factor(pack: CityPack, mode: str, emergency: bool) -> float:
    if emergency and mode != "drive":
        raise ValueError("emergency=True applies to driving only; use mode='drive'")
    return pack.emergency_factor if emergency else 1.0


def _snap(pack: CityPack, mode: str, lonlat: tuple[float, float], what: str, limit: float) -> Snap:
    x, y = pack.projector.to_metric(lonlat[0], lonlat[1])
    return pack.snapper(mode).snap_one(
        float(x), float(y), what=what, lonlat=lonlat, max_snap_m=limit
    )


def _same_link(graph: RoadGraph, start: Snap, end: Snap) -> float:
    """Time of a direct trip along one link (inf when on different links or against a oneway)."""
    if start.link != end.link:
        return math.inf
    length = float(graph.link_length_m[start.link])
    share = abs(end.offset_m - start.offset_m) / length if length > 0 else 0.0
    forward = end.offset_m >= start.offset_m
    arc = graph.link_fwd_arc[start.link] if forward else graph.link_bwd_arc[start.link]
    if arc < 0:
        return math.inf
    return share * float(graph.arc_travel_time_s[arc])


def _names(pack: CityPack, graph: RoadGraph, links: list[int]) -> list[str]:
    names: list[str] = []
    for link in links:
        name = pack.street_names[int(graph.link_name_id[link])]
        if name and (not names or names[-1] != name):
            names.append(name)
    return names


def route(
    pack: CityPack,
    from_lonlat: ArrayLike,
    to_lonlat: ArrayLike,
    *,
    mode: str = "drive",
    emergency: bool = False,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Route:
    """Fastest route between two WGS84 points.

    Parameters
    ----------
    pack
        A loaded city pack.
    from_lonlat, to_lonlat
        Start and end as (lon, lat).
    mode
        ``"drive"`` (honours oneways) or ``"walk"``.
    emergency
        Emergency driving (times divided by the pack's emergency factor).
    max_snap_m
        Refuse points farther than this from the road network.

    Returns
    -------
    Route

    Raises
    ------
    SnapError
        A point is too far from the roads or outside the city.
    NoRouteError
        No path joins the two points (cannot happen inside one pack's graph).
    """
    start_ll = check_lonlat(from_lonlat, what="from_lonlat")
    end_ll = check_lonlat(to_lonlat, what="to_lonlat")
    factor = _time_factor(pack, mode, emergency)
    graph = pack.graph(mode)
    start = _snap(pack, mode, start_ll, "start", max_snap_m)
    end = _snap(pack, mode, end_ll, "destination", max_snap_m)
    dep_nodes, dep_time, dep_len = departures(
        graph, np.array([start.link]), np.array([start.offset_m])
    )
    arr_nodes, arr_time, arr_len = arrivals(graph, np.array([end.link]), np.array([end.offset_m]))
    direct_time = _same_link(graph, start, end)
    usable = np.flatnonzero(np.isfinite(dep_time[0]))
    dist, pred = dijkstra(graph.matrix, indices=dep_nodes[0, usable], return_predecessors=True)
    totals = dep_time[0, usable][:, None] + dist[:, arr_nodes[0]] + arr_time[0][None, :]
    best = np.unravel_index(int(np.argmin(totals)), totals.shape) if totals.size else (0, 0)
    via_time = float(totals[best]) if totals.size else math.inf
    if not math.isfinite(min(via_time, direct_time)):
        raise NoRouteError(f"no {mode} path joins {start_ll} and {end_ll}; try mode='walk'")
    if direct_time <= via_time:
        xs, ys = link_piece(graph, start.link, start.offset_m, end.offset_m)
        distance = abs(end.offset_m - start.offset_m)
        return _finish(
            pack,
            graph,
            mode,
            emergency,
            direct_time / factor,
            distance,
            [(xs, ys)],
            [start.link],
            start,
            end,
            [],
        )
    k, j = int(best[0]), int(best[1])
    first, last = int(dep_nodes[0, usable[k]]), int(arr_nodes[0, j])
    path = [last]
    while path[-1] != first:
        path.append(int(pred[k, path[-1]]))
    path.reverse()
    arcs = graph.arcs_between(np.array(path[:-1]), np.array(path[1:]))
    link_len = float(graph.link_length_m[start.link])
    pieces = [link_piece(graph, start.link, start.offset_m, link_len if usable[k] == 0 else 0.0)]
    for arc in arcs.tolist():
        link = int(graph.arc_link[arc])
        full = float(graph.link_length_m[link])
        pieces.append(
            link_piece(graph, link, 0.0, full)
            if graph.arc_forward[arc]
            else link_piece(graph, link, full, 0.0)
        )
    end_len = float(graph.link_length_m[end.link])
    pieces.append(link_piece(graph, end.link, 0.0 if j == 0 else end_len, end.offset_m))
    distance = float(dep_len[0, usable[k]] + graph.arc_length_m[arcs].sum() + arr_len[0, j])
    links = [start.link, *graph.arc_link[arcs].tolist(), end.link]
    return _finish(
        pack, graph, mode, emergency, via_time / factor, distance, pieces, links, start, end, path
    )


def _finish(
    pack: CityPack,
    graph: RoadGraph,
    mode: str,
    emergency: bool,
    time_s: float,
    distance_m: float,
    pieces: list[tuple[F64, F64]],
    links: list[int],
    start: Snap,
    end: Snap,
    path: list[int],
) -> Route:
    xs = np.concatenate([p[0] for p in pieces])
    ys = np.concatenate([p[1] for p in pieces])
    keep = np.ones(xs.size, dtype=bool)
    keep[1:] = (np.diff(xs) != 0) | (np.diff(ys) != 0)
    lon, lat = pack.projector.to_lonlat(xs[keep], ys[keep])
    geometry = [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]
    if len(geometry) == 1:
        geometry.append(geometry[0])
    return Route(
        mode,
        emergency,
        time_s,
        distance_m,
        geometry,
        _names(pack, graph, links),
        start.distance_m,
        end.distance_m,
        path,
    )


def _path_lengths(graph: RoadGraph, pred: I64, root_length: float) -> F64:
    """Length from every node to the root of a tree grown over reversed arcs.

    ``pred[x]`` is the next node after ``x`` on its way to the root (the target).
    """
    has = pred >= 0
    total = np.zeros(pred.size)
    total[has] = graph.arc_length_m[graph.arcs_between(np.flatnonzero(has), pred[has])]
    parent = np.where(has, pred, -1)
    while (active := parent >= 0).any():
        total[active] += total[parent[active]]
        parent[active] = parent[parent[active]]
    return total + root_length


def _times_to_target(
    pack: CityPack, graph: RoadGraph, nodes: I64, times: F64, lengths: F64, sources: I64
) -> tuple[F64, F64]:
    if graph.mode == "drive":
        return pack.hierarchy.distances_to(nodes, times, lengths, sources)
    best_time = np.full(sources.size, np.inf)
    best_len = np.full(sources.size, np.inf)
    for node, t_off, l_off in zip(nodes.tolist(), times.tolist(), lengths.tolist(), strict=True):
        dist, pred = dijkstra(graph.matrix_reversed, indices=node, return_predecessors=True)
        total = _path_lengths(graph, pred.astype(np.int64), l_off)
        time = dist[sources] + t_off
        better = time < best_time
        best_time[better] = time[better]
        best_len[better] = total[sources][better]
    return best_time, best_len


def rank_to_target(
    pack: CityPack,
    origins_lonlat: ArrayLike,
    target_lonlat: ArrayLike,
    *,
    emergency: bool = False,
    mode: str = "drive",
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> Ranking:
    """Rank origins (units) by travel time to one target point.

    Parameters
    ----------
    pack
        A loaded city pack.
    origins_lonlat
        Array of shape (n, 2) of WGS84 (lon, lat).
    target_lonlat
        The target (lon, lat).
    emergency
        Emergency driving (drive mode only).
    mode
        ``"drive"`` or ``"walk"``.
    max_snap_m
        Origins farther than this from the roads are flagged (``ok`` False, infinite ETA)
        rather than raising, so one lost unit does not hide the others.

    Returns
    -------
    Ranking
        ``eta_s`` and ``distance_m`` per origin, ``order`` (fastest first, flagged last).

    Raises
    ------
    SnapError
        The target is too far from the roads or outside the city.
    """
    target = check_lonlat(target_lonlat, what="target_lonlat")
    origins = np.asarray(origins_lonlat, dtype=np.float64)
    if origins.ndim != 2 or origins.shape[1] != 2:
        raise ValueError(f"origins_lonlat must have shape (n, 2) of lon, lat; got {origins.shape}")
    factor = _time_factor(pack, mode, emergency)
    graph = pack.graph(mode)
    finite: NDArray[np.bool_] = np.asarray(np.isfinite(origins).all(axis=1))
    origins = np.where(finite[:, None], origins, np.asarray(target)[None, :])
    # One snapping call for the target (row 0) and the origins.
    points = np.vstack([np.asarray(target)[None, :], origins])
    px, py = pack.projector.to_metric(points[:, 0], points[:, 1])
    snapper = pack.snapper(mode)
    both = snapper.snap(px, py, max_snap_m=max_snap_m)
    end = snapper.checked(both, 0, what="target", lonlat=target, max_snap_m=max_snap_m)
    snaps = Snaps(*(np.asarray(getattr(both, f.name))[1:] for f in fields(Snaps)))
    arr_nodes, arr_time, arr_len = arrivals(graph, np.array([end.link]), np.array([end.offset_m]))
    allowed = np.isfinite(arr_time[0])
    dep_nodes, dep_time, dep_len = departures(graph, snaps.link, snaps.offset_m)
    # Repeated nodes cost less than np.unique would (the look-up is per source node).
    node_time, node_len = _times_to_target(
        pack,
        graph,
        arr_nodes[0, allowed],
        arr_time[0, allowed],
        arr_len[0, allowed],
        dep_nodes.ravel(),
    )
    via_time = dep_time + node_time.reshape(dep_time.shape)
    via_len = dep_len + node_len.reshape(dep_len.shape)
    pick = np.argmin(via_time, axis=1)
    rows = np.arange(origins.shape[0])
    eta, distance = via_time[rows, pick], via_len[rows, pick]
    same = np.flatnonzero(snaps.link == end.link)
    for i in same.tolist():
        start = Snap(end.link, float(snaps.offset_m[i]), 0.0, 0.0, 0.0)
        direct = _same_link(graph, start, end)
        if direct < eta[i]:
            eta[i], distance[i] = direct, abs(end.offset_m - start.offset_m)
    ok = snaps.ok & finite
    eta = np.where(ok, eta / factor, np.inf)
    distance = np.where(ok, distance, np.inf)
    snap_distance = np.where(finite, snaps.distance_m, np.inf)
    return Ranking(eta, distance, np.argsort(eta, kind="stable"), snap_distance, ok)


__all__ = ["Ranking", "Route", "SnapError", "check_lonlat", "rank_to_target", "route"]
