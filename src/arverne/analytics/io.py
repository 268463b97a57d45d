"""Import historical incidents from CSV, GeoJSON or Parquet into a clean, metric table.

:func:`import_incidents` reads the columns named by a :class:`ColumnMapping`, parses
times (one column, or date parts) into UTC, projects coordinates to a metric CRS, maps
source categories to the platform taxonomy and keeps only allow-listed place fields. Every
row it drops is listed in the :class:`ValidationReport` with its reason; nothing is
dropped silently. Problems that concern the whole file (a wrong column name, a time
format that fits almost no row, coordinates in the wrong CRS) raise an error that names
the fix instead.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from arverne.analytics.categories import map_categories
from arverne.analytics.errors import (
    ColumnNotFoundError,
    CoordinateError,
    DateParseError,
    FieldNotAllowedError,
    PersonFieldError,
)
from arverne.analytics.schema import PLACE_FIELDS, is_person_field

#: Share of rows with a bad date above which the time format (not the rows) is wrong.
MAX_BAD_DATE_SHARE = 0.5
G = TypeVar("G", bound=shapely.Geometry)
_UNIT_SECONDS = {"D": 86_400.0, "days": 86_400.0, "h": 3_600.0, "hours": 3_600.0, "s": 1.0}
_GEOJSON_LON, _GEOJSON_LAT = "geometry_lon", "geometry_lat"


@dataclass(frozen=True)
class ColumnMapping:
    """Which input columns hold time, place and category.

    Give either ``time`` or ``date_parts``, and either ``x``/``y`` with ``crs`` or
    ``lon``/``lat`` (WGS84).

    Parameters
    ----------
    time
        Time column (text dates, or numbers with ``time_unit``).
    time_format
        strftime format of ``time`` (``None`` lets pandas infer it).
    time_unit, time_origin
        For numeric times: unit (``"D"``, ``"h"``, ``"s"``) and the date of value 0.
    date_parts
        ``{"year": col, "month": col, "day": col, "hour": col, "minute": col}``
        (hour and minute optional) when the date is split over columns.
    timezone
        Zone of times written without an offset; they are stored in UTC.
    x, y, crs
        Projected coordinates and their CRS (e.g. ``"EPSG:3435"``).
    lon, lat
        WGS84 longitude and latitude.
    category
        Source category column (mapped to the platform taxonomy).
    domestic
        Optional true/false column turning ``violence`` into ``domestic_violence``.
    district
        Optional district column (kept as the ``district`` place field).
    place_attributes
        Further ``{input column: place field}`` to keep; targets must be in
        :data:`arverne.analytics.schema.PLACE_FIELDS`.
    """

    time: str | None = None
    time_format: str | None = None
    time_unit: str | None = None
    time_origin: str | None = None
    date_parts: Mapping[str, str] | None = None
    timezone: str = "UTC"
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    lon: str | None = None
    lat: str | None = None
    category: str | None = None
    domestic: str | None = None
    district: str | None = None
    place_attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ValidationReport:
    """What an import accepted and, row by row, what it rejected and why."""

    source: str
    n_input: int
    n_accepted: int = 0
    crs_in: str = ""
    crs_out: str = ""
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> dict[str, int]:
        """Number of rejected rows per reason."""
        return dict(Counter(r["reason"] for r in self.rejected))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (``row`` is the 0-based data row of the input)."""
        data = asdict(self)
        data["n_rejected"] = len(self.rejected)
        data["reasons"] = self.reasons
        return data

    def write(self, path: str | Path) -> Path:
        """Write the report as JSON."""
        file = Path(path)
        file.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", "utf-8")
        return file


