"""The inputs of the dispatch simulator: city, call types, rates, staffing plan, settings.

A city is a set of zones (node ids) with a travel-time matrix between them, a district
(zone group) for each zone and a share of the calls. Any matrix works: the city model
provides road travel times; :func:`grid_city` builds a small grid city with Manhattan
travel times at an urban speed for tests and when no city pack is available.

Everything here is plain data (frozen dataclasses of numbers and numpy arrays) and is
validated by :func:`validate_scenario` before a run, so that bad input fails with a
message naming the option and the fix before any simulated time passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from arverne.planning.errors import ImpossibleStaffingError, PlanningInputError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Policy = Literal["nearest", "beat"]
AfterService = Literal["return", "stay", "instant"]
Distribution = Literal["lognormal", "exponential"]
POLICIES: tuple[str, ...] = ("nearest", "beat")
AFTER_SERVICE: tuple[str, ...] = ("return", "stay", "instant")
DEFAULT_TARGETS_S: Mapping[int, float | None] = {1: 600.0, 2: 1200.0, 3: 3600.0, 4: None}
DEFAULT_CAPABILITY = "patrol"

# Share of the day's calls in each hour (00h..23h): low before dawn, peak in the evening.
_HOURLY_SHAPE = np.array(
    [3.6, 3.0, 2.6, 2.1, 1.7, 1.6, 2.0, 2.9, 3.7, 4.1, 4.3, 4.5,
     4.7, 4.8, 4.9, 5.0, 5.3, 5.6, 5.8, 5.9, 5.7, 5.3, 4.8, 4.1]
)  # fmt: skip
HOURLY_SHAPE: F64 = _HOURLY_SHAPE / _HOURLY_SHAPE.sum()


@dataclass(frozen=True)
class CallType:
    """A kind of call: its priority, on-scene time and the capabilities it needs.

    Attributes
    ----------
    name
        Short identifier, e.g. ``"violence"``.
    priority
        1 (most urgent) to 4.
    service_mean_s
        Mean on-scene time (seconds).
    service_cv
        Coefficient of variation of the on-scene time (lognormal); ignored when
        ``distribution`` is ``"exponential"`` (cv 1).
    required
        Capabilities a unit needs to answer, e.g. ``{"patrol"}`` or ``{"dog"}``.
    distribution
        ``"lognormal"`` (default) or ``"exponential"`` (queueing-theory checks).
    """

    name: str
    priority: int
    service_mean_s: float
    service_cv: float = 0.6
    required: frozenset[str] = frozenset({DEFAULT_CAPABILITY})
    distribution: Distribution = "lognormal"


DEFAULT_CALL_TYPES: tuple[CallType, ...] = (
    CallType("violence", 1, 90 * 60.0, 0.7),
    CallType("burglary_in_progress", 1, 75 * 60.0, 0.6),
    CallType("disturbance", 2, 50 * 60.0, 0.6),
    CallType("traffic_accident", 2, 70 * 60.0, 0.6),
    CallType("theft_report", 3, 60 * 60.0, 0.5),
    CallType("noise", 3, 35 * 60.0, 0.5),
    CallType("admin", 4, 45 * 60.0, 0.5),
)
DEFAULT_TYPE_SHARES: F64 = np.array([0.06, 0.04, 0.22, 0.10, 0.22, 0.20, 0.16])


@dataclass(frozen=True)
class SimulationInputs:
    """Call types and their arrival rates by hour of day.

    Attributes
    ----------
    call_types
        The call types, in column order of ``rates_per_hour``.
    rates_per_hour
        ``(24, n_types)`` Poisson rate (calls per hour) of each type at each hour of day.
    notes
        How the inputs were obtained (defaults, fitted from a file, what was assumed).
    """

    call_types: tuple[CallType, ...]
    rates_per_hour: F64
    notes: tuple[str, ...] = ()

    @property
    def calls_per_day(self) -> float:
        """Expected number of calls per day."""
        return float(np.sum(self.rates_per_hour))

    def scaled(self, calls_per_day: float) -> SimulationInputs:
        """Same shape of rates, rescaled to ``calls_per_day`` expected calls a day."""
        if not (math.isfinite(calls_per_day) and calls_per_day > 0):
            raise PlanningInputError(
                "--rate", f"got {calls_per_day}", "pass a positive number of calls per day"
            )
        factor = calls_per_day / self.calls_per_day
        return replace(self, rates_per_hour=self.rates_per_hour * factor)


def default_inputs(calls_per_day: float = 420.0) -> SimulationInputs:
    """Default call mix (7 types, P1-P4) with a typical daily cycle.

    Parameters
    ----------
    calls_per_day
        Expected calls a day (420 a day is about 153,000 a year).
    """
    rates = np.outer(HOURLY_SHAPE, DEFAULT_TYPE_SHARES) * calls_per_day
    return SimulationInputs(DEFAULT_CALL_TYPES, rates, ("default call mix and daily cycle",))


@dataclass(frozen=True)
class City:
    """Zones, travel times between them and where calls come from.

    Attributes
    ----------
    name
        Label shown in reports.
    travel_s
        ``(Z, Z)`` travel time in seconds from zone ``a`` (row) to zone ``b`` (column),
        response start-up (turnout) included.
    district
        ``(Z,)`` district index of each zone.
    district_names
        Name of each district.
    weights
        ``(Z,)`` share of calls located in each zone (sums to 1).
    xy_m
        ``(Z, 2)`` zone centroids in a metric CRS, for maps (optional).
    """

    name: str
    travel_s: F64
    district: I64
    district_names: tuple[str, ...]
    weights: F64
    xy_m: F64 | None = None

    @property
    def n_zones(self) -> int:
        """Number of zones."""
        return int(self.travel_s.shape[0])


def grid_city(
    *,
    side: int = 12,
    block_m: float = 450.0,
    speed_kmh: float = 30.0,
    turnout_s: float = 60.0,
    districts_per_side: int = 2,
    centre_weight: float = 3.0,
    name: str | None = None,
) -> City:
    """A square grid city of ``side x side`` zones with Manhattan travel times.

    Parameters
    ----------
    side
        Zones per side.
    block_m
        Zone width (metres).
    speed_kmh
        Mean urban driving speed.
    turnout_s
        Fixed time between dispatch and departure, added to every trip.
    districts_per_side
        Districts per side (``districts_per_side**2`` districts, named D1, D2, ...).
    centre_weight
        Call density at the centre relative to the edge (1 = uniform).
    name
        Report label.

    Returns
    -------
    City
        Travel ``turnout + (Manhattan distance + block/2 inside a zone) / speed``.
    """
    if side < 1 or block_m <= 0 or speed_kmh <= 0 or turnout_s < 0 or districts_per_side < 1:
        raise PlanningInputError(
            "grid_city", "side, block_m, speed_kmh must be positive", "pass sensible sizes"
        )
    ij = np.indices((side, side)).reshape(2, -1).T.astype(float)
    xy = (ij + 0.5) * block_m
    dist = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) + 0.5 * block_m
    travel = turnout_s + dist / (speed_kmh / 3.6)
    per = max(1, math.ceil(side / districts_per_side))
    d_ij = (ij // per).astype(np.int64)
    district = d_ij[:, 0] * districts_per_side + d_ij[:, 1]
    centre = side * block_m / 2.0
    radius = np.hypot(xy[:, 0] - centre, xy[:, 1] - centre) / max(centre, 1.0)
    weights = 1.0 + (centre_weight - 1.0) * np.clip(1.0 - radius, 0.0, 1.0)
    return City(
        name=name or f"grid {side}x{side} ({block_m:g} m blocks, {speed_kmh:g} km/h)",
        travel_s=travel,
        district=district,
        district_names=tuple(f"D{k + 1}" for k in range(districts_per_side**2)),
        weights=weights / weights.sum(),
        xy_m=xy,
    )


@dataclass(frozen=True)
class Unit:
    """A patrol unit (équipage): its home zone (post or station) and capabilities."""

    name: str
    home: int
    capabilities: frozenset[str] = frozenset({DEFAULT_CAPABILITY})


@dataclass(frozen=True)
class StaffingPlan:
    """The units on duty. Beats: each zone belongs to the beat of the nearest home."""

    name: str
    units: tuple[Unit, ...]

    @property
    def homes(self) -> I64:
        """Home zone of each unit."""
        return np.array([u.home for u in self.units], dtype=np.int64)


def spread_homes(city: City, n_units: int) -> I64:
    """Home zones spread over the city: weighted farthest-point sampling (deterministic).

    The first home is the zone with the least call-weighted travel to all others; each
    next one the zone that most reduces the call-weighted travel to the nearest home.
    Units beyond the number of zones share homes round-robin.
    """
    travel = city.travel_s
    first = int(np.argmin(travel @ city.weights))
    homes = [first]
    nearest = travel[first].copy()
    n_distinct = min(n_units, city.n_zones)
    while len(homes) < n_distinct:
        gain = (np.maximum(nearest[None, :] - travel, 0.0) * city.weights[None, :]).sum(axis=1)
        gain[homes] = -1.0
        best = int(np.argmax(gain))
        homes.append(best)
        nearest = np.minimum(nearest, travel[best])
    return np.array([homes[k % n_distinct] for k in range(n_units)], dtype=np.int64)


def make_plan(
    city: City,
    n_units: int,
    *,
    name: str | None = None,
    capabilities: Sequence[frozenset[str]] | None = None,
    homes: Sequence[int] | None = None,
) -> StaffingPlan:
    """A staffing plan of ``n_units`` units spread over ``city``.

    Parameters
    ----------
    city
        The city.
    n_units
        Number of units (>= 1).
    name
        Plan label (default ``"N units"``).
    capabilities
        Capabilities of each unit (default: every unit ``{"patrol"}``).
    homes
        Home zone of each unit (default: :func:`spread_homes`).
    """
    if int(n_units) != n_units or n_units < 1:
        raise PlanningInputError("--units", f"got {n_units}", "pass a whole number of units >= 1")
    home_zones = spread_homes(city, n_units) if homes is None else np.asarray(homes, np.int64)
    if (
        home_zones.shape != (n_units,)
        or np.any(home_zones < 0)
        or np.any(home_zones >= city.n_zones)
    ):
        raise PlanningInputError(
            "homes",
            "wrong length or zone out of range",
            f"pass {n_units} zone ids < {city.n_zones}",
        )
    caps = capabilities or [frozenset({DEFAULT_CAPABILITY})] * n_units
    if len(caps) != n_units:
        raise PlanningInputError("capabilities", "wrong length", f"pass {n_units} sets")
    units = tuple(
        Unit(f"U{k + 1:02d}", int(home_zones[k]), frozenset(caps[k])) for k in range(n_units)
    )
    return StaffingPlan(name or f"{n_units} units", units)


def zone_beats(city: City, plan: StaffingPlan) -> tuple[I64, I64]:
    """Beat of each zone and of each unit.

    Returns
    -------
    tuple of numpy.ndarray
        ``(zone_beat, unit_beat)``: a beat is identified by its home zone; a zone belongs
        to the beat of the home with the shortest travel time to it (ties: lowest zone).
    """
    homes = np.unique(plan.homes)
    zone_beat = homes[np.argmin(city.travel_s[homes], axis=0)]
    return zone_beat.astype(np.int64), plan.homes.copy()


@dataclass(frozen=True)
class SimulationConfig:
    """How to run the simulation.

    Attributes
    ----------
    days
        Simulated days of call arrivals (the run then drains the queue).
    policy
        ``"nearest"``: the free suitable unit with the shortest travel time;
        ``"beat"``: a free suitable unit of the call's beat first, else the nearest.
    after_service
        ``"return"``: a unit clearing a call is available at once and drives back home
        (dispatched from the scene until it is back, from home afterwards);
        ``"stay"``: it stays at the scene, available; ``"instant"``: it is back home at
        once (the hypercube model's assumption).
    targets_s
        Response-time target (seconds) by priority; ``None`` = no target.
    preempting
        Priorities that may take a unit from a lower-priority call when none is free.
    preemptible
        Priorities of calls whose unit may be taken.
    travel_in_busy
        True: a unit is busy from dispatch until the end of on-scene time (travel + on
        scene). False: busy time is the on-scene time only, starting at dispatch (the
        convention of Larson's model, where travel is part of the service time).
    warmup_s
        Calls arriving before this time are left out of the statistics.
    seed
        Seed of the random streams.
    """

    days: float
    policy: Policy = "nearest"
    after_service: AfterService = "return"
    targets_s: Mapping[int, float | None] = field(default_factory=lambda: dict(DEFAULT_TARGETS_S))
    preempting: frozenset[int] = frozenset({1})
    preemptible: frozenset[int] = frozenset({3, 4})
    travel_in_busy: bool = True
    warmup_s: float = 0.0
    seed: int = 0

    @property
    def horizon_s(self) -> float:
        """End of call arrivals (seconds)."""
        return float(self.days) * 86400.0


def validate_scenario(
    inputs: SimulationInputs, city: City, plan: StaffingPlan, config: SimulationConfig
) -> None:
    """Check every input before a run; raise :class:`PlanningInputError` naming the fix."""
    if not (math.isfinite(config.days) and config.days > 0):
        raise PlanningInputError("--days", f"got {config.days}", "pass a positive number of days")
    if config.policy not in POLICIES:
        raise PlanningInputError(
            "--policy", f"unknown policy {config.policy!r}", f"use one of {', '.join(POLICIES)}"
        )
    if config.after_service not in AFTER_SERVICE:
        raise PlanningInputError(
            "after_service", f"got {config.after_service!r}", f"use {', '.join(AFTER_SERVICE)}"
        )
    if (
        config.preempting
        and config.preemptible
        and max(config.preempting) >= min(config.preemptible)
    ):
        raise PlanningInputError(
            "preempting",
            "a preempting priority is not more urgent than every preemptible one",
            "use e.g. preempting {1} and preemptible {3, 4}",
        )
    rates = inputs.rates_per_hour
    n_types = len(inputs.call_types)
    if n_types == 0:
        raise PlanningInputError("call_types", "no call type", "define at least one call type")
    if rates.shape != (24, n_types):
        raise PlanningInputError(
            "rates_per_hour", f"shape {rates.shape}", f"pass a (24, {n_types}) array"
        )
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise PlanningInputError(
            "--rate", "negative or non-finite arrival rates", "pass rates >= 0 calls per hour"
        )
    if rates.sum() <= 0:
        raise PlanningInputError("--rate", "all arrival rates are zero", "pass a positive rate")
    for ct in inputs.call_types:
        if not (ct.service_mean_s > 0 and math.isfinite(ct.service_mean_s)):
            raise PlanningInputError(
                f"call type {ct.name!r}", f"on-scene mean {ct.service_mean_s}", "must be > 0"
            )
        if ct.service_cv < 0 or ct.priority < 1:
            raise PlanningInputError(
                f"call type {ct.name!r}", "negative cv or priority < 1", "fix the call type"
            )
    travel = city.travel_s
    z = city.n_zones
    if travel.shape != (z, z) or not np.all(np.isfinite(travel)) or np.any(travel < 0):
        raise PlanningInputError(
            "travel_s", "not a square matrix of finite times >= 0", "fix the travel-time matrix"
        )
    if city.weights.shape != (z,) or np.any(city.weights < 0) or city.weights.sum() <= 0:
        raise PlanningInputError("weights", "bad zone weights", f"pass {z} shares >= 0")
    if city.district.shape != (z,) or city.district.max() >= len(city.district_names):
        raise PlanningInputError("district", "bad district index", "one index per zone")
    if not plan.units:
        raise PlanningInputError("--units", "no unit", "pass at least one unit")
    if np.any(plan.homes < 0) or np.any(plan.homes >= z):
        raise PlanningInputError("units", "home zone out of range", f"use zone ids < {z}")
    for k, ct in enumerate(inputs.call_types):
        if rates[:, k].sum() > 0 and not any(ct.required <= u.capabilities for u in plan.units):
            raise ImpossibleStaffingError(
                "--units",
                f"plan {plan.name!r} has no unit with {sorted(ct.required)} needed by "
                f"call type {ct.name!r}",
                "add a unit with these capabilities or drop the call type",
            )
