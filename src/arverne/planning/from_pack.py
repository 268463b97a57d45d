"""A simulation city from a city pack: zones on the real streets, road travel times.

Zones are clusters of the pack's addresses (where calls come from), each represented by
the drive-graph node nearest to its centre; travel times between zones are shortest
paths on the drive graph at emergency speed plus a turnout time; a zone belongs to the
pack's district containing its centre.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from arverne.planning.errors import PlanningInputError
from arverne.planning.model import City

if TYPE_CHECKING:
    from arverne.geo.pack import CityPack


def city_from_pack(
    pack: CityPack, *, zones: int = 144, turnout_s: float = 60.0, seed: int = 0
) -> City:
    """Build a :class:`City` for the simulator from a city pack.

    Parameters
    ----------
    pack
        A loaded city pack with addresses and a drive graph.
    zones
        Number of zones (address clusters).
    turnout_s
        Time from dispatch to departure, added to every travel time.
    seed
        Seed of the clustering.

    Returns
    -------
    City
        Zones weighted by their number of addresses, with road travel times.
    """
    if zones < 1:
        raise PlanningInputError("--zones", f"got {zones}", "pass at least 1 zone")
    addresses = pack.addresses
    if len(addresses) < zones:
        raise PlanningInputError(
            "--city", f"the pack has {len(addresses)} addresses", f"use fewer than {zones} zones"
        )
    xy = np.column_stack([addresses["x"], addresses["y"]]).astype(np.float64)
    centres, label = kmeans2(xy, zones, seed=seed, minit="++")
    counts = np.bincount(label, minlength=zones).astype(np.float64)
    keep = counts > 0
    centres, counts = centres[keep], counts[keep]
    graph = pack.drive
    _, nodes = cKDTree(np.column_stack([graph.node_x, graph.node_y])).query(centres)
    nodes = np.asarray(nodes, dtype=np.int64)
    times = dijkstra(graph.matrix, indices=nodes)[:, nodes] / pack.emergency_factor
    if not np.isfinite(times).all():
        raise PlanningInputError("--city", "some zones cannot reach others", "rebuild the pack")
    lon, lat = graph.node_lon[nodes], graph.node_lat[nodes]
    names: tuple[str, ...] = ("city",)
    district = np.zeros(len(nodes), dtype=np.int64)
    if pack.districts:
        from arverne.geo.districts import DistrictIndex

        index = DistrictIndex(pack.districts)
        found = index.locate(lon, lat)
        used = sorted({int(i) for i in found if i >= 0})
        if used:
            names = tuple(index.names[i] for i in used) + (
                ("outside",) if (found < 0).any() else ()
            )
            remap = {old: new for new, old in enumerate(used)}
            district = np.array([remap.get(int(i), len(used)) for i in found], dtype=np.int64)
    return City(
        name=pack.name,
        travel_s=times + turnout_s,
        district=district,
        district_names=names,
        weights=counts / counts.sum(),
        xy_m=centres,
    )
