"""``arverne forecast``: backtest grid forecasters and produce a forecast.

``backtest`` scores several methods over rolling windows (hit rate, PAI, PEI, oracle,
log-score, skill vs naive) and can export every predicted surface for outside checking;
``run`` fits one method on the last days of data and writes the top cells of the next
horizon as GeoJSON and the whole surface as ``.npy``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from arverne.analytics.errors import INPUT_ERRORS
from arverne.analytics.evaluation import BacktestResult, backtest
from arverne.analytics.forecast import METHODS
from arverne.analytics.reports import run_forecast
from arverne.cli._common import console, fail
from arverne.cli.data import (
    Categories,
    CategoryCol,
    CategoryMap,
    Cell,
    CrsOpt,
    Csv,
    DateParts,
    IncludeEnforcement,
    LatCol,
    LonCol,
    StudyArea,
    TimeCol,
    TimeFormat,
    TimeOrigin,
    TimeUnit,
    Timezone,
    UnknownCategory,
    XCol,
    YCol,
    options_from,
    prepare_analysis,
)

app = typer.Typer(help="Forecast where incidents will happen; backtest methods.")

TrainDays = Annotated[float, typer.Option("--train-days", help="Training days.", min=1.0)]
HorizonDays = Annotated[float, typer.Option("--horizon-days", help="Horizon days.", min=0.01)]


def _methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise fail(f"--methods: unknown {unknown or text!r}; choose among {', '.join(METHODS)}")
    return names


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _table(result: BacktestResult) -> Table:
    coverages = [f"{c * 100:g}%" for c in result.coverages]
    extra = ("HR 5% CI", "PAI 5%", "PEI 5%", "skill 5%", "log-score", "in 90% PI", "s")
    table = Table(title="Backtest: hit rate (HR) pooled over windows by event count")
    table.add_column("method")
    table.add_column("status")
    for label in coverages:
        table.add_column(f"HR {label}", justify="right")
    for label in extra:
        table.add_column(label, justify="right")
    for name, method in result.methods.items():
        if method.status != "ok":
            table.add_row(name, "[red]failed[/]", *["-"] * (len(coverages) + len(extra)))
            continue
        status = "ok" if not method.fallbacks else f"fallback x{len(method.fallbacks)}"
        five = method.pooled.get("5%", {})
        low, high = five.get("hit_rate_ci95") or (None, None)
        skill = five.get("skill_vs_naive")
        table.add_row(
            name,
            status,
            *(_fmt(method.pooled[c]["hit_rate"]) for c in coverages),
            f"{_fmt(low, '.3f')}-{_fmt(high, '.3f')}",
            _fmt(five.get("pai"), ".2f"),
            _fmt(five.get("pei"), ".2f"),
            "-" if skill is None else f"{skill:+.1%}",
            _fmt(method.log_score, ".4f"),
            _fmt(method.interval_coverage, ".2f"),
            f"{method.fit_s + method.predict_s:.1f}",
        )
    oracle = [_fmt(result.oracle[c]["oracle_hit_rate"]) for c in result.coverages]
    table.add_row("oracle", "", *oracle, *["-"] * len(extra), style="dim")
    return table


@app.command("backtest")
def backtest_command(
    csv: Csv,
    cell: Cell,
    train_days: TrainDays,
    horizon_days: HorizonDays,
    windows: Annotated[int, typer.Option("--windows", help="Rolling windows.", min=1)],
    json_out: Annotated[Path, typer.Option("--json", help="Report file (JSON).")],
    time_col: TimeCol = None,
    time_format: TimeFormat = None,
    time_unit: TimeUnit = None,
    time_origin: TimeOrigin = None,
    date_parts: DateParts = None,
    tz: Timezone = "UTC",
    x_col: XCol = None,
    y_col: YCol = None,
    crs: CrsOpt = None,
    lon_col: LonCol = None,
    lat_col: LatCol = None,
    category_col: CategoryCol = None,
    categories: Categories = None,
    category_map: CategoryMap = None,
    unknown_category: UnknownCategory = None,
    include_enforcement: IncludeEnforcement = False,
    study_area: StudyArea = None,
    methods: Annotated[
        str, typer.Option("--methods", help="Comma-separated methods.")
    ] = "naive,decay,kde,prospective,etas,gbm",
    seed: Annotated[int, typer.Option("--seed", help="Seed of ties and bootstrap.")] = 0,
    export_grids: Annotated[
        Path | None, typer.Option("--export-grids", help="Write surfaces (.npy) and grid.json.")
    ] = None,
) -> None:
    """Score forecasters on the last WINDOWS horizons of the data (rolling origin)."""
    names = _methods(methods)
    imported, events, grid = prepare_analysis(
        csv,
        options_from(locals()),
        categories=categories,
        include_enforcement=include_enforcement,
        cell=cell,
    )
    console.print(
        f"{len(events)} events; grid {grid.nx} x {grid.ny} cells of {grid.cell:g} m, "
        f"{grid.n_valid} valid ({grid.crs})",
        highlight=False,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("backtest", total=len(names) * windows)

        def advance(method: str, window: int) -> None:
            progress.update(task, advance=1, description=f"{method} window {window + 1}")

        try:
            result = backtest(
                events,
                grid=grid,
                methods=names,
                train_days=train_days,
                horizon_days=horizon_days,
                windows=windows,
                seed=seed,
                export_dir=export_grids,
                progress=advance,
            )
        except INPUT_ERRORS as exc:
            raise fail(str(exc)) from exc
    console.print(_table(result))
    for name, method in result.methods.items():
        if method.error:
            console.print(f"[red]{name} failed:[/] {method.error}", highlight=False)
        for note in method.fallbacks:
            console.print(f"[yellow]{name}:[/] {note}", highlight=False)
    report = result.to_dict()
    report["import"] = {
        "n_input": imported.report.n_input,
        "n_accepted": imported.report.n_accepted,
        "reasons": imported.report.reasons,
        "n_used": len(events),
    }
    json_out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    console.print(f"wrote {json_out}" + (f" and {export_grids}" if export_grids else ""))


@app.command("run")
def run_command(
    csv: Csv,
    cell: Cell,
    train_days: TrainDays,
    horizon_days: HorizonDays,
    geojson: Annotated[Path, typer.Option("--geojson", help="Top cells, GeoJSON (WGS84).")],
    npy: Annotated[Path, typer.Option("--npy", help="Whole surface, .npy (ny, nx).")],
    method: Annotated[str, typer.Option("--method", help="Forecasting method.")] = "etas",
    coverage: Annotated[
        float, typer.Option("--coverage", help="Share of valid cells to flag.", min=0.001, max=1)
    ] = 0.05,
    time_col: TimeCol = None,
    time_format: TimeFormat = None,
    time_unit: TimeUnit = None,
    time_origin: TimeOrigin = None,
    date_parts: DateParts = None,
    tz: Timezone = "UTC",
    x_col: XCol = None,
    y_col: YCol = None,
    crs: CrsOpt = None,
    lon_col: LonCol = None,
    lat_col: LatCol = None,
    category_col: CategoryCol = None,
    categories: Categories = None,
    category_map: CategoryMap = None,
    unknown_category: UnknownCategory = None,
    include_enforcement: IncludeEnforcement = False,
    study_area: StudyArea = None,
) -> None:
    """Fit METHOD on the last TRAIN-DAYS of data and forecast the next HORIZON-DAYS."""
    _methods(method)
    _, events, grid = prepare_analysis(
        csv,
        options_from(locals()),
        categories=categories,
        include_enforcement=include_enforcement,
        cell=cell,
    )
    try:
        run = run_forecast(
            events,
            grid=grid,
            method=method,
            train_days=train_days,
            horizon_days=horizon_days,
            coverage=coverage,
        )
    except INPUT_ERRORS as exc:
        raise fail(str(exc)) from exc
    if run.fallback:
        console.print(f"[yellow]warning:[/] {method}: {run.fallback}", highlight=False)
    npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, run.surface)
    report = run.to_dict()
    collection = report.pop("top_cells")
    collection["properties"] = report
    geojson.write_text(json.dumps(collection, indent=1) + "\n")
    console.print(
        f"{method}: {report['n_flagged']} of {grid.n_valid} cells flagged for "
        f"{run.start.date()} .. {run.end.date()}; they hold "
        f"{report['flagged_expected_share']:.0%} of the {report['expected_total']:.1f} "
        f"expected incidents; wrote {geojson} and {npy}",
        highlight=False,
    )
