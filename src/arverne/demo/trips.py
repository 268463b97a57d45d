"""Simulated drives of the demo's units: a polyline timed in simulated seconds."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

from arverne.dispatch.city import CityModel, haversine_m

PATROL_SPEED_MPS = 25 / 3.6
CITY_SPEED_MPS = 45 / 3.6


@dataclasses.dataclass
class Trip:
    """A unit's movement along a polyline, timed in simulated seconds."""

    points: np.ndarray  # (n, 2) lon, lat
    times: np.ndarray  # cumulative simulated seconds at each point
    elapsed: float = 0.0

    @property
    def done(self) -> bool:
        """True once the end is reached."""
        return self.elapsed >= float(self.times[-1])

    def position(self) -> tuple[float, float]:
        """Interpolated (lon, lat) at the elapsed time."""
        t = min(self.elapsed, float(self.times[-1]))
        lon = float(np.interp(t, self.times, self.points[:, 0]))
        lat = float(np.interp(t, self.times, self.points[:, 1]))
        return lon, lat


def segment_lengths(points: np.ndarray) -> np.ndarray:
    """Great-circle length in metres of each segment of a (n, 2) lon/lat polyline."""
    lon, lat = np.radians(points[:, 0]), np.radians(points[:, 1])
    dlat, dlon = np.diff(lat), np.diff(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * 6_371_008.8 * np.arcsin(np.sqrt(a)), dtype=np.float64)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lon, lat) points."""
    return float(haversine_m(np.array([a[0]]), np.array([a[1]]), b[0], b[1])[0])


def plan_trip(
    city: CityModel,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    urgent: bool,
    patrol: bool,
) -> Trip:
    """A drive from ``start`` to ``end``: along the city pack's roads when it has one
    (emergency driving when ``urgent``; a patrol drives 1.6 times slower), else a straight
    line 1.3 times the distance at city (or patrol) speed."""
    pack = getattr(city, "pack", None)
    if pack is not None:
        from arverne.geo.errors import NoRouteError, SnapError
        from arverne.geo.routing import route

        with contextlib.suppress(NoRouteError, SnapError, ValueError):
            found = route(pack, start, end, emergency=urgent)
            points = np.array(found.geometry, dtype=np.float64)
            if len(points) >= 2:
                seg = segment_lengths(points)
                total = max(float(seg.sum()), 1.0)
                duration = found.travel_time_s * (1.6 if patrol else 1.0)
                times = np.concatenate([[0.0], np.cumsum(seg) / total * duration])
                return Trip(points=points, times=times)
    distance = distance_m(start, end) * 1.3
    speed = PATROL_SPEED_MPS if patrol else CITY_SPEED_MPS * (1.3 if urgent else 1.0)
    return Trip(points=np.array([start, end]), times=np.array([0.0, max(distance / speed, 1.0)]))
