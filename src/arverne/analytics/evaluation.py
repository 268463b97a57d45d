"""Rolling-origin backtest of grid forecasters.

The last ``windows`` horizons of the data are forecast one after the other, each from a
model fitted on the ``train_days`` before it. For every method and window the harness
records hits and oracle hits at each coverage, the Poisson log-score, the share of cells
inside the 90 % prediction interval and the fit and predict times; it then pools windows
by event count, adds bootstrap confidence intervals over windows and the skill relative
to the naive method. A method that raises is reported as failed with its error; a
forecaster that fell back to a simpler model says so in ``fallbacks``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arverne.analytics.errors import NotEnoughDataError, ParameterError
from arverne.analytics.forecast import GridForecaster, make_forecaster
from arverne.analytics.forecast.base import to_days
from arverne.analytics.grid import Grid
from arverne.analytics.metrics import (
    COVERAGES,
    bootstrap_ratio,
    interval_coverage,
    poisson_log_score,
    pooled,
    window_scores,
)

ProgressCallback = Callable[[str, int], None]
ForecasterFactory = Callable[[], GridForecaster]


@dataclass(frozen=True)
class Window:
    """One backtest window: train on ``[train_start, start)``, score ``[start, end)``."""

    index: int
    train_start: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp

    def to_dict(self) -> dict[str, Any]:
        """ISO-8601 times."""
        return {
            "index": self.index,
            "train_start": self.train_start.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def rolling_windows(
    times: pd.Series, *, train_days: float, horizon_days: float, windows: int
) -> list[Window]:
    """The last ``windows`` horizons of the data, with their training windows.

    The data end is the midnight (UTC) after the last event; window ``K-1`` ends there.

    Raises
    ------
    NotEnoughDataError
        If the history does not cover the first training window.
    """
    if windows < 1:
        raise ParameterError("windows", windows, "1 or more")
    if not (train_days > 0 and horizon_days > 0):
        raise ParameterError("train_days/horizon_days", (train_days, horizon_days), "> 0")
    stamps = pd.to_datetime(times, utc=True)
    first, last = stamps.min(), stamps.max()
    data_end = last.floor("D") + pd.Timedelta(days=1)
    horizon = pd.Timedelta(days=horizon_days)
    train = pd.Timedelta(days=train_days)
    out = []
    for w in range(windows):
        start = data_end - (windows - w) * horizon
        out.append(Window(w, start - train, start, start + horizon))
    history_days = (data_end - first).total_seconds() / 86_400
    needed = train_days + windows * horizon_days
    if out[0].train_start < first.floor("D"):
        raise NotEnoughDataError(
            "days of history",
            int(history_days),
            math.ceil(needed),
            "lower --train-days or --windows (or --horizon-days)",
        )
    return out


@dataclass
class MethodResult:
    """Per-window records and pooled metrics of one method."""

    name: str
    status: str = "ok"
    error: str | None = None
    windows: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: list[str] = field(default_factory=list)
    pooled: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_score: float | None = None
    log_score_gain_vs_naive: float | None = None
    calibration_ratio: float | None = None
    interval_coverage: float | None = None
    fit_s: float = 0.0
    predict_s: float = 0.0


@dataclass
class BacktestResult:
    """Everything a backtest measured; :meth:`to_dict` is the JSON report."""

    grid: Grid
    windows: list[Window]
    coverages: tuple[float, ...]
    methods: dict[str, MethodResult]
    oracle: dict[float, dict[str, float | None]]
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        return {
            "settings": self.settings,
            "grid": self.grid.to_dict(),
            "windows": [w.to_dict() for w in self.windows],
            "coverages": list(self.coverages),
            "oracle": {_pct(c): v for c, v in self.oracle.items()},
            "methods": {
                name: {
                    "status": m.status,
                    "error": m.error,
                    "fallbacks": m.fallbacks,
                    "pooled": m.pooled,
                    "log_score": m.log_score,
                    "log_score_gain_vs_naive": m.log_score_gain_vs_naive,
                    "calibration_ratio": m.calibration_ratio,
                    "interval_coverage_90": m.interval_coverage,
                    "fit_s": round(m.fit_s, 4),
                    "predict_s": round(m.predict_s, 4),
                    "windows": m.windows,
                }
                for name, m in self.methods.items()
            },
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` to ``path``."""
        file = Path(path)
        file.write_text(json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n")
        return file


def _factory(name: str) -> ForecasterFactory:
    def build() -> GridForecaster:
        return make_forecaster(name)

    return build


def _pct(coverage: float) -> str:
    return f"{coverage * 100:g}%"


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def observed_counts(events: pd.DataFrame, grid: Grid, window: Window) -> np.ndarray:
    """Observed ``(ny, nx)`` counts of the events of ``[window.start, window.end)``."""
    t = to_days(events["time"])
    inside = (t >= to_days(window.start)) & (t < to_days(window.end))
    return grid.counts(events["x"].to_numpy(float)[inside], events["y"].to_numpy(float)[inside])


def _summarise(
    result: MethodResult,
    coverages: Sequence[float],
    *,
    baseline: MethodResult | None,
    n_boot: int,
    seed: int,
) -> None:
    records = result.windows
    for c_index, coverage in enumerate(coverages):
        key = _pct(coverage)
        stats: dict[str, Any] = dict(pooled(records, coverage))
        hits = np.array([r["coverage"][coverage]["hits"] for r in records], dtype=float)
        n_star = np.array([r["coverage"][coverage]["oracle_hits"] for r in records], float)
        totals = np.array([r["n_events"] for r in records], dtype=float)
        rng = np.random.default_rng([seed, c_index])
        stats["hit_rate_ci95"] = bootstrap_ratio(hits, totals, n_boot=n_boot, rng=rng)
        rng = np.random.default_rng([seed, c_index])
        stats["pei_ci95"] = bootstrap_ratio(hits, n_star, n_boot=n_boot, rng=rng)
        if baseline is not None and baseline.status == "ok" and baseline is not result:
            base_hits = np.array(
                [r["coverage"][coverage]["hits"] for r in baseline.windows], dtype=float
            )
            base_hr = baseline.pooled[key]["hit_rate"]
            hr = stats["hit_rate"]
            stats["skill_vs_naive"] = (hr / base_hr - 1.0) if hr is not None and base_hr else None
            rng = np.random.default_rng([seed, c_index])
            low, high = bootstrap_ratio(hits, base_hits, n_boot=n_boot, rng=rng)
            stats["skill_vs_naive_ci95"] = (
                None if low is None or high is None else (low - 1.0, high - 1.0)
            )
        result.pooled[key] = stats
    result.log_score = _mean_log_score(records)
    result.interval_coverage = float(np.mean([r["interval_coverage_90"] for r in records]))
    observed = sum(r["n_events"] for r in records)
    forecast = sum(r["forecast_total"] for r in records)
    result.calibration_ratio = forecast / observed if observed else None
    if baseline is not None and baseline.status == "ok" and baseline is not result:
        result.log_score_gain_vs_naive = result.log_score - _mean_log_score(baseline.windows)


def _mean_log_score(records: Sequence[dict[str, Any]]) -> float:
    scores = [r["log_score"] for r in records]
    return float(np.average(scores, weights=[max(1, r["n_events"]) for r in records]))


def backtest(
    events: pd.DataFrame,
    *,
    grid: Grid,
    methods: Sequence[str] | Mapping[str, ForecasterFactory],
    train_days: float,
    horizon_days: float,
    windows: int,
    coverages: Sequence[float] = COVERAGES,
    seed: int = 0,
    n_boot: int = 2000,
    export_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Run a rolling-origin backtest of several forecasters.

    Parameters
    ----------
    events
        Clean incidents (``time``, ``x``, ``y`` in ``grid.crs`` and allowed fields).
    grid
        Forecasting grid with its valid-cell mask.
    methods
        Method names (see :data:`arverne.analytics.forecast.METHODS`) or
        ``{name: factory}`` returning unfitted forecasters.
    train_days, horizon_days, windows
        Training length, horizon length and number of rolling windows.
    coverages
        Shares of valid cells to flag.
    seed
        Seed of tie-breaking and bootstrap.
    n_boot
        Bootstrap resamples for confidence intervals.
    export_dir
        When given, write each method's surface per window as ``.npy`` (ny, nx; row 0
        south), the observed counts, the valid mask and ``grid.json``.
    progress
        Called with ``(method, window_index)`` after each fit and predict.

    Returns
    -------
    BacktestResult
    """
    factories: dict[str, ForecasterFactory]
    if isinstance(methods, Mapping):
        factories = dict(methods)
    else:
        factories = {name: _factory(name) for name in methods}
    plan = rolling_windows(
        events["time"], train_days=train_days, horizon_days=horizon_days, windows=windows
    )
    coverages = tuple(coverages)
    valid = grid.valid
    observed = [observed_counts(events, grid, w) for w in plan]
    export = Path(export_dir) if export_dir is not None else None
    if export is not None:
        _export_setup(export, grid, plan, observed, list(factories), coverages, seed)
    results: dict[str, MethodResult] = {}
    for name, factory in factories.items():
        result = MethodResult(name)
        results[name] = result
        for window, obs in zip(plan, observed, strict=True):
            try:
                model = factory()
                tick = time.perf_counter()
                model.fit(events, grid=grid, start=window.train_start, end=window.start)
                result.fit_s += time.perf_counter() - tick
                tick = time.perf_counter()
                surface = model.predict(start=window.start, end=window.end)
                result.predict_s += time.perf_counter() - tick
                lower, upper = model.predict_interval(start=window.start, end=window.end, level=0.9)
            except Exception as exc:  # any failure is reported in the table, never hidden
                result.status = "failed"
                result.error = f"window {window.index}: {type(exc).__name__}: {exc}"
                if progress is not None:
                    for skipped in plan[window.index :]:
                        progress(name, skipped.index)
                break
            if progress is not None:
                progress(name, window.index)
            fallback = getattr(model, "fallback_", None)
            if fallback:
                result.fallbacks.append(f"window {window.index}: {fallback}")
            rng = np.random.default_rng([seed, window.index])
            record = window_scores(surface, obs, valid, coverages=coverages, rng=rng)
            record["window"] = window.index
            record["forecast_total"] = float(surface.sum())
            record["log_score"] = poisson_log_score(surface, obs, valid)
            record["interval_coverage_90"] = interval_coverage(lower, upper, obs, valid)
            record["fallback"] = fallback
            result.windows.append(record)
            if export is not None:
                (export / name).mkdir(parents=True, exist_ok=True)
                np.save(export / name / f"window_{window.index}.npy", surface)
    baseline = results.get("naive")
    # The baseline is summarised first: the others' skill is relative to its pooled HR.
    for result in sorted(results.values(), key=lambda r: r is not baseline):
        if result.status == "ok":
            _summarise(result, coverages, baseline=baseline, n_boot=n_boot, seed=seed)
    oracle_records = [
        window_scores(obs, obs, valid, coverages=coverages, rng=np.random.default_rng(0))
        for obs in observed
    ]
    oracle = {c: pooled(oracle_records, c) for c in coverages}
    settings = {
        "train_days": train_days,
        "horizon_days": horizon_days,
        "windows": windows,
        "seed": seed,
        "n_boot": n_boot,
        "n_events": len(events),
        "methods": list(factories),
    }
    return BacktestResult(grid, plan, coverages, results, oracle, settings)


def _export_setup(
    export: Path,
    grid: Grid,
    plan: Sequence[Window],
    observed: Sequence[np.ndarray],
    methods: Sequence[str],
    coverages: Sequence[float],
    seed: int,
) -> None:
    export.mkdir(parents=True, exist_ok=True)
    np.save(export / "mask.npy", grid.valid)
    (export / "observed").mkdir(exist_ok=True)
    for window, obs in zip(plan, observed, strict=True):
        np.save(export / "observed" / f"window_{window.index}.npy", obs)
    meta = {
        **grid.to_dict(),
        "windows": [w.to_dict() for w in plan],
        "methods": list(methods),
        "coverages": list(coverages),
        "seed": seed,
        "files": {
            "mask": "mask.npy",
            "surface": "<method>/window_<index>.npy",
            "observed": "observed/window_<index>.npy",
        },
        "cell_rule": "col = floor((x - x0) / cell), row = floor((y - y0) / cell); row 0 south",
        "scoring": {
            "flagged": "k = floor(coverage * n_valid) valid cells with the highest surface",
            "hits": (
                "ties split at random: for window w, rng = numpy.random.default_rng([seed, w]);"
                " for each coverage in order, u = rng.random(n_valid) over the valid cells in"
                " row-major order; cells are ranked by (-surface, u)"
            ),
            "hits_tie_mean": "expected hits over all random splits of the threshold ties",
            "pooling": "sum of hits / sum of events over windows",
        },
    }
    (export / "grid.json").write_text(json.dumps(meta, indent=2) + "\n")
