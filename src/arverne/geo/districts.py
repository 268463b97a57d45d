"""Districts and patrol beats: import polygons, locate points, generate balanced beats.

* :func:`read_districts` imports named polygons from GeoJSON and reports every bad feature
  by its index (wrong type, invalid geometry, missing or duplicate name).
* :class:`DistrictIndex` answers "which district is each of these points in" for arrays
  of points with a shapely STRtree.
* :func:`generate_beats` cuts the drive graph into ``k`` beats of balanced workload that
  are compact in travel time (see the function's notes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from arverne.geo.errors import DistrictError
from arverne.geo.geojson import feature, feature_geometry, features_of, read_json

if TYPE_CHECKING:
    from arverne.geo.pack import CityPack

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
BALANCE_TOLERANCE = 1.05
LLOYD_ROUNDS = 4
BALANCE_ROUNDS = 400
CENTRE_CANDIDATES = 6


def read_districts(
    source: str | Path | Mapping[str, Any], *, name_property: str = "name"
) -> list[tuple[str, BaseGeometry]]:
    """Import named district polygons from a GeoJSON FeatureCollection.

    Parameters
    ----------
    source
        Path to a GeoJSON file, or the parsed document.
    name_property
        Feature property holding the district's name.

    Returns
    -------
    list of (str, shapely geometry)
        Names and WGS84 polygons, in file order.

    Raises
    ------
    DistrictError
        Listing every bad feature by index, or when there is no feature at all.
    """
    try:
        document = source if isinstance(source, Mapping) else read_json(source, what="districts")
        features = features_of(document)
    except ValueError as exc:
        raise DistrictError(str(exc)) from exc
    where = "" if isinstance(source, Mapping) else f"{source}: "
    problems: list[str] = []
    result: list[tuple[str, BaseGeometry]] = []
    seen: set[str] = set()
    for index, item in enumerate(features):
        geometry, problem = feature_geometry(item)
        properties = item.get("properties") if isinstance(item, Mapping) else None
        name = properties.get(name_property) if isinstance(properties, Mapping) else None
        if problem is None and (not isinstance(name, str) or not name.strip()):
            problem = f"has no {name_property!r} property"
        elif problem is None and name in seen:
            problem = f"repeats the name {name!r}"
        if problem is not None:
            problems.append(f"feature {index} {problem}")
            continue
        assert isinstance(name, str)
        assert geometry is not None
        seen.add(name)
        result.append((name.strip(), geometry))
    if problems:
        raise DistrictError(
            f"{where}{len(problems)} bad district feature(s): "
            + "; ".join(problems)
            + "; fix or remove them (each needs a valid Polygon/MultiPolygon and a name)"
        )
    if not result:
        raise DistrictError(f"{where}no district found; give a FeatureCollection of polygons")
    return result


class DistrictIndex:
    """Point-in-district look-up for arrays of WGS84 points.

    Parameters
    ----------
    districts
        (name, WGS84 polygon) pairs, e.g. from :func:`read_districts`.
    """

    def __init__(self, districts: Sequence[tuple[str, BaseGeometry]]) -> None:
        self.names = [name for name, _ in districts]
        self.geometries = np.array([geometry for _, geometry in districts], dtype=object)
        self._tree = shapely.STRtree(self.geometries)

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> I64:
        """Index of the district containing each point, -1 for points in none.

        A point on a shared border goes to the first district listed.
        """
        x = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        y = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        points, tree_index = self._tree.query(shapely.points(x, y), predicate="intersects")
        result = np.full(x.size, -1, dtype=np.int64)
        order = np.lexsort((-tree_index, points))  # last write wins: keep the lowest index
        result[points[order]] = tree_index[order]
        return result

    def names_of(self, lon: ArrayLike, lat: ArrayLike) -> list[str | None]:
        """District name of each point (None outside every district)."""
        return [self.names[i] if i >= 0 else None for i in self.locate(lon, lat).tolist()]


@dataclass(frozen=True)
class Beats:
    """Patrol beats on a pack's drive graph."""

    assignment: I64
    centres: I64
    workload: F64
    mean_travel_time_s: F64
    polygons: list[BaseGeometry]

    @property
    def workload_ratio(self) -> float:
        """Largest beat workload divided by the smallest."""
        return float(self.workload.max() / max(self.workload.min(), 1e-12))

    def to_features(self, pack: CityPack) -> list[dict[str, Any]]:
        """GeoJSON features (WGS84), one per beat, with workload and travel-time stats."""
        return [
            feature(
                polygon,
                {
                    "name": f"Beat {k + 1}",
                    "beat": k,
                    "workload": round(float(self.workload[k]), 3),
                    "nodes": int((self.assignment == k).sum()),
                    "mean_travel_time_s": round(float(self.mean_travel_time_s[k]), 1),
                    "centre": [
                        float(pack.drive.node_lon[self.centres[k]]),
                        float(pack.drive.node_lat[self.centres[k]]),
                    ],
                },
            )
            for k, polygon in enumerate(self.polygons)
        ]


