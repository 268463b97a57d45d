"""Random call streams for the simulator, drawn once per scenario (common random numbers).

Every random quantity of a run is drawn here, before the event loop, from its own
:class:`numpy.random.Generator` stream (spawned from one seed): arrival counts and
times, call locations, on-scene times. The event loop itself draws nothing. Two
staffing plans simulated on the same :class:`Calls` therefore face exactly the same
calls — the same times, places and on-scene work — which is what makes ``--compare``
differences due to the plans, not to the dice.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from arverne.planning.errors import PlanningInputError
from arverne.planning.model import City, SimulationInputs

STREAMS = ("arrivals", "locations", "service")


@dataclass(frozen=True)
class Calls:
    """Calls of one scenario, sorted by time.

    Attributes
    ----------
    time_s
        Arrival time (seconds from the start of day 0, 00:00).
    type_idx
        Index of the call type in ``SimulationInputs.call_types``.
    zone
        Zone of the call.
    service_s
        On-scene time the call needs.
    """

    time_s: NDArray[np.float64]
    type_idx: NDArray[np.int64]
    zone: NDArray[np.int64]
    service_s: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.time_s.size)

    def digest(self) -> str:
        """SHA-256 of the call stream (to check that two runs saw the same calls)."""
        h = hashlib.sha256()
        for arr in (self.time_s, self.type_idx, self.zone, self.service_s):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()


def streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per purpose (see :data:`STREAMS`), from one seed."""
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {
        name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)
    }


def draw_service(
    inputs: SimulationInputs, type_idx: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """On-scene times for calls of the given types (lognormal with mean/cv, or exponential)."""
    n_types = len(inputs.call_types)
    means = np.array([c.service_mean_s for c in inputs.call_types])
    cvs = np.array([c.service_cv for c in inputs.call_types])
    sigma2 = np.log1p(cvs**2)
    mu = np.log(means) - sigma2 / 2.0
    expo = np.array([c.distribution == "exponential" for c in inputs.call_types], dtype=bool)
    normal = rng.standard_normal(type_idx.size)
    unit_exp = rng.standard_exponential(type_idx.size)
    out: NDArray[np.float64] = np.exp(mu[type_idx] + np.sqrt(sigma2)[type_idx] * normal)
    is_exp = expo[type_idx] if n_types else np.zeros(0, bool)
    out[is_exp] = (means[type_idx] * unit_exp)[is_exp]
    return out


def generate_calls(inputs: SimulationInputs, city: City, *, days: float, seed: int) -> Calls:
    """Draw the calls of ``days`` days: Poisson arrivals by hour of day and type.

    Parameters
    ----------
    inputs
        Call types and hourly rates.
    city
        Zones and call weights (where calls happen).
    days
        Simulated days (may be fractional).
    seed
        Seed; the same seed and inputs give the same calls.

    Returns
    -------
    Calls
        Sorted by time.
    """
    if not (math.isfinite(days) and days > 0):
        raise PlanningInputError("--days", f"got {days}", "pass a positive number of days")
    rng = streams(seed)
    horizon = days * 86400.0
    n_slots = math.ceil(days * 24)
    rates = np.tile(inputs.rates_per_hour, (math.ceil(n_slots / 24), 1))[:n_slots]
    counts = rng["arrivals"].poisson(rates)  # (slots, types)
    slot_idx, type_idx = np.nonzero(counts)
    reps = counts[slot_idx, type_idx]
    slots = np.repeat(slot_idx, reps)
    types = np.repeat(type_idx, reps).astype(np.int64)
    times = (slots + rng["arrivals"].random(slots.size)) * 3600.0
    order = np.lexsort((types, times))
    times, types = times[order], types[order]
    keep = times < horizon
    times, types = times[keep], types[keep]
    zones = rng["locations"].choice(city.n_zones, size=times.size, p=city.weights)
    service = draw_service(inputs, types, rng["service"])
    return Calls(times, types, zones.astype(np.int64), service)


def replay_calls(
    inputs: SimulationInputs,
    city: City,
    *,
    time_s: ArrayLike,
    type_idx: ArrayLike,
    seed: int,
) -> Calls:
    """Calls at given times and types (replayed history); places and on-scene times drawn.

    Parameters
    ----------
    inputs
        Call types (for on-scene times).
    city
        Zones and weights.
    time_s
        Call times in seconds from the start of the first day.
    type_idx
        Call type index of each call.
    seed
        Seed of the location and on-scene streams.
    """
    times = np.asarray(time_s, dtype=float)
    types = np.asarray(type_idx, dtype=np.int64)
    if times.size == 0:
        raise PlanningInputError("--calls", "no call to replay", "pass a file with calls")
    if times.shape != types.shape or np.any(types < 0) or np.any(types >= len(inputs.call_types)):
        raise PlanningInputError("type_idx", "bad call types", "one valid type index per call")
    if not np.all(np.isfinite(times)) or np.any(times < 0):
        raise PlanningInputError("time_s", "negative or missing times", "pass times >= 0")
    order = np.lexsort((types, times))
    times, types = times[order], types[order]
    rng = streams(seed)
    zones = rng["locations"].choice(city.n_zones, size=times.size, p=city.weights)
    service = draw_service(inputs, types, rng["service"])
    return Calls(times, types, zones.astype(np.int64), service)
