"""String tables of a city pack: streets, addresses and landmarks as pandas DataFrames.

Normalised keys (see :mod:`arverne.geo.text`) are computed once at build time and stored,
so the geocoder starts without re-normalising tens of thousands of strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from arverne.geo.crs import Projector
from arverne.geo.osm_read import Address, Landmark
from arverne.geo.text import normalize

_HOUSE_NUMBER = re.compile(r"^\s*(\d{1,5})\s*(.*)$")
DEDUP_CELL_M = 100.0


def parse_house_number(text: str) -> tuple[int, str]:
    """Split ``"12 bis"`` into ``(12, "bis")``; non-numeric numbers give ``(-1, text)``."""
    match = _HOUSE_NUMBER.match(text)
    if not match:
        return -1, text.strip().lower()
    return int(match.group(1)), match.group(2).strip(" ,-").lower()


def _inside(boundary: BaseGeometry, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    shapely.prepare(boundary)
    return np.asarray(shapely.contains_xy(boundary, lon, lat), dtype=bool)


def address_table(
    addresses: Sequence[Address], projector: Projector, boundary: BaseGeometry
) -> pd.DataFrame:
    """Addresses inside the boundary, deduplicated, with parsed numbers and metric x/y."""
    columns = [
        "housenumber",
        "number",
        "suffix",
        "street",
        "street_key",
        "lon",
        "lat",
        "x",
        "y",
        "postcode",
        "city",
    ]
    if not addresses:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in columns})
    frame = pd.DataFrame(
        {
            "housenumber": [a.housenumber for a in addresses],
            "street": [a.street for a in addresses],
            "lon": np.array([a.lon for a in addresses], dtype=np.float64),
            "lat": np.array([a.lat for a in addresses], dtype=np.float64),
            "postcode": [a.postcode for a in addresses],
            "city": [a.city for a in addresses],
        }
    )
    frame = frame[_inside(boundary, frame["lon"].to_numpy(), frame["lat"].to_numpy())]
    x, y = projector.to_metric(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    frame = frame.assign(x=x, y=y)
    parsed = [parse_house_number(h) for h in frame["housenumber"]]
    frame["number"] = np.array([p[0] for p in parsed], dtype=np.int32)
    frame["suffix"] = [p[1] for p in parsed]
    frame["street_key"] = [normalize(s) for s in frame["street"]]
    cell = (
        np.floor(frame["x"] / DEDUP_CELL_M).astype(np.int64).astype(str)
        + ":"
        + np.floor(frame["y"] / DEDUP_CELL_M).astype(np.int64).astype(str)
    )
    frame = frame.assign(_cell=cell).drop_duplicates(["street_key", "housenumber", "_cell"])
    return frame[columns].reset_index(drop=True)


def landmark_table(
    landmarks: Sequence[Landmark], projector: Projector, boundary: BaseGeometry
) -> pd.DataFrame:
    """Named landmarks inside the boundary with normalised keys and metric x/y."""
    columns = ["name", "kind", "key", "lon", "lat", "x", "y", "osm_type", "osm_id"]
    if not landmarks:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in columns})
    frame = pd.DataFrame(
        {
            "name": [m.name for m in landmarks],
            "kind": [m.kind for m in landmarks],
            "lon": np.array([m.lon for m in landmarks], dtype=np.float64),
            "lat": np.array([m.lat for m in landmarks], dtype=np.float64),
            "osm_type": [m.osm_type for m in landmarks],
            "osm_id": np.array([m.osm_id for m in landmarks], dtype=np.int64),
        }
    )
    frame = frame[_inside(boundary, frame["lon"].to_numpy(), frame["lat"].to_numpy())]
    x, y = projector.to_metric(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    frame = frame.assign(x=x, y=y, key=[normalize(n) for n in frame["name"]])
    # A stop mapped as platform and stop position is one landmark for the geocoder.
    cell = (
        np.floor(frame["x"] / DEDUP_CELL_M).astype(np.int64).astype(str)
        + ":"
        + np.floor(frame["y"] / DEDUP_CELL_M).astype(np.int64).astype(str)
    )
    frame = frame.assign(_cell=cell).drop_duplicates(["key", "kind", "_cell"])
    return frame[columns].reset_index(drop=True)


def street_table(names: Sequence[str]) -> pd.DataFrame:
    """Street names by id with their normalised keys (id 0 is the unnamed street)."""
    return pd.DataFrame(
        {
            "name_id": np.arange(len(names), dtype=np.int32),
            "name": list(names),
            "key": [normalize(n) for n in names],
        }
    )


def _dtype(column: str) -> str:
    if column in ("lon", "lat", "x", "y"):
        return "float64"
    if column in ("number",):
        return "int32"
    if column == "osm_id":
        return "int64"
    return "object"
