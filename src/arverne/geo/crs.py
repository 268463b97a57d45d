"""Choice of the metric coordinate reference system of a city, and conversions to it.

Coordinates travel as WGS84 (lon, lat) on the wire; every distance, buffer and snap is
computed in a metric CRS chosen once per city pack:

* EPSG:2154 (RGF93 / Lambert-93) when the data's centroid lies in metropolitan France
  (mainland and Corsica; Monaco is excluded, it is not France);
* otherwise the WGS84 UTM zone of the centroid (EPSG:326zz north, 327zz south), with the
  Norway and Svalbard exceptions of the UTM grid.

Lambert-93 and UTM keep scale errors under 0.1 % at city scale, so lengths measured in
these coordinates are used as metres without correction.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

LAMBERT_93 = 2154
WGS84 = 4326

# Coarse outline of metropolitan France (about 10-20 km accuracy), lon/lat.
_FRANCE_MAINLAND = (
    (2.55, 51.09), (3.15, 50.78), (4.20, 50.28), (4.85, 50.15), (5.80, 49.55),
    (6.40, 49.47), (7.60, 49.08), (8.22, 48.97), (7.60, 47.60), (7.00, 47.45),
    (6.45, 47.00), (6.10, 46.60), (5.95, 46.20), (6.20, 46.20), (6.80, 46.40),
    (7.05, 45.90), (6.62, 45.10), (6.95, 44.40), (7.70, 44.10), (7.53, 43.78),
    (7.00, 43.50), (6.20, 43.05), (5.30, 43.18), (4.20, 43.45), (3.10, 43.00),
    (3.17, 42.43), (2.00, 42.35), (0.70, 42.70), (-0.70, 42.80), (-1.78, 43.37),
    (-1.50, 43.60), (-1.25, 44.60), (-1.20, 45.80), (-2.20, 47.10), (-3.00, 47.40),
    (-4.40, 47.80), (-4.80, 48.30), (-4.70, 48.65), (-3.50, 48.85), (-2.00, 48.70),
    (-1.60, 48.70), (-1.95, 49.72), (-1.25, 49.70), (-1.10, 49.35), (0.10, 49.45),
    (1.40, 50.10), (1.60, 50.70),
)  # fmt: skip
_CORSICA = (
    (8.55, 42.40), (9.45, 43.02), (9.55, 42.10), (9.20, 41.35), (8.80, 41.55),
    (8.60, 41.90),
)  # fmt: skip
_MONACO_BOX = (7.400, 43.720, 7.445, 43.755)


@functools.cache
def _france_outline() -> BaseGeometry:
    france = shapely.union(shapely.Polygon(_FRANCE_MAINLAND), shapely.Polygon(_CORSICA))
    return shapely.difference(france, shapely.box(*_MONACO_BOX))


def in_metropolitan_france(lon: float, lat: float) -> bool:
    """Tell whether a WGS84 point lies in metropolitan France (mainland or Corsica).

    Parameters
    ----------
    lon, lat
        Point in degrees (WGS84).

    Returns
    -------
    bool
        True inside the coarse outline of metropolitan France; Monaco counts as outside.
    """
    return bool(shapely.contains_xy(_france_outline(), lon, lat))


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS84 UTM zone containing a point.

    Parameters
    ----------
    lon, lat
        Point in degrees (WGS84).

    Returns
    -------
    int
        ``32600 + zone`` north of the equator, ``32700 + zone`` south of it.
    """
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise ValueError(
            f"lon={lon}, lat={lat} is outside the UTM domain; give WGS84 degrees "
            "with -180 <= lon <= 180 and -80 <= lat <= 84"
        )
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32  # south-west Norway
    elif 72.0 <= lat <= 84.0 and lon >= 0.0:  # Svalbard
        if lon < 9.0:
            zone = 31
        elif lon < 21.0:
            zone = 33
        elif lon < 33.0:
            zone = 35
        elif lon < 42.0:
            zone = 37
    return (32600 if lat >= 0.0 else 32700) + zone


def choose_metric_crs(lon: float, lat: float) -> int:
    """Choose the metric CRS of a city from the centroid of its data.

    Parameters
    ----------
    lon, lat
        Centroid of the city's data in WGS84 degrees.

    Returns
    -------
    int
        2154 (Lambert-93) in metropolitan France, else the UTM zone's EPSG code.
    """
    if in_metropolitan_france(lon, lat):
        return LAMBERT_93
    return utm_epsg(lon, lat)


class Projector:
    """Convert between WGS84 (lon, lat) and the pack's metric CRS.

    Parameters
    ----------
    epsg
        EPSG code of the metric CRS (see :func:`choose_metric_crs`).
    """

    def __init__(self, epsg: int) -> None:
        self.epsg = epsg

    @functools.cached_property
    def _forward(self) -> Transformer:
        return Transformer.from_crs(WGS84, self.epsg, always_xy=True)

    @functools.cached_property
    def _inverse(self) -> Transformer:
        return Transformer.from_crs(self.epsg, WGS84, always_xy=True)

    def to_metric(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project WGS84 degrees to metric x, y (arrays of the same shape)."""
        x, y = self._forward.transform(
            np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
        )
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_lonlat(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Unproject metric x, y to WGS84 lon, lat degrees."""
        lon, lat = self._inverse.transform(
            np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        )
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def geometry_to_metric(self, geom: BaseGeometry) -> BaseGeometry:
        """Project a shapely geometry from WGS84 to the metric CRS."""
        return shapely.transform(geom, self._transform_forward)

    def geometry_to_lonlat(self, geom: BaseGeometry) -> BaseGeometry:
        """Unproject a shapely geometry from the metric CRS to WGS84."""
        return shapely.transform(geom, self._transform_inverse)

    def _transform_forward(self, coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = self.to_metric(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def _transform_inverse(self, coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = self.to_lonlat(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])
