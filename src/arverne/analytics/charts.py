"""Static charts (PNG or SVG) of the statistics, hotspots and forecasts.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global state, no
display needed); the file format follows the suffix of the path. Matplotlib is imported
when a chart is drawn, not when this module is imported.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from arverne.analytics.errors import ParameterError
from arverne.analytics.grid import Grid
from arverne.analytics.knox import KnoxResult
from arverne.analytics.stats import WEEKDAYS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_FORMATS = {".png", ".svg"}


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> Path:
    file = Path(path)
    if file.suffix.lower() not in _FORMATS:
        raise ParameterError("path", str(file), "a file name ending in .png or .svg")
    file.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(file, dpi=120)
    return file


def plot_trend(table: pd.DataFrame, path: str | Path, *, title: str = "Incidents") -> Path:
    """Line chart of :func:`arverne.analytics.stats.trend` output (count and rolling mean).

    Returns
    -------
    Path
        The file written.
    """
    figure = _figure(8, 3.5)
    axes = figure.add_subplot()
    periods = pd.to_datetime(table["period"])
    axes.plot(periods, table["count"], color="#9aa5b1", linewidth=1, label="count")
    axes.plot(periods, table["rolling_mean"], color="#1f4e79", linewidth=2, label="rolling mean")
    axes.set_title(title)
    axes.set_ylabel("incidents")
    axes.legend(loc="upper left", frameon=False)
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_hour_weekday(
    matrix: NDArray[np.int64], path: str | Path, *, title: str = "Incidents by hour and day"
) -> Path:
    """Heat map of a ``(7, 24)`` weekday x hour matrix (Monday on top).

    Returns
    -------
    Path
        The file written.
    """
    if np.shape(matrix) != (7, 24):
        raise ParameterError("matrix", np.shape(matrix), "a (7, 24) weekday x hour array")
    figure = _figure(9, 3.2)
    axes = figure.add_subplot()
    image = axes.imshow(matrix, aspect="auto", cmap="Blues")
    axes.set_yticks(range(7), WEEKDAYS)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}h" for h in range(0, 24, 2)])
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="incidents")
    return _save(figure, path)


def plot_surface(
    surface: NDArray[np.float64],
    grid: Grid,
    path: str | Path,
    *,
    title: str = "",
    label: str = "expected incidents",
    flagged: NDArray[np.bool_] | None = None,
) -> Path:
    """Map of an ``(ny, nx)`` surface (row 0 south), invalid cells blank.

    Parameters
    ----------
    surface
        Values per cell.
    grid
        Grid of the surface.
    path
        ``.png`` or ``.svg`` file.
    title, label
        Title and colour-bar label.
    flagged
        Optional cells outlined in red (e.g. the top cells of a forecast).

    Returns
    -------
    Path
        The file written.
    """
    if np.shape(surface) != grid.shape:
        raise ParameterError("surface", np.shape(surface), f"an array of shape {grid.shape}")
    figure = _figure(7, 7 * grid.ny / max(grid.nx, 1) + 0.8)
    axes = figure.add_subplot()
    masked = np.ma.masked_where(~grid.valid, surface)
    xmin, ymin, xmax, ymax = grid.bounds
    image = axes.imshow(masked, origin="lower", extent=(xmin, xmax, ymin, ymax), cmap="magma_r")
    if flagged is not None and flagged.any():
        axes.contour(
            flagged.astype(float),
            levels=[0.5],
            colors="red",
            linewidths=0.8,
            origin="lower",
            extent=(xmin, xmax, ymin, ymax),
        )
    axes.set_title(title)
    axes.set_xlabel(f"x (m, {grid.crs})")
    axes.set_ylabel("y (m)")
    figure.colorbar(image, ax=axes, label=label, shrink=0.8)
    return _save(figure, path)


def plot_knox(result: KnoxResult, path: str | Path) -> Path:
    """Heat map of Knox ratios (observed / expected) with p-values written in the cells.

    Returns
    -------
    Path
        The file written.
    """
    ratio = result.ratio
    figure = _figure(7, 4)
    axes = figure.add_subplot()
    image = axes.imshow(ratio, cmap="RdBu_r", vmin=0.5, vmax=1.5, aspect="auto")
    s, t = result.space_bands_m, result.time_bands_days
    axes.set_yticks(range(len(s) - 1), [f"{a:g}-{b:g} m" for a, b in itertools.pairwise(s)])
    axes.set_xticks(range(len(t) - 1), [f"{a:g}-{b:g} d" for a, b in itertools.pairwise(t)])
    for (i, j), p_value in np.ndenumerate(result.p_values):
        axes.text(j, i, f"{ratio[i, j]:.2f}\np={p_value:.3f}", ha="center", va="center")
    axes.set_title("Knox near-repeat ratio (observed / expected pairs)")
    figure.colorbar(image, ax=axes, label="ratio")
    return _save(figure, path)


def plot_totals(
    totals: dict[str, int], path: str | Path, *, title: str = "Incidents by category"
) -> Path:
    """Horizontal bar chart of counts per group, largest on top.

    Returns
    -------
    Path
        The file written.
    """
    items = sorted(totals.items(), key=lambda item: item[1])
    figure = _figure(7, 0.8 + 0.3 * max(1, len(items)))
    axes = figure.add_subplot()
    axes.barh([str(k) for k, _ in items], [v for _, v in items], color="#1f4e79")
    axes.set_title(title)
    axes.set_xlabel("incidents")
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, path)