def node_weights(pack: CityPack, lonlat: ArrayLike, *, weights: ArrayLike | None = None) -> F64:
    """Sum point weights (e.g. past incidents) onto their nearest drive nodes.

    Parameters
    ----------
    pack
        A loaded city pack.
    lonlat
        Array (n, 2) of WGS84 points.
    weights
        One weight per point (default 1).

    Returns
    -------
    numpy.ndarray
        Workload per drive node.
    """
    points = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    values = np.ones(points.shape[0]) if weights is None else np.asarray(weights, np.float64)
    if values.shape != (points.shape[0],) or not np.all(np.isfinite(values)) or (values < 0).any():
        raise ValueError("weights must be one finite, non-negative number per point")
    x, y = pack.projector.to_metric(points[:, 0], points[:, 1])
    tree = cKDTree(np.column_stack([pack.drive.node_x, pack.drive.node_y]))
    _, nearest = tree.query(np.column_stack([x, y]))
    return np.bincount(nearest, weights=values, minlength=pack.drive.n_nodes).astype(np.float64)


def _seed_centres(xy: F64, weight: F64, k: int, rng: np.random.Generator) -> I64:
    """Weighted k-means++ choice of ``k`` distinct nodes."""
    chosen = [int(rng.choice(weight.size, p=weight / weight.sum()))]
    d2 = np.sum((xy - xy[chosen[0]]) ** 2, axis=1)
    for _ in range(1, k):
        score = weight * d2
        score[chosen] = 0.0
        nxt = int(rng.choice(weight.size, p=score / score.sum()))
        chosen.append(nxt)
        d2 = np.minimum(d2, np.sum((xy - xy[nxt]) ** 2, axis=1))
    return np.asarray(chosen, dtype=np.int64)


def _recentre(pack: CityPack, assign: I64, weight: F64, k: int, centres: I64) -> I64:
    """Move each centre to the beat node with the least weighted travel time (few candidates)."""
    graph = pack.drive
    xy = np.column_stack([graph.node_x, graph.node_y])
    new = centres.copy()
    for beat in range(k):
        members = np.flatnonzero(assign == beat)
        if members.size == 0:
            continue
        w = weight[members]
        centroid = (xy[members] * w[:, None]).sum(axis=0) / w.sum()
        near = members[np.argsort(np.sum((xy[members] - centroid) ** 2, axis=1))]
        candidates = np.unique(np.r_[near[:CENTRE_CANDIDATES], centres[beat]])
        times = dijkstra(graph.matrix, indices=candidates)[:, members]
        new[beat] = candidates[int(np.argmin(times @ w))]
    return new


def _balance(times: F64, weight: F64, tolerance: float) -> tuple[I64, F64]:
    """Additive biases per beat until workloads are within ``tolerance`` (best found)."""
    k = times.shape[0]
    bias = np.zeros(k)
    target = weight.sum() / k
    scale = float(np.median(times.min(axis=0)))
    best_assign, best_ratio = np.argmin(times, axis=0), np.inf
    step = 0.5
    for _ in range(BALANCE_ROUNDS):
        assign = np.argmin(times + bias[:, None], axis=0)
        load = np.bincount(assign, weights=weight, minlength=k)
        ratio = load.max() / max(load.min(), 1e-12)
        if ratio < best_ratio:
            best_assign, best_ratio = assign, ratio
        if ratio <= tolerance:
            break
        bias += step * scale * (load - target) / target
        bias -= bias.min()
        step *= 0.985
    final: F64 = np.bincount(best_assign, weights=weight, minlength=k).astype(np.float64)
    return best_assign.astype(np.int64), final