@dataclass
class ImportResult:
    """Clean events (``time`` UTC, ``x``/``y`` metres in ``crs``) and the report."""

    events: pd.DataFrame
    report: ValidationReport
    crs: str


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally gzipped), GeoJSON or Parquet file into a DataFrame.

    CSV columns are read as text so that parsing (and its failures) happens in
    :func:`import_incidents`. GeoJSON point geometries become ``geometry_lon`` and
    ``geometry_lat`` columns next to the feature properties.
    """
    file = Path(path)
    suffixes = [s.lower() for s in file.suffixes]
    if not file.exists():
        raise FileNotFoundError(f"{file}: no such file; check the path")
    if ".parquet" in suffixes or ".pq" in suffixes:
        return pd.read_parquet(file)
    if ".geojson" in suffixes or suffixes[-1:] == [".json"]:
        return _read_geojson(file)
    return pd.read_csv(file, dtype=str, keep_default_na=True, low_memory=False)


def _read_geojson(file: Path) -> pd.DataFrame:
    data = json.loads(file.read_text(encoding="utf-8"))
    rows = []
    for feature in data.get("features", []):
        props = dict(feature.get("properties") or {})
        geom = feature.get("geometry") or {}
        coords = geom.get("coordinates") if geom.get("type") == "Point" else None
        props[_GEOJSON_LON] = coords[0] if coords else None
        props[_GEOJSON_LAT] = coords[1] if coords else None
        rows.append(props)
    return pd.DataFrame(rows)


def read_study_area(path: str | Path) -> shapely.Polygon | shapely.MultiPolygon:
    """Read the union of the polygons of a GeoJSON file (WGS84 lon/lat, RFC 7946)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CoordinateError(f"{path} cannot be read as GeoJSON ({exc})", "fix the file") from exc
    features = data.get("features", [data])
    shapes = [shapely.geometry.shape(f.get("geometry", f)) for f in features]
    polygons = [g for g in shapes if g.geom_type in {"Polygon", "MultiPolygon"}]
    if not polygons:
        raise CoordinateError(f"{path} holds no polygon", "give a GeoJSON study-area outline")
    area = shapely.union_all(polygons)
    if not isinstance(area, shapely.Polygon | shapely.MultiPolygon):
        raise CoordinateError(f"{path}: the polygons do not form an area", "fix the outline")
    return area


def project_geometry(geometry: G, *, crs: str, source_crs: str = "EPSG:4326") -> G:
    """Project a shapely geometry from ``source_crs`` (WGS84 by default) to ``crs``."""
    transformer = Transformer.from_crs(source_crs, crs, always_xy=True)

    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    return shapely.transform(geometry, move)


