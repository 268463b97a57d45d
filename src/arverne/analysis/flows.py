"""Analysis on the platform's data: statistics, hotspots, logged forecasts, the monitor.

Every forecast run is stored with its method, parameters, data window, categories, who
ran it and why, and whether it failed; a run is a proposal for a human to approve (the
patrol plan is made by people), never an automatic deployment.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from arverne.analysis import service
from arverne.analysis.models import ForecastRun
from arverne.analytics import reports
from arverne.analytics.grid import Grid
from arverne.analytics.responsible import EXCLUSION_EXPLANATION, concentration_report, patrol_events
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow

METHODS = ("naive", "decay", "kde", "prospective", "etas", "gbm")


def study_grid(area_lonlat: Any, crs: str, *, cell_m: float) -> Grid:
    """Grid over the city's area in its metric CRS (valid cells inside the area)."""
    from arverne.analytics.io import project_geometry

    if not 25 <= cell_m <= 2000:
        raise InvalidInputError("cell_m", f"cell size must be 25..2000 m (got {cell_m:g})")
    return Grid.from_polygon(project_geometry(area_lonlat, crs=crs), cell_m=cell_m, crs=crs)


#: Round cell sizes offered by default, in metres.
NICE_CELLS_M = (25, 50, 100, 150, 200, 250, 500, 1000)


def default_cell_m(area_lonlat: Any, crs: str, *, target_cells: int = 1500) -> float:
    """A round cell size giving about ``target_cells`` cells over the study area.

    Parameters
    ----------
    area_lonlat
        The study area (shapely geometry, WGS84).
    crs
        Its metric CRS.
    target_cells
        Wanted number of cells.

    Returns
    -------
    float
        One of :data:`NICE_CELLS_M` (200 m when the area is empty).
    """
    from arverne.analytics.io import project_geometry

    area_m2 = float(project_geometry(area_lonlat, crs=crs).area)
    if area_m2 <= 0:
        return 200.0
    ideal = math.sqrt(area_m2 / target_cells)
    return float(min(NICE_CELLS_M, key=lambda c: abs(math.log(c / ideal))))


def model_events(
    session: Session, *, days: float, crs: str, categories: list[str] | None
) -> pd.DataFrame:
    """Incidents of the last ``days`` reduced to the model allow-list (time, x, y, category).

    Parameters
    ----------
    session
        Database session.
    days
        Look-back period in days (1..3660).
    crs
        Metric CRS of ``x``/``y``.
    categories
        Analytics categories to keep (all when ``None``).

    Returns
    -------
    pandas.DataFrame
        ``time`` (UTC), ``x``, ``y`` (metres in ``crs``), ``category``; never a person.
    """
    service.check_days("days", days, low=1, high=3660)
    since = utcnow() - dt.timedelta(days=days)
    frame = service.incident_events(session, since=since, categories=categories)
    # Only place, time and category reach a model (the forecasters enforce an allow-list).
    return service.project(frame, crs)[["time", "x", "y", "category"]]


def statistics(
    session: Session, *, days: float, time_zone: str, crs: str, categories: list[str] | None = None
) -> dict[str, Any]:
    """Counts, trends and the hour x weekday heatmap over the last ``days``."""
    events = model_events(session, days=days, crs=crs, categories=categories)
    if events.empty:
        return {"n_events": 0, "summary": None, "heatmap": None}
    return {
        "n_events": len(events),
        "summary": reports.stats_summary(events, tz=time_zone, period="M", trend_period="W"),
        "heatmap": reports.heatmap(events, tz=time_zone),
    }


def hotspots(
    session: Session,
    *,
    area_lonlat: Any,
    crs: str,
    days: float,
    cell_m: float,
    method: str,
    categories: list[str] | None = None,
) -> dict[str, Any]:
    """Gi* hot spots (FDR-corrected) or a KDE surface over the last ``days``."""
    if method not in ("gi", "kde"):
        raise InvalidInputError("method", "use 'gi' (Getis-Ord Gi*) or 'kde'")
    events = model_events(session, days=days, crs=crs, categories=categories)
    events, excluded = patrol_events(events)
    grid = study_grid(area_lonlat, crs, cell_m=cell_m)
    try:
        if method == "gi":
            out = reports.gi_star_hotspots(events, grid=grid)
        else:
            out = reports.kde_hotspots(events, grid=grid, bandwidth_m=2 * cell_m)
    except ValueError as exc:
        raise InvalidInputError("events", str(exc)) from exc
    out["excluded_categories"] = excluded
    out["responsible_use"] = EXCLUSION_EXPLANATION
    return out


