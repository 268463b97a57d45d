"""Cutting link geometry between two offsets (partial street pieces for routes and isochrones)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from arverne.geo.graph import RoadGraph

F64 = NDArray[np.float64]


def link_piece(graph: RoadGraph, link: int, start_m: float, end_m: float) -> tuple[F64, F64]:
    """Metric points of a link between two offsets measured from its ``u`` end.

    Parameters
    ----------
    graph
        The road graph.
    link
        Link index.
    start_m, end_m
        Offsets along the link in metres; ``start_m > end_m`` walks the link backwards.

    Returns
    -------
    tuple of numpy.ndarray
        x and y of the piece, with interpolated end points (at least two points).
    """
    x, y = graph.link_points(link)
    if x.size == 0:
        return x, y
    cumulative = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    total = float(cumulative[-1])
    low, high = sorted((min(max(start_m, 0.0), total), min(max(end_m, 0.0), total)))
    inner = (cumulative > low) & (cumulative < high)
    px = np.concatenate(
        [[np.interp(low, cumulative, x)], x[inner], [np.interp(high, cumulative, x)]]
    )
    py = np.concatenate(
        [[np.interp(low, cumulative, y)], y[inner], [np.interp(high, cumulative, y)]]
    )
    if start_m > end_m:
        return px[::-1], py[::-1]
    return px, py
