"""``arverne data``: import historical incidents into a clean Parquet table.

The input options (time, coordinates, categories) are shared with ``arverne forecast``;
:func:`load_incidents` turns them into an import and any input problem into a one-line
message and exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from arverne.analytics.categories import TAXONOMY, load_mapping, write_mapping
from arverne.analytics.errors import INPUT_ERRORS, NotEnoughDataError
from arverne.analytics.grid import Grid
from arverne.analytics.io import (
    ColumnMapping,
    ImportResult,
    import_incidents,
    project_geometry,
    read_study_area,
    read_table,
    write_events,
)
from arverne.analytics.responsible import (
    ENFORCEMENT_DRIVEN,
    EXCLUSION_EXPLANATION,
    patrol_events,
)
from arverne.cli._common import console, fail

app = typer.Typer(help="Import historical incident data.", no_args_is_help=True)

TimeCol = Annotated[str | None, typer.Option("--time-col", help="Time column.")]
TimeFormat = Annotated[
    str | None,
    typer.Option("--time-format", help="strftime format of times, e.g. '%m/%d/%Y %H:%M'."),
]
TimeUnit = Annotated[
    str | None,
    typer.Option("--time-unit", help="Numeric times: unit (D, h or s) since --time-origin."),
]
TimeOrigin = Annotated[
    str | None, typer.Option("--time-origin", help="Numeric times: date of value 0.")
]
DateParts = Annotated[
    str | None,
    typer.Option("--date-parts", help="Split dates: 'year=COL,month=COL,day=COL[,hour=COL]'."),
]
Timezone = Annotated[
    str, typer.Option("--tz", help="Zone of times written without an offset (stored in UTC).")
]
XCol = Annotated[str | None, typer.Option("--x-col", help="Projected x column (with --crs).")]
YCol = Annotated[str | None, typer.Option("--y-col", help="Projected y column (with --crs).")]
CrsOpt = Annotated[str | None, typer.Option("--crs", help="CRS of x/y, e.g. EPSG:3435.")]
LonCol = Annotated[str | None, typer.Option("--lon-col", help="WGS84 longitude column.")]
LatCol = Annotated[str | None, typer.Option("--lat-col", help="WGS84 latitude column.")]
CategoryCol = Annotated[str | None, typer.Option("--category-col", help="Source category column.")]
CategoryMap = Annotated[
    Path | None,
    typer.Option("--category-map", help="JSON/YAML mapping of source values to categories."),
]
UnknownCategory = Annotated[
    str | None,
    typer.Option("--unknown-category", help="Category for unmapped values (default: reject)."),
]
DistrictCol = Annotated[str | None, typer.Option("--district-col", help="District column.")]
StudyArea = Annotated[
    Path | None, typer.Option("--study-area", help="GeoJSON (WGS84) outline of the study area.")
]
TargetCrs = Annotated[
    str | None, typer.Option("--target-crs", help="Metric CRS of the output (default: UTM).")
]

Csv = Annotated[Path, typer.Option("--csv", help="Incidents: CSV (.gz), GeoJSON or Parquet.")]
Categories = Annotated[
    str | None,
    typer.Option("--categories", help="Comma-separated categories to keep (platform or source)."),
]
IncludeEnforcement = Annotated[
    bool,
    typer.Option("--include-enforcement", help="Keep enforcement-driven categories (drugs...)."),
]
Cell = Annotated[float, typer.Option("--cell", help="Grid cell side in metres.", min=1.0)]


@dataclass(frozen=True)
class InputOptions:
    """The command-line description of an incident file."""

    time_col: str | None = None
    time_format: str | None = None
    time_unit: str | None = None
    time_origin: str | None = None
    date_parts: str | None = None
    tz: str = "UTC"
    x_col: str | None = None
    y_col: str | None = None
    crs: str | None = None
    lon_col: str | None = None
    lat_col: str | None = None
    category_col: str | None = None
    category_map: Path | None = None
    unknown_category: str | None = None
    district_col: str | None = None
    study_area: Path | None = None
    target_crs: str | None = None


def options_from(values: Mapping[str, Any]) -> InputOptions:
    """Build :class:`InputOptions` from a command's keyword arguments (``locals()``)."""
    names = {f.name for f in fields(InputOptions)}
    return InputOptions(**{k: v for k, v in values.items() if k in names})


