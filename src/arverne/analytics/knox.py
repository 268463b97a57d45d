"""Near-repeat analysis: the Knox test with Monte Carlo permutation p-values.

Pairs of incidents close in space and in time are counted in a table of space bands x
time bands. Under the null hypothesis of no space-time interaction, times are
exchangeable among locations, so the expected table is estimated by shuffling times
among events and recounting; the p-value of a cell is the share of shuffles with at
least as many pairs as observed. The close pairs are found once with a KD-tree (only
pairs within the largest space band are ever listed), and every shuffle reuses them, so
memory and time grow with the number of close pairs, not with N^2.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from arverne.analytics.errors import NotEnoughDataError, ParameterError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class KnoxResult:
    """Observed and expected pair counts per (space band, time band), with p-values."""

    space_bands_m: tuple[float, ...]
    time_bands_days: tuple[float, ...]
    observed: NDArray[np.int64]
    expected: FloatArray
    p_values: FloatArray
    n_events: int
    n_permutations: int

    @property
    def ratio(self) -> FloatArray:
        """Observed / expected (the near-repeat ratio; > 1 means more pairs than chance)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.expected > 0, self.observed / self.expected, np.nan)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready table, one entry per band pair."""
        ratio = self.ratio
        cells = []
        for i in range(len(self.space_bands_m) - 1):
            for j in range(len(self.time_bands_days) - 1):
                cells.append(
                    {
                        "space_m": [self.space_bands_m[i], self.space_bands_m[i + 1]],
                        "time_days": [self.time_bands_days[j], self.time_bands_days[j + 1]],
                        "observed": int(self.observed[i, j]),
                        "expected": float(self.expected[i, j]),
                        "ratio": None if np.isnan(ratio[i, j]) else float(ratio[i, j]),
                        "p_value": float(self.p_values[i, j]),
                    }
                )
        return {
            "n_events": self.n_events,
            "n_permutations": self.n_permutations,
            "cells": cells,
        }


def _check_bands(name: str, bands: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(b) for b in bands)
    if len(values) < 2 or values[0] < 0 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ParameterError(name, bands, "two or more increasing edges starting at >= 0")
    return values


def knox_test(
    x: FloatArray,
    y: FloatArray,
    t_days: FloatArray,
    *,
    space_bands_m: Sequence[float] = (0, 100, 200, 300, 400, 500),
    time_bands_days: Sequence[float] = (0, 7, 14, 21, 28),
    n_permutations: int = 999,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> KnoxResult:
    """Knox space-time interaction test over bands, with permutation p-values.

    Parameters
    ----------
    x, y
        Coordinates in metres.
    t_days
        Times in days (any origin).
    space_bands_m
        Edges of the distance bands; a pair at distance d is in band i when
        ``edge[i] <= d < edge[i+1]``.
    time_bands_days
        Edges of the time-gap bands, same rule.
    n_permutations
        Number of time shuffles.
    seed
        Random seed.
    progress
        Called with the number of shuffles done, every 100 shuffles and at the end.

    Returns
    -------
    KnoxResult
    """
    s_edges = _check_bands("space_bands_m", space_bands_m)
    t_edges = _check_bands("time_bands_days", time_bands_days)
    if n_permutations < 1:
        raise ParameterError("n_permutations", n_permutations, "1 or more")
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    t = np.asarray(t_days, dtype=float)
    if xy.shape[0] != t.size:
        raise ParameterError("t_days", t.size, f"{xy.shape[0]} times, one per point")
    if t.size < 3:
        raise NotEnoughDataError("events for the Knox test", int(t.size), 3, "use more events")
    tree = cKDTree(xy)
    # query_pairs uses <= r; the last band is half-open, so filter below.
    pairs = tree.query_pairs(s_edges[-1], output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    dist = np.hypot(*(xy[i] - xy[j]).T)
    s_band = np.searchsorted(s_edges, dist, side="right") - 1
    keep = (s_band >= 0) & (s_band < len(s_edges) - 1)
    i, j, s_band = i[keep], j[keep], s_band[keep]
    n_s, n_t = len(s_edges) - 1, len(t_edges) - 1

    def table(times: FloatArray) -> NDArray[np.int64]:
        gap = np.abs(times[i] - times[j])
        t_band = np.searchsorted(t_edges, gap, side="right") - 1
        ok = (t_band >= 0) & (t_band < n_t)
        flat = s_band[ok] * n_t + t_band[ok]
        return np.bincount(flat, minlength=n_s * n_t).reshape(n_s, n_t)

    observed = table(t)
    rng = np.random.default_rng(seed)
    total = np.zeros((n_s, n_t))
    at_least = np.zeros((n_s, n_t))
    for done in range(1, n_permutations + 1):
        simulated = table(rng.permutation(t))
        total += simulated
        at_least += simulated >= observed
        if progress is not None and (done % 100 == 0 or done == n_permutations):
            progress(done)
    return KnoxResult(
        space_bands_m=s_edges,
        time_bands_days=t_edges,
        observed=observed,
        expected=total / n_permutations,
        p_values=(1.0 + at_least) / (1.0 + n_permutations),
        n_events=int(t.size),
        n_permutations=n_permutations,
    )