def metric_crs_for(lon: float, lat: float) -> str:
    """The UTM zone (WGS84) of a point, as ``"EPSG:326NN"`` or ``"EPSG:327NN"``."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _check_columns(frame: pd.DataFrame, mapping: ColumnMapping) -> None:
    named = {
        "time column (--time-col)": mapping.time,
        "x column (--x-col)": mapping.x,
        "y column (--y-col)": mapping.y,
        "longitude column (--lon-col)": mapping.lon,
        "latitude column (--lat-col)": mapping.lat,
        "category column (--category-col)": mapping.category,
        "domestic column": mapping.domestic,
        "district column (--district-col)": mapping.district,
    }
    for part, col in (mapping.date_parts or {}).items():
        named[f"date part {part}"] = col
    for col in mapping.place_attributes:
        named["place attribute"] = col
    for option, column in named.items():
        if column is not None and column not in frame.columns:
            raise ColumnNotFoundError(option, column, frame.columns)
    used = [c for c in named.values() if c is not None]
    people = [c for c in used if is_person_field(c)]
    if people:
        raise PersonFieldError(people)
    bad_targets = [t for t in mapping.place_attributes.values() if t not in PLACE_FIELDS]
    if bad_targets:
        raise FieldNotAllowedError(bad_targets, PLACE_FIELDS)
    if mapping.time is None and not mapping.date_parts:
        raise ColumnNotFoundError("time column (--time-col)", "<none>", frame.columns)
    has_xy = mapping.x is not None and mapping.y is not None
    has_ll = mapping.lon is not None and mapping.lat is not None
    if has_xy == has_ll:
        raise CoordinateError(
            "give exactly one coordinate pair",
            "pass --x-col/--y-col with --crs, or --lon-col/--lat-col",
        )
    if has_xy and not mapping.crs:
        raise CoordinateError("x/y columns need their CRS", "pass --crs, e.g. EPSG:3435")


def _parse_times(frame: pd.DataFrame, mapping: ColumnMapping) -> pd.Series:
    if mapping.date_parts:
        parts = {k: pd.to_numeric(frame[c], errors="coerce") for k, c in mapping.date_parts.items()}
        for needed in ("year", "month", "day"):
            if needed not in parts:
                raise ColumnNotFoundError(f"date part {needed}", "<none>", frame.columns)
        times = pd.to_datetime(pd.DataFrame(parts), errors="coerce")
        column = ", ".join(mapping.date_parts.values())
        raw = frame[list(mapping.date_parts.values())].astype(str).agg(" ".join, axis=1)
        expected = "whole numbers for year, month, day (and hour, minute)"
    else:
        assert mapping.time is not None
        column, raw = mapping.time, frame[mapping.time]
        if mapping.time_unit:
            origin = pd.Timestamp(mapping.time_origin or "1970-01-01")
            values = pd.to_numeric(raw, errors="coerce")
            seconds = _UNIT_SECONDS.get(mapping.time_unit)
            if seconds is None:
                raise DateParseError(
                    column, [mapping.time_unit], f"a time unit among {', '.join(_UNIT_SECONDS)}"
                )
            times = origin + pd.to_timedelta(values * seconds, unit="s")
            expected = f"numbers of {mapping.time_unit} since {origin.date()}"
        else:
            fmt = mapping.time_format
            times = pd.to_datetime(raw, format=fmt, errors="coerce")
            expected = f"format {fmt!r}" if fmt else "dates such as 2019-07-19 13:45"
    times = pd.Series(times, index=frame.index)
    bad = times.isna() & raw.notna()
    if len(frame) and (times.isna().sum() / len(frame)) > MAX_BAD_DATE_SHARE:
        examples = raw[bad | times.isna()].astype(str).head(3).tolist()
        raise DateParseError(column, examples, expected)
    if times.dt.tz is None:
        n = len(times)
        times = times.dt.tz_localize(
            mapping.timezone, ambiguous=np.zeros(n, dtype=bool), nonexistent="shift_forward"
        )
    return times.dt.tz_convert("UTC")


def _area_of_use_check(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    area = crs.area_of_use
    if area is None:
        return np.ones(lon.shape, dtype=bool)
    margin = 1.0  # degrees: points a little past the published area are still plausible
    return (
        (lon >= area.west - margin)
        & (lon <= area.east + margin)
        & (lat >= area.south - margin)
        & (lat <= area.north + margin)
    )


def import_incidents(
    frame: pd.DataFrame,
    *,
    mapping: ColumnMapping,
    categories: Mapping[str, str] | None = None,
    unknown_category: str | None = None,
    target_crs: str | None = None,
    study_area: shapely.Geometry | None = None,
    max_distance_m: float = 0.0,
    outlier_km: float = 60.0,
    source: str = "<table>",
) -> ImportResult:
    """Validate and convert raw incident rows into the clean incident table.

    Parameters
    ----------
    frame
        Raw rows, e.g. from :func:`read_table`.
    mapping
        Which columns hold time, place and category.
    categories
        ``{source value: platform category}``; the default mapping when omitted.
    unknown_category
        Platform category for unmapped values; ``None`` rejects those rows.
    target_crs
        Metric CRS of the output; by default the input CRS when it is in metres, else
        the UTM zone of the median point.
    study_area
        Study-area polygon in WGS84 lon/lat (see :func:`read_study_area`); rows farther
        than ``max_distance_m`` from it are rejected. Without it, rows farther than
        ``outlier_km`` from the median point are.
    max_distance_m
        Tolerance around ``study_area``, in metres.
    outlier_km
        Radius around the median point used when no study area is given, in km.
    source
        Name of the input, for the report.

    Returns
    -------
    ImportResult
        Columns ``time`` (UTC), ``x``, ``y`` (metres), ``category``, ``source_category``
        and the mapped place fields; ``events.attrs`` holds ``crs`` and ``timezone``.

    Raises
    ------
    ColumnNotFoundError, DateParseError, CoordinateError, PersonFieldError
        When the mapping or the file as a whole is wrong (see the message for the fix).
    """
    _check_columns(frame, mapping)
    report = ValidationReport(source=source, n_input=len(frame))
    reason = pd.Series(pd.NA, index=frame.index, dtype="object")
    value = pd.Series("", index=frame.index, dtype="object")

    def reject(bad: pd.Series | np.ndarray, why: str, shown: pd.Series | None = None) -> None:
        bad_s = pd.Series(np.asarray(bad, dtype=bool), index=frame.index) & reason.isna()
        reason[bad_s] = why
        if shown is not None:
            value[bad_s] = shown[bad_s].astype(str)

    times = _parse_times(frame, mapping)
    time_raw = frame[mapping.time] if mapping.time else pd.Series("", index=frame.index)
    reject(times.isna(), "unparseable date", time_raw)

    if mapping.x is not None and mapping.y is not None:
        cx, cy, crs_in = frame[mapping.x], frame[mapping.y], CRS.from_user_input(mapping.crs)
    else:
        assert mapping.lon is not None
        assert mapping.lat is not None
        cx, cy, crs_in = frame[mapping.lon], frame[mapping.lat], CRS.from_epsg(4326)
    report.crs_in = crs_in.to_string()
    x_in = pd.to_numeric(cx, errors="coerce").to_numpy(dtype=float)
    y_in = pd.to_numeric(cy, errors="coerce").to_numpy(dtype=float)
    shown_xy = cx.astype(str) + ", " + cy.astype(str)
    finite = np.isfinite(x_in) & np.isfinite(y_in)
    reject(~finite, "missing coordinates", shown_xy)
    reject(finite & (x_in == 0) & (y_in == 0), "invalid coordinates (0, 0)", shown_xy)
    to_wgs = Transformer.from_crs(crs_in, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(np.where(finite, x_in, 0.0), np.where(finite, y_in, 0.0))
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    in_range = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    reject(finite & ~in_range, "invalid coordinates (out of range)", shown_xy)
    usable = finite & in_range
    in_area = _area_of_use_check(lon, lat, crs_in)
    if usable.any() and not (usable & in_area).any():
        sample = shown_xy[usable].head(3).tolist()
        raise CoordinateError(
            f"no point falls inside the area of use of {crs_in.to_string()} "
            f"({crs_in.name}); first values: {'; '.join(sample)}",
            "the coordinates are in another CRS: pass the right --crs, or --lon-col/"
            "--lat-col for WGS84 degrees",
        )
    reject(usable & ~in_area, f"outside the area of use of {crs_in.to_string()}", shown_xy)
    usable &= in_area

    if target_crs is None:
        unit = crs_in.axis_info[0].unit_name if crs_in.axis_info else ""
        if crs_in.is_projected and unit in {"metre", "meter"}:
            target_crs = crs_in.to_string()
        elif usable.any():
            centre = (float(np.median(lon[usable])), float(np.median(lat[usable])))
            target_crs = metric_crs_for(*centre)
        else:
            target_crs = "EPSG:3857"
    to_metric = Transformer.from_crs("EPSG:4326", target_crs, always_xy=True)
    x_m, y_m = (np.asarray(a, dtype=float) for a in to_metric.transform(lon, lat))
    report.crs_out = target_crs

    if study_area is not None:
        area_m = project_geometry(study_area, crs=target_crs)
        inside = shapely.dwithin(area_m, shapely.points(x_m, y_m), max_distance_m)
        reject(usable & ~np.asarray(inside, dtype=bool), "far outside the study area", shown_xy)
    elif usable.any():
        mx, my = np.median(x_m[usable]), np.median(y_m[usable])
        far = np.hypot(x_m - mx, y_m - my) > outlier_km * 1000.0
        reject(usable & far, f"far outside the study area (> {outlier_km:g} km)", shown_xy)

    if mapping.category is not None:
        raw_cat = frame[mapping.category]
        platform = map_categories(raw_cat, mapping=categories, unknown=unknown_category)
        reject(raw_cat.isna(), "missing category", raw_cat)
        reject(platform.isna(), "unknown category", raw_cat)
        if mapping.domestic is not None:
            flag = frame[mapping.domestic].astype(str).str.strip().str.lower()
            domestic = flag.isin({"true", "1", "yes", "y", "t"})
            platform = platform.where(~(domestic & (platform == "violence")), "domestic_violence")
        source_cat = raw_cat.astype(object)
    else:
        platform = pd.Series("other", index=frame.index, dtype=object)
        source_cat = pd.Series(np.nan, index=frame.index, dtype=object)

    keep = reason.isna().to_numpy()
    events = pd.DataFrame(
        {
            "time": times[keep].to_numpy(),
            "x": x_m[keep],
            "y": y_m[keep],
            "category": platform[keep].astype(str).to_numpy(),
            "source_category": source_cat[keep].to_numpy(),
        }
    )
    events["time"] = pd.to_datetime(events["time"], utc=True)
    extras = dict(mapping.place_attributes)
    if mapping.district is not None:
        extras[mapping.district] = "district"
    for src, target in extras.items():
        events[target] = frame.loc[keep, src].astype(str).to_numpy()
    events = events.sort_values("time", kind="stable").reset_index(drop=True)
    events.attrs.update({"crs": target_crs, "timezone": mapping.timezone})

    bad_rows = np.flatnonzero(~keep)
    report.rejected = [
        {"row": int(i), "reason": str(reason.iat[int(i)]), "value": str(value.iat[int(i)])}
        for i in bad_rows
    ]
    report.n_accepted = len(events)
    if len(events) == 0:
        raise CoordinateError(
            f"no row of {source} survived validation ({report.reasons})",
            "check the column mapping, the CRS and the category mapping",
        )
    share = len(bad_rows) / max(1, len(frame))
    if share > 0.05:
        report.warnings.append(f"{share:.1%} of rows were rejected; see 'reasons'")
    return ImportResult(events=events, report=report, crs=target_crs)


def write_events(path: str | Path, events: pd.DataFrame, *, crs: str) -> Path:
    """Write clean events to Parquet, with the CRS in the file's metadata."""
    file = Path(path)
    out = events.copy()
    out.attrs = {**events.attrs, "crs": crs}
    out.to_parquet(file, index=False)
    return file


def read_events(path: str | Path) -> tuple[pd.DataFrame, str]:
    """Read events written by :func:`write_events`; returns the table and its CRS."""
    events = pd.read_parquet(path)
    crs = str(events.attrs.get("crs", ""))
    if not crs:
        raise CoordinateError(
            f"{path} has no CRS metadata", "re-create it with `arverne data import`"
        )
    events["time"] = pd.to_datetime(events["time"], utc=True)
    return events, crs
