"""Backtests on the platform's own incidents, stored and audited like forecast runs.

A backtest replays the last few horizons: each method is fitted on the training days
before a window and scored on what happened in it (hit rate, PAI, PEI against the oracle,
see :mod:`arverne.analytics.evaluation`). It runs inside the request, so it is bounded:
at most :data:`MAX_WINDOWS` windows and :data:`MAX_TRAIN_DAYS` days of training. Only
time, place and category reach the models; enforcement-driven categories are left out as
for patrol forecasts. A method that fails is reported as failed in the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from arverne.analysis import flows
from arverne.analysis.models import ForecastRun
from arverne.analytics import evaluation
from arverne.analytics.errors import NotEnoughDataError
from arverne.analytics.responsible import EXCLUSION_EXPLANATION, patrol_events
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow

METHOD = "backtest"
MAX_WINDOWS = 12
MAX_TRAIN_DAYS = 1096  # three years
COVERAGES = (0.01, 0.02, 0.05, 0.1, 0.2)


def _json_safe(value: Any) -> Any:
    """Plain JSON values (NaN and infinities become ``None``; tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def check_request(
    *, methods: Sequence[str], reason: str, train_days: float, horizon_days: float, windows: int
) -> list[str]:
    """Validate a backtest request; return the methods without duplicates, in order.

    Raises
    ------
    InvalidInputError
        Naming the field: unknown or no method, empty reason, too many windows, too long a
        training period, a horizon outside 1..90 days.
    """
    chosen = list(dict.fromkeys(methods))
    if not chosen:
        raise InvalidInputError("methods", f"choose at least one of {', '.join(flows.METHODS)}")
    unknown = [m for m in chosen if m not in flows.METHODS]
    if unknown:
        raise InvalidInputError(
            "methods", f"unknown {', '.join(unknown)}; use {', '.join(flows.METHODS)}"
        )
    if not reason.strip():
        raise InvalidInputError("reason", "say why the backtest is run (it is logged)")
    if not 1 <= windows <= MAX_WINDOWS:
        raise InvalidInputError(
            "windows", f"1..{MAX_WINDOWS} windows (got {windows}); run more with the CLI"
        )
    if not 14 <= train_days <= MAX_TRAIN_DAYS:
        raise InvalidInputError(
            "train_days",
            f"14..{MAX_TRAIN_DAYS} days, three years at most (got {train_days:g}); "
            "run longer backtests with the CLI",
        )
    if not 1 <= horizon_days <= 90:
        raise InvalidInputError("horizon_days", f"1..90 days (got {horizon_days:g})")
    return chosen


def run_backtest(
    session: Session,
    ctx: AuditContext,
    *,
    area_lonlat: Any,
    crs: str,
    methods: Sequence[str],
    reason: str,
    train_days: float = 365,
    horizon_days: float = 7,
    windows: int = 4,
    cell_m: float = 200,
    categories: list[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> ForecastRun:
    """Backtest methods on the platform's incidents; store and audit the run.

    Parameters
    ----------
    session
        Database session (the caller commits).
    ctx
        Who runs it (audit actor, request id).
    area_lonlat, crs
        The city's study area (WGS84 geometry) and its metric CRS.
    methods
        Forecasting methods (see :data:`arverne.analysis.flows.METHODS`).
    reason
        Why it is run; stored with the run and in the audit log.
    train_days, horizon_days, windows
        Training length, horizon and number of rolling windows (bounded).
    cell_m
        Grid cell size in metres.
    categories
        Analytics categories to keep (enforcement-driven ones are still excluded).
    n_boot, seed
        Bootstrap resamples and seed of the tie-breaking and the bootstrap.

    Returns
    -------
    ForecastRun
        The stored run: method ``"backtest"``, status ``ok`` (some method scored) or
        ``failed`` (with the error), the report in ``backtest``.
    """
    chosen = check_request(
        methods=methods, reason=reason, train_days=train_days,
        horizon_days=horizon_days, windows=windows,
    )  # fmt: skip
    grid = flows.study_grid(area_lonlat, crs, cell_m=cell_m)
    # One more day: the windows end at the midnight after the last event.
    days = train_days + windows * horizon_days + 1
    events = flows.model_events(session, days=days, crs=crs, categories=categories)
    events, excluded = patrol_events(events)
    settings = {
        "methods": chosen,
        "train_days": train_days,
        "horizon_days": horizon_days,
        "windows": windows,
        "cell_m": cell_m,
        "coverages": list(COVERAGES),
        "seed": seed,
        "n_boot": n_boot,
        "responsible_use": EXCLUSION_EXPLANATION,
    }
    run = ForecastRun(
        created_at=utcnow(),
        created_by=ctx.actor,
        reason=reason.strip(),
        method=METHOD,
        status="ok",
        cell_m=cell_m,
        coverage=max(COVERAGES),
        categories=sorted(categories or []),
        excluded=excluded,
        record=settings,
        flagged=[],
        n_training_events=len(events),
    )
    try:
        if events.empty:
            raise NotEnoughDataError(
                "incidents in the period", 0, 1, "widen the categories or shorten the period"
            )
        result = evaluation.backtest(
            events, grid=grid, methods=chosen, train_days=train_days,
            horizon_days=horizon_days, windows=windows, coverages=COVERAGES,
            seed=seed, n_boot=n_boot,
        )  # fmt: skip
    except (ValueError, np.linalg.LinAlgError) as exc:
        run.status, run.error = "failed", str(exc)
    else:
        run.backtest = _json_safe(result.to_dict())
        run.train_start = result.windows[0].train_start.to_pydatetime()
        run.train_end = result.windows[-1].start.to_pydatetime()
        run.horizon_end = result.windows[-1].end.to_pydatetime()
        failed = [m for m in result.methods.values() if m.status != "ok"]
        if len(failed) == len(result.methods):
            run.status = "failed"
            run.error = "; ".join(f"{m.name}: {m.error}" for m in failed)
    session.add(run)
    session.flush()
    audit.record(
        session,
        ctx,
        action="forecast.backtest",
        object_type="forecast_run",
        object_id=run.id,
        reason=run.reason,
        details={
            "methods": chosen,
            "status": run.status,
            "windows": windows,
            "train_days": train_days,
            "horizon_days": horizon_days,
            "cell_m": cell_m,
        },
    )
    return run


def table(run: ForecastRun) -> dict[str, Any] | None:
    """The backtest table of a stored run: methods x coverages, and the oracle.

    Returns
    -------
    dict or None
        ``coverages`` (labels such as ``"5%"``), ``rows`` (one per method: ``status``,
        ``error``, ``fallbacks``, ``log_score``, ``calibration_ratio``, ``skill`` and per
        coverage ``hit_rate``, ``pai``, ``pei`` with 95 % bootstrap intervals and
        ``skill_vs_naive``), ``oracle`` (hit rate per coverage), ``windows`` and
        ``n_events``; ``None`` when the backtest did not run.
    """
    report = run.backtest
    if not report:
        return None
    coverages = [float(c) for c in report["coverages"]]
    labels = [f"{c * 100:g}%" for c in coverages]
    rows = []
    for name, method in report["methods"].items():
        cells: dict[str, Any] = {}
        for coverage, label in zip(coverages, labels, strict=True):
            stats = method["pooled"].get(label)
            if not stats:
                continue
            ci = stats.get("hit_rate_ci95") or [None, None]
            cells[label] = {
                "hit_rate": stats["hit_rate"],
                "hit_rate_ci95": ci,
                "pai": stats["pai"],
                "pai_ci95": [None if v is None else v / coverage for v in ci],
                "pei": stats["pei"],
                "pei_ci95": stats.get("pei_ci95") or [None, None],
                "skill_vs_naive": stats.get("skill_vs_naive"),
                "skill_vs_naive_ci95": stats.get("skill_vs_naive_ci95"),
            }
        rows.append(
            {
                "method": name,
                "status": method["status"],
                "error": method["error"],
                "fallbacks": method["fallbacks"],
                "log_score": method["log_score"],
                "calibration_ratio": method["calibration_ratio"],
                "interval_coverage_90": method["interval_coverage_90"],
                "fit_s": method["fit_s"],
                "cells": cells,
            }
        )
    return {
        "coverages": labels,
        "rows": rows,
        "oracle": {label: (report["oracle"].get(label) or {}).get("oracle_hit_rate")
                   for label in labels},
        "windows": report["windows"],
        "n_events": report["settings"]["n_events"],
        "grid": report["grid"],
    }  # fmt: skip
