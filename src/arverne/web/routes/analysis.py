"""``/api/v1/analysis``: statistics, hotspots, logged forecasts and backtests, the monitor.

Place-based only: these endpoints read incident places, times and categories, never a
person. Forecasts are proposals for people to act on, each run stored with its reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status

from arverne.analysis import backtests, flows, service
from arverne.analysis.models import ForecastRun
from arverne.analysis.schemas import BacktestIn, BacktestRunOut, ForecastIn, ForecastRunOut
from arverne.errors import NotFoundError
from arverne.security.principal import Principal
from arverne.web.deps import AuditCtx, CityDep, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/analysis", tags=["analysis"])
Days = Annotated[float, Query(ge=1, le=3660, description="Look back this many days")]
Categories = Annotated[list[str] | None, Query(description="Analytics categories (repeat)")]


@router.get("/stats", summary="Counts, trends and hour x weekday heatmap")
def stats(
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    days: Days = 365,
    category: Categories = None,
    _: Principal = require("analytics:read"),
) -> dict[str, Any]:
    """Statistics of the platform's incidents over the last ``days``."""
    _, crs = city.study_area()
    return flows.statistics(
        session, days=days, time_zone=settings.time_zone, crs=crs, categories=category
    )


@router.get("/hotspots", summary="Gi* hot spots (FDR) or KDE surface")
def hotspots(
    session: SessionDep,
    city: CityDep,
    days: Days = 365,
    cell_m: Annotated[float, Query(ge=25, le=2000)] = 200,
    method: Literal["gi", "kde"] = "gi",
    category: Categories = None,
    _: Principal = require("analytics:read"),
) -> dict[str, Any]:
    """Where incidents concentrate, inside the city's area, as GeoJSON cells."""
    area, crs = city.study_area()
    return flows.hotspots(
        session, area_lonlat=area, crs=crs, days=days, cell_m=cell_m, method=method,
        categories=category,
    )  # fmt: skip


@router.post("/forecasts", status_code=status.HTTP_201_CREATED, summary="Run and log a forecast")
def run_forecast(
    body: ForecastIn,
    session: SessionDep,
    city: CityDep,
    ctx: AuditCtx,
    _: Principal = require("forecast:run"),
) -> dict[str, Any]:
    """Fit a place-based forecast; the run is stored (failed runs too) with the reason."""
    area, crs = city.study_area()
    run, result = flows.run_forecast(
        session, ctx, area_lonlat=area, crs=crs, method=body.method, reason=body.reason,
        train_days=body.train_days, horizon_days=body.horizon_days, cell_m=body.cell_m,
        coverage=body.coverage, categories=body.categories,
    )  # fmt: skip
    return {"run": ForecastRunOut.model_validate(run).model_dump(mode="json"), "result": result}


@router.get("/forecasts", summary="Forecast runs (and backtests), newest first")
def list_runs(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    method: Annotated[str | None, Query(max_length=32, description="Only this method")] = None,
    run_status: Annotated[
        Literal["ok", "failed"] | None, Query(alias="status", description="Only this status")
    ] = None,
    _: Principal = require("analytics:read"),
) -> list[ForecastRunOut]:
    """The forecast log: method, window, categories, who and why."""
    runs = service.list_runs(session, limit=limit, method=method, status=run_status)
    return [ForecastRunOut.model_validate(r) for r in runs]


@router.get("/forecasts/{run_id}", summary="One forecast run")
def get_run(
    run_id: int, session: SessionDep, _: Principal = require("analytics:read")
) -> ForecastRunOut:
    """A stored run with its flagged cells."""
    return ForecastRunOut.model_validate(service.get_run(session, run_id))


@router.get("/monitor", summary="Concentration of flagged areas over recent runs")
def monitor(
    session: SessionDep,
    city: CityDep,
    last: Annotated[int, Query(ge=2, le=200)] = 20,
    _: Principal = require("analytics:read"),
) -> dict[str, Any]:
    """District shares of flagged cells, Gini, persistence and warnings."""
    area, crs = city.study_area()
    pack = getattr(city, "pack", None)
    districts = list(pack.districts) if pack is not None else []
    return flows.monitor(session, area_lonlat=area, crs=crs, districts=districts, last=last)


def _backtest_out(run: ForecastRun) -> dict[str, Any]:
    return {
        "run": BacktestRunOut.model_validate(run).model_dump(mode="json"),
        "table": backtests.table(run),
    }


@router.post("/backtests", status_code=status.HTTP_201_CREATED, summary="Run and log a backtest")
def run_backtest(
    body: BacktestIn,
    session: SessionDep,
    city: CityDep,
    ctx: AuditCtx,
    _: Principal = require("forecast:run"),
) -> dict[str, Any]:
    """Rolling-origin backtest (at most 12 windows, 3 years of training), stored and audited.

    Returns the run and its table: hit rate, PAI and PEI per method and coverage with 95 %
    bootstrap intervals, and the oracle. A method that fails is marked failed in the table.
    """
    area, crs = city.study_area()
    run = backtests.run_backtest(
        session, ctx, area_lonlat=area, crs=crs, methods=body.methods, reason=body.reason,
        train_days=body.train_days, horizon_days=body.horizon_days, windows=body.windows,
        cell_m=body.cell_m, categories=body.categories,
    )  # fmt: skip
    return _backtest_out(run)


@router.get("/backtests", summary="Stored backtests, newest first")
def list_backtests(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    _: Principal = require("analytics:read"),
) -> list[dict[str, Any]]:
    """Backtest runs with who ran them, why, and their tables."""
    return [
        _backtest_out(r) for r in service.list_runs(session, limit=limit, method=backtests.METHOD)
    ]


@router.get("/backtests/{run_id}", summary="One backtest with its per-window report")
def get_backtest(
    run_id: int, session: SessionDep, _: Principal = require("analytics:read")
) -> dict[str, Any]:
    """A stored backtest: its table and the full report (per-window scores, grid)."""
    run = service.get_run(session, run_id)
    if run.method != backtests.METHOD:
        raise NotFoundError("backtest", run_id)
    return {**_backtest_out(run), "report": run.backtest}
