"""``arverne stats``: counts, trends, seasonality, hour x weekday and near repeats.

Descriptive statistics keep every category (enforcement-driven ones included: they are
counted, not used to send patrols). Results go to one JSON file; ``--charts DIR`` adds
PNG or SVG charts drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from arverne.analytics import charts
from arverne.analytics.errors import INPUT_ERRORS
from arverne.analytics.knox import KnoxResult, knox_test
from arverne.analytics.reports import stats_summary
from arverne.analytics.stats import PERIODS, hour_weekday, trend
from arverne.cli._common import console, fail
from arverne.cli.data import (
    Categories,
    CategoryCol,
    CategoryMap,
    CrsOpt,
    Csv,
    DateParts,
    DistrictCol,
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
    load_selected,
    options_from,
)


def _bands(text: str, option: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        message = f"{option}: cannot read {text!r}; write increasing numbers, e.g. 0,100,200"
        raise fail(message) from exc


def stats_command(
    csv: Csv,
    json_out: Annotated[Path, typer.Option("--json", help="Statistics file (JSON).")],
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
    district_col: DistrictCol = None,
    study_area: StudyArea = None,
    period: Annotated[
        str, typer.Option("--period", help=f"Counting period: {', '.join(PERIODS)}.")
    ] = "M",
    trend_period: Annotated[
        str, typer.Option("--trend-period", help="Trend period (D, W, M or Q).")
    ] = "W",
    rolling: Annotated[
        int, typer.Option("--rolling", help="Rolling-mean window, in periods.", min=1)
    ] = 4,
    knox: Annotated[bool, typer.Option("--knox", help="Run the Knox near-repeat test.")] = False,
    knox_space_m: Annotated[
        str, typer.Option("--knox-space-m", help="Distance band edges in metres.")
    ] = "0,100,200,300,400,500",
    knox_time_days: Annotated[
        str, typer.Option("--knox-time-days", help="Time band edges in days.")
    ] = "0,7,14,21,28",
    permutations: Annotated[
        int, typer.Option("--permutations", help="Knox Monte Carlo shuffles.", min=19)
    ] = 999,
    charts_dir: Annotated[
        Path | None, typer.Option("--charts", help="Directory for charts.")
    ] = None,
    chart_format: Annotated[str, typer.Option("--chart-format", help="png or svg.")] = "png",
) -> None:
    """Counts by category (and district) and period, trend, seasonality, heat map, Knox."""
    if chart_format not in {"png", "svg"}:
        raise fail(f"--chart-format {chart_format!r}: choose png or svg")
    _, events = load_selected(
        csv,
        options_from(locals()),
        categories=categories,
        include_enforcement=True,
        patrol=False,
        min_events=3,
    )
    by = ["category", "district"] if "district" in events.columns else ["category"]
    try:
        summary = stats_summary(
            events,
            tz=tz,
            period=period,
            by=by,
            trend_period=trend_period,
            rolling_periods=rolling,
        )
        knox_result = None
        if knox:
            knox_result = _knox(events, knox_space_m, knox_time_days, permutations)
            summary["knox"] = knox_result.to_dict()
    except INPUT_ERRORS as exc:
        raise fail(str(exc)) from exc
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(summary, indent=2) + "\n")
    _print(summary)
    written = [json_out]
    if charts_dir is not None:
        written += _charts(events, summary, charts_dir, chart_format, tz, trend_period, rolling)
        if knox_result is not None:
            written.append(charts.plot_knox(knox_result, charts_dir / f"knox.{chart_format}"))
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


def _knox(events: pd.DataFrame, space: str, time: str, permutations: int) -> KnoxResult:
    times = pd.to_datetime(events["time"], utc=True)
    t_days = np.asarray((times - times.min()).dt.total_seconds(), dtype=np.float64) / 86_400.0
    columns = (TextColumn("Knox test"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("knox", total=permutations)
        return knox_test(
            events["x"].to_numpy(float),
            events["y"].to_numpy(float),
            t_days,
            space_bands_m=_bands(space, "--knox-space-m"),
            time_bands_days=_bands(time, "--knox-time-days"),
            n_permutations=permutations,
            progress=lambda done: bar.update(task, completed=done),
        )


def _print(summary: dict[str, object]) -> None:
    table = Table(title=f"{summary['n_events']} incidents, {summary['first']} .. {summary['last']}")
    table.add_column("category")
    table.add_column("incidents", justify="right")
    totals = summary["totals"]
    assert isinstance(totals, dict)
    for category, count in sorted(totals.get("category", {}).items(), key=lambda i: -i[1]):
        table.add_row(str(category), str(count))
    console.print(table)
    knox = summary.get("knox")
    if isinstance(knox, dict):
        strong = [c for c in knox["cells"] if c["p_value"] <= 0.05 and (c["ratio"] or 0) > 1]
        console.print(
            f"Knox: {len(strong)} of {len(knox['cells'])} space-time bands show more close "
            "pairs than chance (p <= 0.05)",
            highlight=False,
        )


def _charts(
    events: pd.DataFrame,
    summary: dict[str, object],
    directory: Path,
    fmt: str,
    tz: str,
    trend_period: str,
    rolling: int,
) -> list[Path]:
    totals = summary["totals"]
    assert isinstance(totals, dict)
    files = [
        charts.plot_trend(
            trend(events, period=trend_period, rolling_periods=rolling, tz=tz),
            directory / f"trend.{fmt}",
        ),
        charts.plot_hour_weekday(
            hour_weekday(events, tz=tz),
            directory / f"hour_weekday.{fmt}",
            title=f"Incidents by hour and weekday ({tz})",
        ),
        charts.plot_totals(totals.get("category", {}), directory / f"categories.{fmt}"),
    ]
    if "district" in totals:
        files.append(
            charts.plot_totals(
                totals["district"], directory / f"districts.{fmt}", title="Incidents by district"
            )
        )
    return files
