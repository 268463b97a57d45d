"""Synthetic incident data with known parameters, for tests, benchmarks and demos.

:func:`simulate_grid_hawkes` draws a self-exciting point process on a grid (the model of
:class:`arverne.analytics.forecast.GridETAS`) by its branching structure: background
events per cell, then generation after generation of offspring in the parent's cell.
:func:`hotspot_background` builds a clustered background rate surface.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from arverne.analytics.errors import ParameterError
from arverne.analytics.grid import Grid

FloatArray = NDArray[np.float64]


def hotspot_background(
    grid: Grid,
    *,
    total_per_day: float,
    n_hotspots: int = 12,
    spread_m: float = 400.0,
    floor_share: float = 0.2,
    seed: int = 0,
) -> FloatArray:
    """A background rate surface (events per day per cell) with Gaussian hotspots.

    Parameters
    ----------
    grid
        Grid of the surface (invalid cells get 0).
    total_per_day
        Sum of the surface over valid cells.
    n_hotspots
        Number of Gaussian bumps, placed at random valid cells.
    spread_m
        Standard deviation of each bump, in metres.
    floor_share
        Share of the total spread evenly over valid cells.
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    valid = grid.valid
    xc, yc = grid.centres()
    cells = np.flatnonzero(valid.ravel())
    centres = rng.choice(cells, size=min(n_hotspots, cells.size), replace=False)
    bumps = np.zeros(grid.shape)
    for flat in centres:
        weight = rng.lognormal(0.0, 0.7)
        dx = xc - xc.ravel()[flat]
        dy = yc - yc.ravel()[flat]
        bumps += weight * np.exp(-(dx**2 + dy**2) / (2 * spread_m**2))
    bumps = np.where(valid, bumps, 0.0)
    bumps *= (1 - floor_share) / bumps.sum()
    surface = bumps + np.where(valid, floor_share / valid.sum(), 0.0)
    return np.asarray(surface * total_per_day, dtype=float)


def simulate_grid_hawkes(
    grid: Grid,
    *,
    mu_per_day: FloatArray,
    theta: float,
    omega_per_day: float,
    start: str | pd.Timestamp,
    days: float,
    seed: int = 0,
    category: str = "burglary",
) -> pd.DataFrame:
    """Simulate grid ETAS: per-cell background plus exponential triggering in the cell.

    Parameters
    ----------
    grid
        The grid; events are placed uniformly inside their cell.
    mu_per_day
        ``(ny, nx)`` background rate per cell (events per day).
    theta
        Branching ratio (expected direct offspring per event), in [0, 1).
    omega_per_day
        Decay rate of the triggering kernel (mean delay ``1 / omega_per_day`` days).
    start, days
        Simulated period.
    seed
        Random seed.
    category
        Platform category written on every event.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (UTC), ``x``, ``y``, ``category``, sorted by time.
    """
    if not 0 <= theta < 1:
        raise ParameterError("theta", theta, "a branching ratio in [0, 1)")
    if omega_per_day <= 0 or days <= 0:
        raise ParameterError("omega_per_day/days", (omega_per_day, days), "positive numbers")
    rng = np.random.default_rng(seed)
    rate = np.asarray(mu_per_day, dtype=float).ravel()
    n_background = rng.poisson(rate * days)
    cells = np.repeat(np.arange(rate.size), n_background)
    times = rng.uniform(0.0, days, size=cells.size)
    all_cells, all_times = [cells], [times]
    while cells.size:
        n_children = rng.poisson(theta, size=cells.size)
        cells = np.repeat(cells, n_children)
        times = np.repeat(times, n_children) + rng.exponential(1 / omega_per_day, cells.size)
        keep = times < days
        cells, times = cells[keep], times[keep]
        all_cells.append(cells)
        all_times.append(times)
    cell = np.concatenate(all_cells)
    t = np.concatenate(all_times)
    row, col = np.divmod(cell, grid.nx)
    x = grid.x0 + (col + rng.uniform(0, 1, cell.size)) * grid.cell
    y = grid.y0 + (row + rng.uniform(0, 1, cell.size)) * grid.cell
    origin = pd.Timestamp(start)
    origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin.tz_convert("UTC")
    order = np.argsort(t, kind="stable")
    return pd.DataFrame(
        {
            "time": origin + pd.to_timedelta(t[order] * 86_400.0, unit="s"),
            "x": x[order],
            "y": y[order],
            "category": category,
        }
    )
