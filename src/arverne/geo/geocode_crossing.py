"""Where two streets meet: shared graph nodes, or the closest approach of two streets.

Used by the geocoder for "angle rue X et rue Y". Points are in the pack's metric CRS.
"""

from __future__ import annotations

import numpy as np

from arverne.geo.geocode_index import StreetEntry
from arverne.geo.pack import CityPack

SAME_CROSSING_M = 30.0
NEAR_CROSSING_M = 40.0


def shared_points(pack: CityPack, a: StreetEntry, b: StreetEntry) -> list[tuple[float, float]]:
    """Metric points of the junctions two streets share (one per place, 30 m apart at least).

    Parameters
    ----------
    pack
        The city pack the entries come from.
    a, b
        Two street entries of the geocoder.

    Returns
    -------
    list of (x, y)
        Possibly empty.
    """
    seen: list[tuple[float, float]] = []
    for mode in ("drive", "walk"):
        shared = np.intersect1d(a.nodes.get(mode, []), b.nodes.get(mode, []))
        if not shared.size:
            continue
        graph = pack.graph(mode)
        for node in shared.tolist():
            x, y = float(graph.node_x[node]), float(graph.node_y[node])
            if any((x - sx) ** 2 + (y - sy) ** 2 < SAME_CROSSING_M**2 for sx, sy in seen):
                continue
            seen.append((x, y))
    return seen


def near_point(
    pack: CityPack, a: StreetEntry, b: StreetEntry, *, max_gap_m: float = NEAR_CROSSING_M
) -> tuple[float, float, float] | None:
    """Closest approach of two streets that share no junction.

    Parameters
    ----------
    pack
        The city pack the entries come from.
    a, b
        Two street entries of the geocoder.
    max_gap_m
        Largest gap between a node of ``a`` and a node of ``b`` still called a crossing.

    Returns
    -------
    tuple or None
        ``(gap_m, x, y)`` with the midpoint of the two closest nodes, or None.
    """
    best: tuple[float, float, float] | None = None
    for mode in ("drive", "walk"):
        nodes_a, nodes_b = a.nodes.get(mode), b.nodes.get(mode)
        if nodes_a is None or nodes_b is None or not nodes_a.size or not nodes_b.size:
            continue
        graph = pack.graph(mode)
        xy_a = np.column_stack([graph.node_x[nodes_a], graph.node_y[nodes_a]])
        xy_b = np.column_stack([graph.node_x[nodes_b], graph.node_y[nodes_b]])
        gaps = np.hypot(xy_a[:, None, 0] - xy_b[None, :, 0], xy_a[:, None, 1] - xy_b[None, :, 1])
        i, j = np.unravel_index(int(np.argmin(gaps)), gaps.shape)
        gap = float(gaps[i, j])
        if gap <= max_gap_m and (best is None or gap < best[0]):
            mid = (xy_a[i] + xy_b[j]) / 2.0
            best = (gap, float(mid[0]), float(mid[1]))
    return best
