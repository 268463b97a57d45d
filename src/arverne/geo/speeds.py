"""Road speeds: parsing OSM ``maxspeed`` values, class defaults and the emergency factor.

Speeds are in km/h. A value found in the OSM tags wins (``maxspeed:forward`` /
``maxspeed:backward`` for the direction travelled, then ``maxspeed``, ``zone:maxspeed``,
``maxspeed:type`` and ``source:maxspeed``); without one the highway class default below is
used. The defaults are *effective* urban speeds for a French city, not the legal limits:
a residential street is legally 50 km/h in France but nobody drives it at 50 between
junctions, parked cars and pedestrians.

Emergency driving (lights and siren) is modelled by one factor: an emergency travel time
is the normal travel time divided by the factor. The pack stores normal times only and
the factor in ``meta.json``; :func:`emergency_travel_time_s` applies it on demand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

MPH_TO_KMH = 1.609344
WALK_SPEED_KMH = 5.0
STEPS_SPEED_KMH = 2.5
DEFAULT_EMERGENCY_FACTOR = 1.3
MIN_EMERGENCY_FACTOR = 1.0
MAX_EMERGENCY_FACTOR = 3.0

DEFAULT_SPEED_KMH: Mapping[str, float] = {
    "motorway": 110.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 20.0,
    "service": 20.0,
    "road": 30.0,
}
FALLBACK_SPEED_KMH = 30.0

# Implicit limits written as "CC:kind" (e.g. "FR:urban"); country-specific values first.
_IMPLICIT_KMH: Mapping[str, float] = {
    "urban": 50.0,
    "rural": 80.0,
    "trunk": 110.0,
    "motorway": 130.0,
    "living_street": 20.0,
    "walk": 6.0,
    "school": 30.0,
    "bicycle_road": 30.0,
    "pedestrian_zone": 6.0,
}
_COUNTRY_IMPLICIT_KMH: Mapping[tuple[str, str], float] = {
    ("de", "rural"): 100.0,
    ("de", "motorway"): 130.0,
    ("be", "rural"): 90.0,
    ("ch", "motorway"): 120.0,
    ("ch", "rural"): 80.0,
    ("it", "rural"): 90.0,
    ("es", "rural"): 90.0,
    ("fi", "rural"): 80.0,
    ("fi", "motorway"): 120.0,
    ("gb", "urban"): 30 * MPH_TO_KMH,
    ("gb", "rural"): 60 * MPH_TO_KMH,
    ("gb", "nsl_single"): 60 * MPH_TO_KMH,
    ("gb", "nsl_dual"): 70 * MPH_TO_KMH,
    ("gb", "motorway"): 70 * MPH_TO_KMH,
}
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")
_ZONE = re.compile(r"^(?:([a-z]{2}):)?zone:?(\d+)$")
_COUNTRY_VALUE = re.compile(r"^([a-z]{2}):(.+)$")
_NO_VALUE = frozenset({"none", "signals", "variable", "unknown", "no", "implicit"})


def _parse_one(value: str) -> float | None:
    text = value.strip().lower()
    if not text or text in _NO_VALUE:
        return None
    if text == "walk":
        return _IMPLICIT_KMH["walk"]
    number = _NUMBER.match(text)
    if number:
        speed = float(number.group(1).replace(",", "."))
        unit = number.group(2)
        if unit == "mph":
            speed *= MPH_TO_KMH
        elif unit == "knots":
            speed *= 1.852
        return speed
    zone = _ZONE.match(text)
    if zone:
        return float(zone.group(2))
    country_value = _COUNTRY_VALUE.match(text)
    if country_value:
        country, kind = country_value.groups()
        kind = kind.replace("-", "_")
        if (country, kind) in _COUNTRY_IMPLICIT_KMH:
            return _COUNTRY_IMPLICIT_KMH[(country, kind)]
        if kind in _IMPLICIT_KMH:
            return _IMPLICIT_KMH[kind]
        return _parse_one(kind)  # "FR:30", "FR:zone30"
    return None


def parse_maxspeed(value: str | None) -> float | None:
    """Parse an OSM ``maxspeed`` value into km/h.

    Parameters
    ----------
    value
        The raw tag value: ``"50"``, ``"30 mph"``, ``"50 km/h"``, ``"FR:urban"``,
        ``"FR:zone30"``, ``"DE:zone:30"``, ``"walk"``, ``"50;30"`` (the lowest wins) ...

    Returns
    -------
    float or None
        The speed in km/h, or None when the value carries no usable speed (``"none"``,
        ``"signals"``, garbage, or a speed outside 1..200 km/h).
    """
    if value is None:
        return None
    speeds = [s for s in (_parse_one(part) for part in value.split(";")) if s is not None]
    if not speeds:
        return None
    speed = min(speeds)
    if not 1.0 <= speed <= 200.0:
        return None
    return speed


def default_speed_kmh(highway: str) -> float:
    """Return the effective default speed of an OSM highway class in km/h.

    Parameters
    ----------
    highway
        The ``highway`` tag value (``"residential"``, ``"primary"`` ...).

    Returns
    -------
    float
        The class default, or 30 km/h for classes not in :data:`DEFAULT_SPEED_KMH`.
    """
    return DEFAULT_SPEED_KMH.get(highway, FALLBACK_SPEED_KMH)


def drive_speed_kmh(tags: Mapping[str, str], *, forward: bool = True) -> float:
    """Return the driving speed of a way in one direction, in km/h.

    Parameters
    ----------
    tags
        The way's OSM tags.
    forward
        True for the direction of the way's node order, False for the opposite one.

    Returns
    -------
    float
        The tagged limit for that direction when one parses, else the class default.
    """
    keys = (
        "maxspeed:forward" if forward else "maxspeed:backward",
        "maxspeed",
        "zone:maxspeed",
        "maxspeed:type",
        "source:maxspeed",
    )
    for key in keys:
        speed = parse_maxspeed(tags.get(key))
        if speed is not None:
            return speed
    return default_speed_kmh(tags.get("highway", ""))


def walk_speed_kmh(highway: str) -> float:
    """Return the walking speed on a highway class in km/h (steps are slower)."""
    return STEPS_SPEED_KMH if highway == "steps" else WALK_SPEED_KMH


def check_emergency_factor(factor: float) -> float:
    """Validate an emergency-driving factor and return it as a float.

    Raises
    ------
    ValueError
        When the factor is not a finite number between 1.0 and 3.0.
    """
    value = float(factor)
    if not MIN_EMERGENCY_FACTOR <= value <= MAX_EMERGENCY_FACTOR:
        raise ValueError(
            f"emergency_factor={factor!r} is out of range; give a number between "
            f"{MIN_EMERGENCY_FACTOR} (no faster) and {MAX_EMERGENCY_FACTOR} (three times faster)"
        )
    return value


def emergency_travel_time_s(travel_time_s: ArrayLike, factor: float) -> NDArray[np.float64]:
    """Convert normal travel times into emergency-driving travel times.

    Parameters
    ----------
    travel_time_s
        Normal travel times in seconds (scalar or array).
    factor
        How many times faster emergency driving is (1.0 .. 3.0), usually the pack's
        ``meta["emergency_factor"]``.

    Returns
    -------
    numpy.ndarray
        ``travel_time_s / factor``; the input is not modified.
    """
    return np.asarray(travel_time_s, dtype=np.float64) / check_emergency_factor(factor)
