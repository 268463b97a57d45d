"""Ready-to-serve results: the entry points the CLI and the web layer call.

Each function takes the clean incident table of :mod:`arverne.analytics.io` (``time``
UTC, ``x``/``y`` metres in the grid CRS, ``category``) and returns plain dicts or small
dataclasses with a ``to_dict()``: JSON values only, coordinates in WGS84 (GeoJSON order
lon, lat) wherever a map needs them, metric grid parameters alongside. Nothing here
touches a database or a web framework; storing a forecast run (with who ran it and why)
is the caller's job, from :meth:`ForecastRun.to_record`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import Transformer

from arverne.analytics.errors import NotEnoughDataError, ParameterError
from arverne.analytics.forecast import make_forecaster
from arverne.analytics.forecast.base import TimeLike, to_timestamp
from arverne.analytics.grid import Grid
from arverne.analytics.hotspots import hot_spots, kde_surface
from arverne.analytics.knox import knox_test
from arverne.analytics.metrics import flag_cells, flagged_count
from arverne.analytics.responsible import ENFORCEMENT_DRIVEN, EXCLUSION_EXPLANATION
from arverne.analytics.stats import (
    WEEKDAYS,
    counts_by,
    hour_weekday,
    seasonal_index,
    to_json_ready,
    trend,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _span(events: pd.DataFrame) -> dict[str, Any]:
    times = pd.to_datetime(events["time"], utc=True)
    return {
        "n_events": len(events),
        "first": times.min().isoformat() if len(events) else None,
        "last": times.max().isoformat() if len(events) else None,
    }


def stats_summary(
    events: pd.DataFrame,
    *,
    tz: str = "UTC",
    period: str = "M",
    by: Sequence[str] = ("category",),
    trend_period: str = "W",
    rolling_periods: int = 4,
) -> dict[str, Any]:
    """Counts by group and period, trend with year-over-year change, seasonality.

    Parameters
    ----------
    events
        Clean incidents.
    tz
        The city's zone: periods and clock hours are cut there.
    period
        Period of the counts table (``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``).
    by
        Grouping columns of the counts table (e.g. ``("category", "district")``).
    trend_period, rolling_periods
        Period and rolling-mean window of the trend.

    Returns
    -------
    dict
        ``n_events``, ``first``, ``last``, ``timezone``, ``totals`` (per value of each
        ``by`` column), ``counts`` (records), ``trend`` (records with ``rolling_mean``
        and ``yoy_change``), ``seasonal_index`` and ``hour_weekday`` (see
        :func:`heatmap`).
    """
    if len(events) == 0:
        raise NotEnoughDataError("events for statistics", 0, 1, "import events first")
    totals = {
        column: events[column].astype(str).value_counts().to_dict()
        for column in by
        if column in events.columns
    }
    summary: dict[str, Any] = to_json_ready(
        {
            **_span(events),
            "timezone": tz,
            "period": period,
            "by": list(by),
            "totals": totals,
            "counts": counts_by(events, by=by, period=period, tz=tz),
            "trend": trend(events, period=trend_period, rolling_periods=rolling_periods, tz=tz),
            "seasonal_index": seasonal_index(events, tz=tz),
            "hour_weekday": heatmap(events, tz=tz),
        }
    )
    return summary


def heatmap(events: pd.DataFrame, *, tz: str = "UTC") -> dict[str, Any]:
    """Hour x weekday counts in the city's local time.

    Returns
    -------
    dict
        ``weekdays`` (Monday first), ``hours`` (0-23), ``counts`` (7 lists of 24 ints,
        one per weekday), ``n_events`` and ``timezone``.
    """
    matrix = hour_weekday(events, tz=tz)
    return {
        "weekdays": list(WEEKDAYS),
        "hours": list(range(24)),
        "counts": matrix.tolist(),
        "n_events": int(matrix.sum()),
        "timezone": tz,
    }


def knox_summary(
    events: pd.DataFrame,
    *,
    space_bands_m: Sequence[float] = (0, 100, 200, 300, 400, 500),
    time_bands_days: Sequence[float] = (0, 7, 14, 21, 28),
    n_permutations: int = 999,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Knox near-repeat test of the events (see :func:`arverne.analytics.knox.knox_test`).

    Returns
    -------
    dict
        ``n_events``, ``n_permutations`` and one cell per (space band, time band) with
        observed and expected pairs, their ratio and the Monte Carlo p-value.
    """
    times = pd.to_datetime(events["time"], utc=True)
    t_days = np.asarray((times - times.min()).dt.total_seconds(), dtype=np.float64) / 86_400.0
    result = knox_test(
        events["x"].to_numpy(float),
        events["y"].to_numpy(float),
        t_days,
        space_bands_m=space_bands_m,
        time_bands_days=time_bands_days,
        n_permutations=n_permutations,
        seed=seed,
        progress=progress,
    )
    return result.to_dict()