def run_forecast(
    session: Session,
    ctx: AuditContext,
    *,
    area_lonlat: Any,
    crs: str,
    method: str,
    reason: str,
    train_days: float = 365,
    horizon_days: float = 7,
    cell_m: float = 200,
    coverage: float = 0.05,
    categories: list[str] | None = None,
) -> tuple[ForecastRun, dict[str, Any] | None]:
    """Fit a place-based forecast on the platform's incidents and store the run.

    A method that cannot fit is stored as ``failed`` with its error (never replaced by
    another method silently). Returns the stored run and, when it succeeded, the result
    (flagged cells as GeoJSON, expected counts with 90 % intervals).
    """
    if method not in METHODS:
        raise InvalidInputError(
            "method", f"unknown method {method!r}; use one of {', '.join(METHODS)}"
        )
    if not reason.strip():
        raise InvalidInputError("reason", "say why the forecast is run (it is logged)")
    if not 0 < coverage <= 0.5:
        raise InvalidInputError("coverage", "share of the area to flag, between 0 and 0.5")
    service.check_days("horizon_days", horizon_days, low=1, high=90)
    events = model_events(session, days=train_days, crs=crs, categories=categories)
    events, excluded = patrol_events(events)
    grid = study_grid(area_lonlat, crs, cell_m=cell_m)
    run = ForecastRun(
        created_at=utcnow(),
        created_by=ctx.actor,
        reason=reason.strip(),
        method=method,
        status="ok",
        cell_m=cell_m,
        coverage=coverage,
        categories=sorted(categories or []),
        excluded=excluded,
        record={},
        flagged=[],
    )
    result: dict[str, Any] | None = None
    try:
        forecast = reports.run_forecast(
            events, grid=grid, method=method, train_days=train_days,
            horizon_days=horizon_days, end=utcnow(), coverage=coverage,
        )  # fmt: skip
    except (ValueError, np.linalg.LinAlgError) as exc:
        run.status, run.error = "failed", str(exc)
    else:
        result = forecast.to_dict()
        run.record = forecast.to_record()
        run.top_cells = result["top_cells"]
        run.flagged = np.argwhere(forecast.flagged).tolist()
        run.n_training_events = forecast.n_training_events
        run.train_start = forecast.train_start.to_pydatetime()
        run.train_end = forecast.train_end.to_pydatetime()
        run.horizon_end = forecast.end.to_pydatetime()
    session.add(run)
    session.flush()
    audit.record(
        session,
        ctx,
        action="forecast.run",
        object_type="forecast_run",
        object_id=run.id,
        reason=run.reason,
        details={"method": method, "status": run.status, "cell_m": cell_m},
    )
    return run, result


def monitor(
    session: Session,
    *,
    area_lonlat: Any,
    crs: str,
    districts: list[tuple[str, Any]],
    last: int = 20,
) -> dict[str, Any]:
    """How concentrated the flagged areas of recent runs are, district by district."""
    runs = [r for r in service.list_runs(session, limit=last) if r.status == "ok" and r.flagged]
    if not runs or not districts:
        return {"runs": len(runs), "report": None}
    from arverne.analytics.io import project_geometry

    by_cell: dict[float, Grid] = {}
    flags = []
    for run in reversed(runs):
        grid = by_cell.setdefault(run.cell_m, study_grid(area_lonlat, crs, cell_m=run.cell_m))
        mask = np.zeros((grid.ny, grid.nx), dtype=bool)
        for row, col in run.flagged:
            if row < grid.ny and col < grid.nx:
                mask[row, col] = True
        flags.append((grid, mask))
    grid = flags[-1][0]
    same = [m for g, m in flags if g is grid]
    xs = grid.x0 + (np.arange(grid.nx) + 0.5) * grid.cell
    ys = grid.y0 + (np.arange(grid.ny) + 0.5) * grid.cell
    cx, cy = np.meshgrid(xs, ys)
    import shapely

    centres = shapely.points(cx.ravel(), cy.ravel())
    labels = np.full(centres.size, -1, dtype=np.int64)
    for i, (_, polygon) in enumerate(districts):
        inside = shapely.contains(project_geometry(polygon, crs=crs), centres)
        labels[(labels < 0) & inside] = i
    report = concentration_report(
        same, labels.reshape(grid.ny, grid.nx), names=[n for n, _ in districts]
    )
    return {"runs": len(same), "report": report.to_dict()}
