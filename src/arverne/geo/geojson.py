"""Small GeoJSON helpers: read polygons (with per-feature validation) and write features.

GeoJSON coordinates are WGS84 (lon, lat), as everywhere on Arverne's wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from arverne.geo.atomic import atomic_file

POLYGONAL = ("Polygon", "MultiPolygon")


def read_json(path: str | Path, *, what: str) -> Any:
    """Read a JSON file, turning I/O and syntax errors into a ValueError that says what to fix."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ValueError(f"{source}: {what} file not found; check the path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{source}: cannot read the {what} file ({exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{source}: the {what} file is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "give a GeoJSON FeatureCollection"
        ) from exc


def features_of(document: Any) -> list[Mapping[str, Any]]:
    """Return the features of a GeoJSON document (FeatureCollection, Feature or geometry)."""
    if not isinstance(document, Mapping):
        raise ValueError("GeoJSON must be an object with a 'type'; give a FeatureCollection")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise ValueError("the FeatureCollection has no 'features' list")
        return features
    if kind == "Feature":
        return [document]
    if kind in POLYGONAL or kind in ("Point", "LineString", "MultiPoint", "MultiLineString"):
        return [{"type": "Feature", "geometry": document, "properties": {}}]
    raise ValueError(f"GeoJSON type {kind!r} is not supported; give a FeatureCollection")


def feature_geometry(feature: Any) -> tuple[BaseGeometry | None, str | None]:
    """Parse and check one polygonal feature; return (geometry, problem)."""
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        return None, "is not a GeoJSON Feature"
    raw = feature.get("geometry")
    if not isinstance(raw, Mapping) or raw.get("type") not in POLYGONAL:
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        return None, f"has geometry type {kind!r}, expected Polygon or MultiPolygon"
    try:
        geometry = shapely.geometry.shape(dict(raw))
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
        return None, f"has malformed coordinates ({exc})"
    if geometry.is_empty:
        return None, "has an empty geometry"
    if not geometry.is_valid:
        return None, f"has an invalid geometry ({shapely.is_valid_reason(geometry)})"
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        return None, "has coordinates outside WGS84 lon/lat ranges (is it projected?)"
    return geometry, None


def load_area(source: str | Path | BaseGeometry) -> BaseGeometry:
    """Load one area (e.g. a city boundary) from a shapely geometry or a GeoJSON file.

    Several polygonal features are merged into one geometry.

    Raises
    ------
    ValueError
        When the file is missing or malformed, or holds no valid polygon.
    """
    if not isinstance(source, str | Path):
        if shapely.get_type_id(source) not in (3, 6) or not source.is_valid or source.is_empty:
            raise ValueError(
                "boundary must be a valid, non-empty shapely Polygon or MultiPolygon in WGS84"
            )
        return source
    document = read_json(source, what="boundary")
    geometries = []
    for index, feature in enumerate(features_of(document)):
        geometry, problem = feature_geometry(feature)
        if problem is not None:
            raise ValueError(f"{source}: feature {index} {problem}; fix or remove it")
        geometries.append(geometry)
    if not geometries:
        raise ValueError(f"{source}: no polygon found; give a FeatureCollection of polygons")
    return shapely.union_all(geometries)


def feature(geometry: BaseGeometry, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Build a GeoJSON Feature from a WGS84 shapely geometry."""
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(geometry),
        "properties": dict(properties),
    }


def write_feature_collection(path: str | Path, features: Iterable[Mapping[str, Any]]) -> None:
    """Write a FeatureCollection atomically (6 decimals, about 10 cm)."""
    document = {"type": "FeatureCollection", "features": list(features)}
    text = json.dumps(_rounded(document), ensure_ascii=False)
    with atomic_file(Path(path)) as temp:
        temp.write_text(text, encoding="utf-8")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, Mapping):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value