def cells_geojson(
    grid: Grid,
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    properties: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """GeoJSON FeatureCollection (WGS84 lon/lat) of grid cells as square polygons.

    Parameters
    ----------
    grid
        Grid of the cells.
    rows, cols
        Cell rows (0 = south) and columns.
    properties
        One properties object per cell.

    Returns
    -------
    dict
        A FeatureCollection; each ring lists the cell corners counter-clockwise.
    """
    to_wgs = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    x0 = grid.x0 + c * grid.cell
    y0 = grid.y0 + r * grid.cell
    xs = np.stack([x0, x0 + grid.cell, x0 + grid.cell, x0, x0], axis=1)
    ys = np.stack([y0, y0, y0 + grid.cell, y0 + grid.cell, y0], axis=1)
    lon, lat = (np.asarray(a, dtype=float) for a in to_wgs.transform(xs, ys))
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [np.round(np.column_stack([lon[i], lat[i]]), 7).tolist()],
            },
            "properties": dict(properties[i]),
        }
        for i in range(r.size)
    ]
    return {"type": "FeatureCollection", "features": features}


def gi_star_hotspots(
    events: pd.DataFrame,
    *,
    grid: Grid,
    radius_m: float | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Getis-Ord Gi* hot spots of event counts inside the study area (FDR-corrected).

    Parameters
    ----------
    events
        Clean incidents in ``grid.crs``.
    grid
        Grid with the study-area mask.
    radius_m
        Neighbourhood radius (the 8 surrounding cells by default).
    alpha
        False discovery rate (Benjamini–Hochberg).

    Returns
    -------
    dict
        ``alpha``, ``radius_m``, ``correction``, ``n_hot``, ``grid``, ``cells`` (row,
        col, centre x/y in the grid CRS, z, p, q, count), ``geojson`` (hot cells in
        WGS84) and the event span.
    """
    counts = grid.counts(events["x"].to_numpy(float), events["y"].to_numpy(float))
    result = hot_spots(counts, grid=grid, radius_m=radius_m, alpha=alpha)
    out = result.to_dict(grid)
    for cell in out["cells"]:
        cell["count"] = int(counts[cell["row"], cell["col"]])
    rows = np.array([cell["row"] for cell in out["cells"]], dtype=np.int64)
    cols = np.array([cell["col"] for cell in out["cells"]], dtype=np.int64)
    props = [{k: cell[k] for k in ("z", "q", "count")} for cell in out["cells"]]
    out["geojson"] = cells_geojson(grid, rows, cols, props)
    out.update(_span(events))
    return out


def kde_hotspots(
    events: pd.DataFrame,
    *,
    grid: Grid,
    bandwidth_m: float,
    coverage: float = 0.05,
) -> dict[str, Any]:
    """Kernel density surface of the events and its top ``coverage`` share of cells.

    Parameters
    ----------
    events
        Clean incidents in ``grid.crs``.
    grid
        Grid with the study-area mask.
    bandwidth_m
        Gaussian kernel standard deviation, in metres.
    coverage
        Share of valid cells to report as the hottest.

    Returns
    -------
    dict
        ``bandwidth_m``, ``coverage``, ``grid``, ``surface`` (``(ny, nx)`` nested lists,
        row 0 south, events per cell, 0 outside the study area), ``top_cells`` (GeoJSON,
        WGS84) and the event span.
    """
    surface = kde_surface(
        events["x"].to_numpy(float), events["y"].to_numpy(float), grid=grid, bandwidth_m=bandwidth_m
    )
    surface = np.where(grid.valid, surface, 0.0)
    k = flagged_count(grid.n_valid, coverage)
    flagged = flag_cells(surface, grid.valid, k, rng=np.random.default_rng(0))
    rows, cols = np.nonzero(flagged)
    order = np.argsort(-surface[rows, cols], kind="stable")
    rows, cols = rows[order], cols[order]
    props = [
        {"rank": i + 1, "density": round(float(surface[r, c]), 4)}
        for i, (r, c) in enumerate(zip(rows, cols, strict=True))
    ]
    return {
        "bandwidth_m": float(bandwidth_m),
        "coverage": coverage,
        "grid": grid.to_dict(),
        "surface": np.round(surface, 6).tolist(),
        "top_cells": cells_geojson(grid, rows, cols, props),
        **_span(events),
    }


@dataclass
class ForecastRun:
    """One forecast: what was fitted on which data, and the predicted surface."""

    method: str
    params: dict[str, Any]
    grid: Grid
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp
    n_training_events: int
    categories: list[str]
    coverage: float
    surface: FloatArray = field(repr=False)
    lower: FloatArray = field(repr=False)
    upper: FloatArray = field(repr=False)
    flagged: BoolArray = field(repr=False)
    fallback: str | None = None

    def to_record(self) -> dict[str, Any]:
        """What a forecast log must keep: method, parameters, data window, categories."""
        excluded = sorted(ENFORCEMENT_DRIVEN - set(self.categories))
        return {
            "method": self.method,
            "params": to_json_ready(self.params),
            "fallback": self.fallback,
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "n_training_events": self.n_training_events,
            "categories": self.categories,
            "enforcement_driven_excluded": excluded,
            "responsible_use": EXCLUSION_EXPLANATION,
            "coverage": self.coverage,
            "grid": self.grid.to_dict(),
        }

    def to_dict(self, *, include_surface: bool = False) -> dict[str, Any]:
        """The record plus the flagged cells (GeoJSON, WGS84) and, on request, the surface.

        Parameters
        ----------
        include_surface
            Add ``surface``, ``lower_90`` and ``upper_90`` as ``(ny, nx)`` nested lists
            (row 0 south).
        """
        rows, cols = np.nonzero(self.flagged)
        order = np.argsort(-self.surface[rows, cols], kind="stable")
        rows, cols = rows[order], cols[order]
        props = [
            {
                "rank": i + 1,
                "row": int(r),
                "col": int(c),
                "expected": round(float(self.surface[r, c]), 4),
                "lower_90": float(self.lower[r, c]),
                "upper_90": float(self.upper[r, c]),
            }
            for i, (r, c) in enumerate(zip(rows, cols, strict=True))
        ]
        total = float(self.surface.sum())
        out = self.to_record()
        out.update(
            {
                "n_flagged": int(rows.size),
                "expected_total": total,
                "flagged_expected_share": float(self.surface[self.flagged].sum() / total)
                if total > 0
                else 0.0,
                "top_cells": cells_geojson(self.grid, rows, cols, props),
            }
        )
        if include_surface:
            out["surface"] = np.round(self.surface, 6).tolist()
            out["lower_90"] = self.lower.tolist()
            out["upper_90"] = self.upper.tolist()
        return out


def run_forecast(
    events: pd.DataFrame,
    *,
    grid: Grid,
    method: str,
    train_days: float,
    horizon_days: float,
    end: TimeLike | None = None,
    coverage: float = 0.05,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> ForecastRun:
    """Fit one method on the ``train_days`` before ``end`` and forecast the next horizon.

    Parameters
    ----------
    events
        Clean incidents (enforcement-driven categories already filtered out, see
        :func:`arverne.analytics.responsible.patrol_events`).
    grid
        Forecasting grid with its study-area mask.
    method
        One of :data:`arverne.analytics.forecast.METHODS`.
    train_days, horizon_days
        Training length and forecast horizon, in days.
    end
        End of training and start of the forecast; by default the midnight (UTC) after
        the last event.
    coverage
        Share of valid cells to flag.
    params
        Constructor parameters of the method.
    seed
        Seed of the tie-breaking among equal cells.

    Returns
    -------
    ForecastRun
    """
    if not (train_days > 0 and horizon_days > 0):
        raise ParameterError("train_days/horizon_days", (train_days, horizon_days), "> 0")
    if len(events) == 0:
        raise NotEnoughDataError("events to forecast from", 0, 1, "import events first")
    if end is None:
        last = pd.to_datetime(events["time"], utc=True).max()
        stop = last.floor("D") + pd.Timedelta(days=1)
    else:
        stop = to_timestamp(end, name="end")
    start = stop - pd.Timedelta(days=train_days)
    horizon_end = stop + pd.Timedelta(days=horizon_days)
    model = make_forecaster(method, **dict(params or {}))
    model.fit(events, grid=grid, start=start, end=stop)
    surface = model.predict(start=stop, end=horizon_end)
    lower, upper = model.predict_interval(start=stop, end=horizon_end, level=0.9)
    k = flagged_count(grid.n_valid, coverage)
    flagged = flag_cells(surface, grid.valid, k, rng=np.random.default_rng(seed))
    categories = (
        sorted(events["category"].astype(str).unique().tolist())
        if "category" in events.columns
        else []
    )
    return ForecastRun(
        method=method,
        params=model.get_params(),
        grid=grid,
        train_start=start,
        train_end=stop,
        start=stop,
        end=horizon_end,
        n_training_events=int(model.n_events_),
        categories=categories,
        coverage=coverage,
        surface=surface,
        lower=lower,
        upper=upper,
        flagged=flagged,
        fallback=getattr(model, "fallback_", None),
    )
