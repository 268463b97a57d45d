"""Hotspot maps on a grid: kernel density surfaces and Getis-Ord Gi* with FDR control.

:func:`kde_surface` smooths event locations into expected counts per cell.
:func:`gi_star` computes the Getis-Ord Gi* z-score of every valid cell (Getis and Ord
1992; Ord and Getis 1995) with binary weights on the cells within ``radius_m`` of the
cell centre, the cell itself included, using only cells of the study area.
:func:`hot_spots` turns the z-scores into one-sided p-values, applies the
Benjamini–Hochberg false discovery rate correction and reports hot spots only. Gi* is
computed with convolutions, so a 1000 x 1000 grid takes well under a second; the esda
package would need a libpysal weights object and geopandas for the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, stats

from arverne.analytics.errors import NotEnoughDataError, ParameterError
from arverne.analytics.grid import Grid

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Largest fine grid used to place events before smoothing.
_MAX_FINE_CELLS = 8_000_000

__all__ = ["Grid", "HotSpots", "benjamini_hochberg", "gi_star", "hot_spots", "kde_surface"]


def kde_surface(
    x: FloatArray,
    y: FloatArray,
    *,
    grid: Grid,
    bandwidth_m: float,
    oversample: int = 4,
) -> FloatArray:
    """Gaussian kernel density of points, as expected counts per grid cell.

    Points are binned on a grid ``oversample`` times finer, smoothed with a Gaussian of
    standard deviation ``bandwidth_m`` and summed back into the cells. Mass that leaves
    the grid is lost, so the surface sums to slightly less than the number of points.

    Parameters
    ----------
    x, y
        Coordinates in the grid CRS.
    grid
        Target grid.
    bandwidth_m
        Kernel standard deviation, in metres.
    oversample
        Sub-cells per cell side.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` smoothed counts (row 0 southmost).
    """
    if not bandwidth_m > 0:
        raise ParameterError("bandwidth_m", bandwidth_m, "a positive distance in metres")
    factor = max(1, int(oversample))
    while factor > 1 and grid.nx * grid.ny * factor * factor > _MAX_FINE_CELLS:
        factor -= 1
    fine = grid.cell / factor
    col = np.floor((np.asarray(x, dtype=float) - grid.x0) / fine)
    row = np.floor((np.asarray(y, dtype=float) - grid.y0) / fine)
    nx_f, ny_f = grid.nx * factor, grid.ny * factor
    ok = (col >= 0) & (col < nx_f) & (row >= 0) & (row < ny_f)
    flat = row[ok].astype(np.int64) * nx_f + col[ok].astype(np.int64)
    counts = np.bincount(flat, minlength=nx_f * ny_f).reshape(ny_f, nx_f).astype(float)
    smooth = ndimage.gaussian_filter(
        counts, sigma=float(bandwidth_m) / fine, mode="constant", truncate=4.0
    )
    coarse = smooth.reshape(grid.ny, factor, grid.nx, factor).sum(axis=(1, 3))
    return np.asarray(coarse, dtype=float)


def _disc(radius_m: float, cell: float) -> FloatArray:
    reach = int(np.floor(radius_m / cell + 1e-9))
    dy, dx = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    return np.asarray(np.hypot(dx, dy) * cell <= radius_m + 1e-9, dtype=float)


def gi_star(values: FloatArray, *, valid: BoolArray, radius_m: float, cell_m: float) -> FloatArray:
    """Getis-Ord Gi* z-scores with binary distance-band weights (self included).

    For valid cell i with neighbours j (valid cells whose centre is within ``radius_m``,
    i included), ``W_i`` their number, n the number of valid cells, ``xbar`` and ``s``
    the mean and (population) standard deviation of the values over valid cells::

        Gi* = (sum_j x_j - xbar * W_i) / (s * sqrt((n * W_i - W_i**2) / (n - 1)))

    Parameters
    ----------
    values
        ``(ny, nx)`` values (event counts per cell).
    valid
        Study-area mask; other cells are neither scored nor used as neighbours.
    radius_m
        Neighbourhood radius in metres (``cell_m`` gives the 4 rook neighbours,
        ``cell_m * sqrt(2)`` the 8 queen neighbours).
    cell_m
        Cell side in metres.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` z-scores; NaN outside the study area.
    """
    if not radius_m > 0:
        raise ParameterError("radius_m", radius_m, "a positive distance in metres")
    values = np.asarray(values, dtype=float)
    valid = np.asarray(valid, dtype=bool)
    n = int(valid.sum())
    if n < 3:
        raise NotEnoughDataError("valid cells for Gi*", n, 3, "enlarge the study area")
    x = np.where(valid, values, 0.0)
    mean = x.sum() / n
    std = np.sqrt((x**2).sum() / n - mean**2)
    if not std > 0:
        raise NotEnoughDataError(
            "distinct cell values for Gi*", 1, 2, "use more events or a smaller cell"
        )
    kernel = _disc(radius_m, cell_m)
    local_sum = ndimage.correlate(x, kernel, mode="constant", cval=0.0)
    weight = ndimage.correlate(valid.astype(float), kernel, mode="constant", cval=0.0)
    denom = std * np.sqrt(np.clip(n * weight - weight**2, 0.0, None) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (local_sum - mean * weight) / denom
    return np.where(valid & (denom > 0), z, np.nan)


def benjamini_hochberg(p_values: FloatArray) -> FloatArray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    ranked = p[finite]
    m = ranked.size
    if m == 0:
        return out
    order = np.argsort(ranked)
    scaled = ranked[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    out[finite] = q
    return out


@dataclass(frozen=True)
class HotSpots:
    """Gi* result: z-scores, one-sided p-values, BH q-values and the hot-spot mask."""

    z: FloatArray
    p: FloatArray
    q: FloatArray
    hot: BoolArray
    alpha: float
    radius_m: float

    def to_dict(self, grid: Grid) -> dict[str, Any]:
        """JSON-ready list of hot cells with their centre, z, p and q."""
        xc, yc = grid.centres()
        rows, cols = np.nonzero(self.hot)
        cells = [
            {
                "row": int(r),
                "col": int(c),
                "x": float(xc[r, c]),
                "y": float(yc[r, c]),
                "z": float(self.z[r, c]),
                "p": float(self.p[r, c]),
                "q": float(self.q[r, c]),
            }
            for r, c in zip(rows, cols, strict=True)
        ]
        cells.sort(key=lambda cell: -float(cell["z"]))
        return {
            "alpha": self.alpha,
            "radius_m": self.radius_m,
            "correction": "Benjamini-Hochberg FDR, one-sided (hot spots only)",
            "n_hot": len(cells),
            "grid": grid.to_dict(),
            "cells": cells,
        }


def hot_spots(
    counts: FloatArray, *, grid: Grid, radius_m: float | None = None, alpha: float = 0.05
) -> HotSpots:
    """Gi* hot spots of a count surface inside the study area, with FDR control.

    Parameters
    ----------
    counts
        ``(ny, nx)`` event counts (e.g. ``grid.counts(x, y)``).
    grid
        Grid with the study-area mask.
    radius_m
        Neighbourhood radius; the 8 queen neighbours (``cell * sqrt(2)``) by default.
    alpha
        False discovery rate.

    Returns
    -------
    HotSpots
        Cells with ``q <= alpha`` and a positive z are hot; cold spots are not reported.
    """
    if not 0 < alpha < 1:
        raise ParameterError("alpha", alpha, "a false discovery rate in (0, 1)")
    radius = grid.cell * np.sqrt(2.0) if radius_m is None else float(radius_m)
    z = gi_star(counts, valid=grid.valid, radius_m=radius, cell_m=grid.cell)
    p = np.where(np.isfinite(z), stats.norm.sf(z), np.nan)
    q = benjamini_hochberg(p)
    hot = np.isfinite(q) & (q <= alpha) & (z > 0)
    return HotSpots(z=z, p=p, q=q, hot=hot, alpha=alpha, radius_m=radius)
