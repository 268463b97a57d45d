"""Errors raised by the city model; each subclasses a builtin and says what to fix.

The CLI turns them into a one-line message and exit code 2; the web layer into HTTP 422
(bad input) or 503 (a download that failed).
"""

from __future__ import annotations

from pathlib import Path


class CityPackError(ValueError):
    """An OSM source or a city pack cannot be read or built.

    Parameters
    ----------
    path
        The file or directory at fault.
    problem
        What is wrong with it.
    fix
        What the caller should do about it.
    """

    def __init__(self, path: str | Path, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}; {fix}")
        self.path = Path(path)
        self.problem = problem
        self.fix = fix


class SnapError(ValueError):
    """A point cannot be placed on the road network (too far from any road, or outside)."""

    def __init__(self, what: str, lon: float, lat: float, problem: str) -> None:
        super().__init__(
            f"{what} ({lon:.6f}, {lat:.6f}) {problem}; give a point on or next to a street "
            "inside the city (coordinates are lon,lat in WGS84)"
        )
        self.what = what
        self.lon = lon
        self.lat = lat


class NoRouteError(LookupError):
    """Two points are on the network but no path joins them in the chosen mode."""


class DistrictError(ValueError):
    """District polygons cannot be imported or generated.

    The message lists every bad feature by its index in the FeatureCollection.
    """


class FetchError(OSError):
    """An OSM extract could not be downloaded (network, HTTP status or content)."""