def _polygons(pack: CityPack, assign: I64, k: int) -> list[BaseGeometry]:
    graph = pack.drive
    xy = np.column_stack([graph.node_x, graph.node_y])
    unique, first = np.unique(np.round(xy, 2), axis=0, return_index=True)
    area = pack.boundary_metric
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.MultiPoint(unique), extend_to=area, ordered=True)
    )
    cells = shapely.intersection(cells, area)
    owner = assign[first]
    polygons = []
    for beat in range(k):
        merged = shapely.union_all(cells[owner == beat])
        polygons.append(pack.projector.geometry_to_lonlat(shapely.make_valid(merged)))
    return polygons


def generate_beats(
    pack: CityPack,
    k: int,
    *,
    weights: ArrayLike | None = None,
    seed: int = 0,
    tolerance: float = BALANCE_TOLERANCE,
) -> Beats:
    """Cut the drive graph into ``k`` patrol beats of balanced workload.

    Parameters
    ----------
    pack
        A loaded city pack.
    k
        Number of beats (2 .. number of nodes / 10).
    weights
        Workload per drive node (e.g. from :func:`node_weights`); default uniform.
    seed
        Random seed of the initial centres.
    tolerance
        Stop balancing once max/min workload is at or below this ratio.

    Returns
    -------
    Beats
        Node assignment, centres, workload per beat, mean travel time from each centre to
        its beat's nodes (weighted) and one polygon per beat (WGS84).

    Notes
    -----
    Seeds come from weighted k-means++ on node positions; then a few Lloyd rounds assign
    nodes to the centre they are reached from fastest and move each centre to the node of
    least weighted travel time (k-medoids on travel times). Balancing adds a bias per beat
    (an additively weighted network Voronoi diagram) raised for overloaded beats. Each beat
    stays connected: a node on the fastest path from a centre to one of its nodes has a
    smaller biased time to that centre than to any other.
    """
    graph = pack.drive
    if not 2 <= k <= max(2, graph.n_nodes // 10):
        raise ValueError(f"k={k} beats is out of range; give 2 .. {graph.n_nodes // 10}")
    weight = np.ones(graph.n_nodes) if weights is None else np.asarray(weights, dtype=np.float64)
    if weight.shape != (graph.n_nodes,) or not np.all(np.isfinite(weight)) or (weight < 0).any():
        raise ValueError(
            f"weights must be {graph.n_nodes} finite non-negative numbers (one per drive node)"
        )
    if weight.sum() <= 0:
        raise ValueError("weights are all zero; give at least one positive workload")
    rng = np.random.default_rng(seed)
    xy = np.column_stack([graph.node_x, graph.node_y])
    # A small floor keeps empty areas attached to some beat without moving the balance.
    effective = weight + 1e-3 * weight.mean()
    centres = _seed_centres(xy, effective, k, rng)
    for _ in range(LLOYD_ROUNDS):
        times = dijkstra(graph.matrix, indices=centres)
        assign = np.argmin(times, axis=0)
        moved = _recentre(pack, assign, effective, k, centres)
        if np.array_equal(moved, centres):
            break
        centres = moved
    times = dijkstra(graph.matrix, indices=centres)
    assign, _ = _balance(times, weight, tolerance)
    workload = np.bincount(assign, weights=weight, minlength=k).astype(np.float64)
    reach = times[assign, np.arange(graph.n_nodes)]
    mean_time = np.array(
        [
            np.average(reach[assign == b], weights=effective[assign == b])
            if (assign == b).any()
            else 0.0
            for b in range(k)
        ]
    )
    return Beats(assign.astype(np.int64), centres, workload, mean_time, _polygons(pack, assign, k))