def _date_parts(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    parts = {}
    for item in text.split(","):
        key, sep, column = item.partition("=")
        if not sep or key.strip() not in {"year", "month", "day", "hour", "minute"}:
            raise fail(
                f"--date-parts: cannot read {item!r}; write e.g. 'year=Y,month=M,day=D,hour=H'"
            )
        parts[key.strip()] = column.strip()
    return parts


def load_incidents(path: Path, options: InputOptions) -> ImportResult:
    """Read and validate an incident file; input problems exit with code 2."""
    mapping = ColumnMapping(
        time=options.time_col,
        time_format=options.time_format,
        time_unit=options.time_unit,
        time_origin=options.time_origin,
        date_parts=_date_parts(options.date_parts),
        timezone=options.tz,
        x=options.x_col,
        y=options.y_col,
        crs=options.crs,
        lon=options.lon_col,
        lat=options.lat_col,
        category=options.category_col,
        district=options.district_col,
    )
    try:
        frame = read_table(path)
        categories = load_mapping(options.category_map) if options.category_map else None
        area = read_study_area(options.study_area) if options.study_area else None
        return import_incidents(
            frame,
            mapping=mapping,
            categories=categories,
            unknown_category=options.unknown_category,
            target_crs=options.target_crs,
            study_area=area,
            source=str(path),
        )
    except FileNotFoundError as exc:
        raise fail(str(exc)) from exc
    except INPUT_ERRORS as exc:
        raise fail(str(exc)) from exc


def print_import_summary(result: ImportResult) -> None:
    """One line of counts and the rejection reasons."""
    report = result.report
    reasons = ", ".join(f"{why}: {n}" for why, n in report.reasons.items()) or "none"
    console.print(
        f"read {report.n_input} rows, kept {report.n_accepted} "
        f"({report.crs_in} -> {report.crs_out}); rejected {len(report.rejected)} ({reasons})",
        highlight=False,
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV (optionally .gz), GeoJSON or Parquet.")],
    out: Annotated[Path, typer.Option("--out", help="Clean events, Parquet.")],
    report: Annotated[Path, typer.Option("--report", help="Validation report, JSON.")],
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
    category_map: CategoryMap = None,
    unknown_category: UnknownCategory = None,
    district_col: DistrictCol = None,
    study_area: StudyArea = None,
    target_crs: TargetCrs = None,
) -> None:
    """Validate FILE, project it to a metric CRS and write clean events and a report."""
    options = options_from(locals())
    result = load_incidents(file, options)
    write_events(out, result.events, crs=result.crs)
    result.report.write(report)
    print_import_summary(result)
    counts = result.events["category"].value_counts().to_dict()
    console.print(f"categories: {json.dumps(counts)}", highlight=False)
    console.print(f"wrote {out} and {report}", highlight=False)


@app.command("default-mapping")
def default_mapping(
    out: Annotated[Path, typer.Argument(help="JSON file to write.")],
) -> None:
    """Write the shipped category mapping (Chicago and UK police values) for editing."""
    write_mapping(out)
    console.print(f"wrote {out}; edit it and pass it with --category-map", highlight=False)


def select_events(
    events: pd.DataFrame,
    *,
    categories: str | None,
    include_enforcement: bool,
    quiet: bool = False,
) -> pd.DataFrame:
    """Keep the requested categories and drop enforcement-driven ones unless asked.

    ``categories`` is a comma-separated list matched against the platform category and
    the source category (case-insensitive). Enforcement-driven categories named there,
    or all of them with ``include_enforcement``, are kept; the others are dropped with
    an explanation (Ensign et al. 2018).
    """
    chosen: set[str] = set()
    if categories:
        chosen = {c.strip().casefold() for c in categories.split(",") if c.strip()}
        platform = events["category"].astype(str).str.casefold()
        source = events["source_category"].astype(str).str.strip().str.casefold()
        events = events[platform.isin(chosen) | source.isin(chosen)].reset_index(drop=True)
        if events.empty:
            raise fail(
                f"--categories {categories}: no event has these categories; platform "
                f"categories are {', '.join(TAXONOMY)} (source values also match)"
            )
    include = set(ENFORCEMENT_DRIVEN) if include_enforcement else chosen & ENFORCEMENT_DRIVEN
    kept, excluded = patrol_events(events, include=include)
    if quiet:
        return kept
    if excluded:
        console.print(
            f"excluded enforcement-driven categories {excluded} (use --include-enforcement "
            f"or name them in --categories to keep them). {EXCLUSION_EXPLANATION}",
            highlight=False,
        )
    if include:
        console.print(
            f"[yellow]note:[/] enforcement-driven categories included on request: "
            f"{', '.join(sorted(include))}",
            highlight=False,
        )
    return kept


#: Fewest events accepted for an analysis after filtering.
MIN_EVENTS = 50


def load_selected(
    path: Path,
    options: InputOptions,
    *,
    categories: str | None,
    include_enforcement: bool,
    patrol: bool = True,
    min_events: int = MIN_EVENTS,
) -> tuple[ImportResult, pd.DataFrame]:
    """Import and keep the requested categories; input problems exit with code 2.

    With ``patrol`` (forecasts, hot spots) enforcement-driven categories are dropped
    unless asked for; descriptive statistics pass ``patrol=False`` and keep them.

    Returns
    -------
    (import result, model events)
        The model events hold only ``time``, ``x``, ``y``, ``category`` (and
        ``district`` when a district column was given).
    """
    if categories and options.category_col is None:
        raise fail("--categories needs --category-col (the column holding categories)")
    result = load_incidents(path, options)
    print_import_summary(result)
    events = select_events(
        result.events,
        categories=categories,
        include_enforcement=include_enforcement or not patrol,
        quiet=not patrol,
    )
    if len(events) < min_events:
        raise fail(
            str(
                NotEnoughDataError(
                    "events after filtering",
                    len(events),
                    min_events,
                    "widen --categories, use a longer period or check the rejected rows",
                )
            )
        )
    columns = ["time", "x", "y", "category"]
    if "district" in events.columns:
        columns.append("district")
    events = events[columns].reset_index(drop=True)
    events.attrs["crs"] = result.crs
    return result, events


def build_grid(events: pd.DataFrame, options: InputOptions, *, cell: float, crs: str) -> Grid:
    """The analysis grid: over ``--study-area`` when given, else over the events."""
    try:
        if options.study_area is not None:
            area = project_geometry(read_study_area(options.study_area), crs=crs)
            return Grid.from_polygon(area, cell_m=cell, crs=crs)
        return Grid.from_points(
            events["x"].to_numpy(float), events["y"].to_numpy(float), cell_m=cell, crs=crs
        )
    except INPUT_ERRORS as exc:
        raise fail(str(exc)) from exc


def prepare_analysis(
    path: Path,
    options: InputOptions,
    *,
    categories: str | None,
    include_enforcement: bool,
    cell: float,
    min_events: int = MIN_EVENTS,
) -> tuple[ImportResult, pd.DataFrame, Grid]:
    """Import, filter categories for patrol use and build the grid (exit 2 on bad input).

    Returns
    -------
    (import result, model events, grid)
    """
    result, events = load_selected(
        path,
        options,
        categories=categories,
        include_enforcement=include_enforcement,
        min_events=min_events,
    )
    return result, events, build_grid(events, options, cell=cell, crs=result.crs)
