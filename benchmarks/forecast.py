"""Benchmark of the grid forecasters on real crime data and a 50k-event timing.

Backtests every method on the Chicago sample and on Valencia 2019 (from
``../shared/data/crime``; the script skips cleanly when that folder is absent), then times
fit + predict of each method on one year of 50,000 synthetic self-exciting events.
Prints Rich tables and writes ``benchmarks/results/forecast.json``.

Run: ``python benchmarks/forecast.py [--data DIR] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from arverne.analytics.evaluation import backtest
from arverne.analytics.forecast import METHODS, make_forecaster
from arverne.analytics.grid import Grid
from arverne.analytics.io import ColumnMapping, import_incidents, read_table
from arverne.analytics.responsible import patrol_events
from arverne.analytics.synthetic import hotspot_background, simulate_grid_hawkes

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
COVERAGES = ("1%", "2%", "5%", "10%", "20%")
console = Console(width=160)


@dataclass(frozen=True)
class DataSet:
    """A benchmark data set: file, column mapping and backtest settings."""

    name: str
    path: str
    mapping: ColumnMapping
    cell_m: float
    train_days: float
    horizon_days: float
    windows: int


DATASETS = (
    DataSet(
        name="chicago",
        path="crime/chicago_sample_2017_2019.csv.gz",
        mapping=ColumnMapping(
            time="date",
            time_format="%m/%d/%Y %H:%M",
            timezone="America/Chicago",
            x="x_coordinate",
            y="y_coordinate",
            crs="EPSG:3435",
            category="primary_type",
        ),
        cell_m=500.0,
        train_days=365.0,
        horizon_days=7.0,
        windows=26,
    ),
    DataSet(
        name="valencia",
        path="crime/valencia_2019/valencia_crimes_2019.csv.gz",
        mapping=ColumnMapping(
            time="t", time_unit="D", time_origin="2010-01-02", x="x", y="y", crs="EPSG:25831"
        ),
        cell_m=200.0,
        train_days=270.0,
        horizon_days=7.0,
        windows=12,
    ),
)


def _load(data_dir: Path, spec: DataSet) -> tuple[pd.DataFrame, Grid]:
    imported = import_incidents(
        read_table(data_dir / spec.path), mapping=spec.mapping, source=spec.name
    )
    events, _ = patrol_events(imported.events)
    events = events[["time", "x", "y", "category"]]
    grid = Grid.from_points(
        events["x"].to_numpy(float),
        events["y"].to_numpy(float),
        cell_m=spec.cell_m,
        crs=imported.crs,
    )
    return events, grid


def _peak_memory(
    name: str, events: pd.DataFrame, grid: Grid, start: Any, end: Any, horizon: Any
) -> float:
    tracemalloc.start()
    try:
        model = make_forecaster(name).fit(events, grid=grid, start=start, end=end)
        model.predict(start=end, end=horizon)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def run_dataset(data_dir: Path, spec: DataSet, windows: int) -> dict[str, Any]:
    """Backtest every method on one data set; add peak memory of one fit + predict."""
    events, grid = _load(data_dir, spec)
    console.print(
        f"[bold]{spec.name}[/]: {len(events)} events, grid {grid.nx} x {grid.ny} of "
        f"{spec.cell_m:g} m ({grid.n_valid} valid), {windows} windows of "
        f"{spec.horizon_days:g} days after {spec.train_days:g} training days"
    )
    tick = time.perf_counter()
    result = backtest(
        events,
        grid=grid,
        methods=list(METHODS),
        train_days=spec.train_days,
        horizon_days=spec.horizon_days,
        windows=windows,
        n_boot=1000,
    )
    report = result.to_dict()
    last = result.windows[-1]
    for name, method in report["methods"].items():
        method["peak_mb"] = (
            _peak_memory(name, events, grid, last.train_start, last.start, last.end)
            if method["status"] == "ok"
            else None
        )
        method["seconds_per_window"] = (method["fit_s"] + method["predict_s"]) / windows
        method.pop("windows")
    report["dataset"] = spec.name
    report["n_events"] = len(events)
    report["elapsed_s"] = time.perf_counter() - tick
    return report


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"{report['dataset']}: hit rate (HR), PAI and PEI pooled over windows")
    table.add_column("method")
    for c in COVERAGES:
        table.add_column(f"HR {c}", justify="right")
    for label in (
        "PAI 5%",
        "PEI 5%",
        "HR 5% 95% CI",
        "skill 5%",
        "log-score",
        "s/window",
        "peak MB",
    ):
        table.add_column(label, justify="right")
    for name, method in report["methods"].items():
        if method["status"] != "ok":
            table.add_row(name, f"failed: {method['error']}")
            continue
        five = method["pooled"]["5%"]
        low, high = five["hit_rate_ci95"]
        skill = five.get("skill_vs_naive")
        table.add_row(
            name,
            *(f"{method['pooled'][c]['hit_rate']:.3f}" for c in COVERAGES),
            f"{five['pai']:.2f}",
            f"{five['pei']:.2f}",
            f"{low:.3f}-{high:.3f}",
            "-" if skill is None else f"{skill:+.1%}",
            f"{method['log_score']:.4f}",
            f"{method['seconds_per_window']:.2f}",
            f"{method['peak_mb']:.0f}",
        )
    table.add_row(
        "oracle",
        *(f"{report['oracle'][c]['oracle_hit_rate']:.3f}" for c in COVERAGES),
        style="dim",
    )
    return table


def timing_50k(seed: int = 0) -> dict[str, Any]:
    """Fit + predict time and peak memory of each method on one year of ~50k events."""
    grid = Grid.from_bounds(0, 0, 12_000, 12_000, cell_m=150, crs="EPSG:2154")
    mu = hotspot_background(grid, total_per_day=137.0 * 0.6, n_hotspots=25, seed=seed)
    events = simulate_grid_hawkes(
        grid,
        mu_per_day=mu,
        theta=0.4,
        omega_per_day=0.3,
        start="2023-01-01",
        days=365,
        seed=seed,
    )[["time", "x", "y", "category"]]
    start = pd.Timestamp("2023-01-01", tz="UTC")
    end, horizon = start + pd.Timedelta(days=365), start + pd.Timedelta(days=372)
    out: dict[str, Any] = {"n_events": len(events), "cells": grid.nx * grid.ny, "methods": {}}
    for name in METHODS:
        tick = time.perf_counter()
        model = make_forecaster(name).fit(events, grid=grid, start=start, end=end)
        model.predict(start=end, end=horizon)
        model.predict_interval(start=end, end=horizon)
        seconds = time.perf_counter() - tick
        out["methods"][name] = {
            "seconds": seconds,
            "peak_mb": _peak_memory(name, events, grid, start, end, horizon),
            "fallback": getattr(model, "fallback_", None),
        }
    return out


def etas_100k(seed: int = 1) -> dict[str, Any]:
    """Grid ETAS on one year of ~100k events: time and peak memory (no N x N matrix)."""
    grid = Grid.from_bounds(0, 0, 15_000, 15_000, cell_m=150, crs="EPSG:2154")
    mu = hotspot_background(grid, total_per_day=165.0, n_hotspots=30, seed=seed)
    events = simulate_grid_hawkes(
        grid,
        mu_per_day=mu,
        theta=0.4,
        omega_per_day=0.3,
        start="2023-01-01",
        days=365,
        seed=seed,
    )[["time", "x", "y", "category"]]
    start = pd.Timestamp("2023-01-01", tz="UTC")
    end = start + pd.Timedelta(days=365)
    tick = time.perf_counter()
    model = make_forecaster("etas").fit(events, grid=grid, start=start, end=end)
    model.predict(start=end, end=end + pd.Timedelta(days=7))
    seconds = time.perf_counter() - tick
    peak = _peak_memory("etas", events, grid, start, end, end + pd.Timedelta(days=7))
    n = len(events)
    return {
        "n_events": n,
        "seconds": seconds,
        "peak_mb": peak,
        "n_pairs": int(getattr(model, "n_pairs_", 0)),
        "theta": getattr(model, "theta_", None),
        "n_by_n_matrix_gb": n * n * 8 / 1e9,
        "fallback": getattr(model, "fallback_", None),
    }


def main() -> int:
    """Run the benchmark; exit 0 (with a note) when the shared data are missing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--quick", action="store_true", help="4 windows per data set")
    args = parser.parse_args()
    results: dict[str, Any] = {"command": " ".join(["python", *sys.argv]), "datasets": {}}
    if not (args.data / "crime").is_dir():
        console.print(f"[yellow]skipped the real-data backtests:[/] {args.data}/crime not found")
    else:
        for spec in DATASETS:
            windows = 4 if args.quick else spec.windows
            report = run_dataset(args.data, spec, windows)
            results["datasets"][spec.name] = report
            console.print(_table(report))
    timing = timing_50k()
    results["timing_50k"] = timing
    table = Table(
        title=f"fit + predict on one year of {timing['n_events']:,} events "
        f"({timing['cells']:,} cells; goal <= 10 s)"
    )
    for label in ("method", "seconds", "peak MB", "note"):
        table.add_column(label, justify="left" if label in {"method", "note"} else "right")
    for name, row in timing["methods"].items():
        table.add_row(name, f"{row['seconds']:.2f}", f"{row['peak_mb']:.0f}", row["fallback"] or "")
    console.print(table)
    big = etas_100k()
    results["etas_100k"] = big
    console.print(
        f"grid ETAS on {big['n_events']:,} events: {big['seconds']:.2f} s, peak "
        f"{big['peak_mb']:.0f} MB, {big['n_pairs']:,} neighbour pairs, theta "
        f"{big['theta']:.3f} (true 0.4); an N x N matrix would need "
        f"{big['n_by_n_matrix_gb']:.0f} GB"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "forecast.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
