"""``arverne hotspots``: Getis-Ord Gi* hot spots (FDR-corrected) and KDE surfaces.

Gi* runs on grid cells inside the study area and, with ``--segments``, on street
segments; only hot spots (significantly more incidents than the study-area average after
the Benjamini–Hochberg correction) are reported. Like forecasts, hot-spot maps guide
patrols, so enforcement-driven categories are left out unless asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from arverne.analytics import charts
from arverne.analytics.errors import INPUT_ERRORS
from arverne.analytics.hotspots import kde_surface
from arverne.analytics.reports import gi_star_hotspots, kde_hotspots
from arverne.analytics.segments import network_hot_spots, segment_adjacency, snap_to_segments
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

_SEGMENT_COLUMNS = ("x0", "y0", "x1", "y1", "from", "to")


def _segment_hot_spots(
    events: pd.DataFrame, file: Path, *, snap_m: float, alpha: float
) -> dict[str, Any]:
    try:
        table = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise fail(f"--segments {file}: cannot be read as CSV ({exc})") from exc
    missing = [c for c in _SEGMENT_COLUMNS if c not in table.columns]
    if missing:
        raise fail(
            f"--segments {file}: missing columns {', '.join(missing)}; the file needs "
            f"{', '.join(_SEGMENT_COLUMNS)} (ends in the output CRS and vertex ids)"
        )
    ends = table[["x0", "y0", "x1", "y1"]].to_numpy(float)
    snapped = snap_to_segments(
        events["x"].to_numpy(float),
        events["y"].to_numpy(float),
        segments=ends,
        max_distance_m=snap_m,
    )
    if (snapped >= 0).mean() < 0.5:
        raise fail(
            f"--segments {file}: only {(snapped >= 0).mean():.0%} of the events lie within "
            f"{snap_m:g} m of a segment; the segments must be in the events' metric CRS "
            "(see the import summary), or raise --snap-m"
        )
    counts = np.bincount(snapped[snapped >= 0], minlength=len(table)).astype(float)
    adjacency = segment_adjacency(table["from"].to_numpy(), table["to"].to_numpy())
    result = network_hot_spots(counts, adjacency=adjacency, alpha=alpha)
    out = result.to_dict()
    for item in out["segments"]:
        item["count"] = int(counts[item["segment"]])
        item.update(
            dict(zip(("x0", "y0", "x1", "y1"), ends[item["segment"]].tolist(), strict=True))
        )
    out["n_unsnapped"] = int((snapped < 0).sum())
    return out


def hotspots_command(
    csv: Csv,
    cell: Cell,
    json_out: Annotated[Path, typer.Option("--json", help="Hot spots (JSON).")],
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
    radius_m: Annotated[
        float | None,
        typer.Option("--radius-m", help="Gi* neighbourhood radius (default: 8 neighbours)."),
    ] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", help="False discovery rate.", min=0.0001, max=0.5)
    ] = 0.05,
    bandwidth_m: Annotated[
        float | None, typer.Option("--bandwidth-m", help="KDE bandwidth (default: one cell).")
    ] = None,
    coverage: Annotated[
        float, typer.Option("--coverage", help="Share of cells in the KDE top list.", min=0.001)
    ] = 0.05,
    segments: Annotated[
        Path | None,
        typer.Option("--segments", help="Street segments CSV: x0,y0,x1,y1,from,to (metric)."),
    ] = None,
    snap_m: Annotated[
        float, typer.Option("--snap-m", help="Largest event-to-segment distance.", min=1.0)
    ] = 50.0,
    geojson: Annotated[
        Path | None, typer.Option("--geojson", help="Gi* hot cells, GeoJSON (WGS84).")
    ] = None,
    map_file: Annotated[
        Path | None, typer.Option("--map", help="Map of the KDE with hot cells (.png/.svg).")
    ] = None,
) -> None:
    """Gi* hot spots (Benjamini–Hochberg) and a KDE surface of the incidents."""
    _, events, grid = prepare_analysis(
        csv,
        options_from(locals()),
        categories=categories,
        include_enforcement=include_enforcement,
        cell=cell,
        min_events=10,
    )
    bandwidth = float(bandwidth_m) if bandwidth_m is not None else grid.cell
    try:
        gi = gi_star_hotspots(events, grid=grid, radius_m=radius_m, alpha=alpha)
        kde = kde_hotspots(events, grid=grid, bandwidth_m=bandwidth, coverage=coverage)
        report: dict[str, Any] = {"gi_star": gi, "kde": kde}
        if segments is not None:
            report["segments"] = _segment_hot_spots(events, segments, snap_m=snap_m, alpha=alpha)
    except INPUT_ERRORS as exc:
        raise fail(str(exc)) from exc
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(report, indent=1) + "\n")
    written = [json_out]
    if geojson is not None:
        geojson.write_text(json.dumps(gi["geojson"], indent=1) + "\n")
        written.append(geojson)
    if map_file is not None:
        surface = kde_surface(
            events["x"].to_numpy(float),
            events["y"].to_numpy(float),
            grid=grid,
            bandwidth_m=bandwidth,
        )
        hot = np.zeros(grid.shape, dtype=bool)
        for item in gi["cells"]:
            hot[item["row"], item["col"]] = True
        try:
            written.append(
                charts.plot_surface(
                    surface,
                    grid,
                    map_file,
                    title="KDE with Gi* hot spots (red)",
                    label="incidents per cell",
                    flagged=hot,
                )
            )
        except INPUT_ERRORS as exc:
            raise fail(str(exc)) from exc
    line = (
        f"{len(events)} incidents on {grid.n_valid} cells of {grid.cell:g} m: "
        f"{gi['n_hot']} Gi* hot cells at FDR {alpha:g}"
    )
    if "segments" in report:
        line += f"; {report['segments']['n_hot']} hot street segments"
    console.print(line, highlight=False)
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
