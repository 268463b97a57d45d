"""Validation of the simulator against queueing theory (``arverne simulate --validate``).

Two families of configurations have known answers:

* **M/M/c** — one zone, zero travel time, exponential on-scene times, one priority,
  FIFO, no preemption: the mean wait must match Erlang C
  (:func:`arverne.planning.queueing.mmc_mean_wait`).
* **Hypercube** — ``N <= 10`` units at home posts on a small district grid, one call
  type, exponential busy time that starts at dispatch and contains the travel
  (``travel_in_busy=False``), units back home when they clear (``after_service=
  "instant"``), nearest-unit dispatch with the same tie rule as the model's preference
  lists, FIFO queue: per-unit workloads and the region-wide mean travel time must match
  the exact infinite-queue hypercube model (:func:`arverne.planning.queueing.hypercube`).

Each configuration is simulated with several seeds (independent replications); the
estimate is the mean of the replications and the confidence interval a Student-t 95 %
interval over them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from scipy import stats

from arverne.planning.calls import generate_calls
from arverne.planning.engine import SimulationResult, simulate
from arverne.planning.model import (
    CallType,
    City,
    SimulationConfig,
    SimulationInputs,
    grid_city,
    make_plan,
)
from arverne.planning.queueing import hypercube, mmc_mean_wait

_T = TypeVar("_T")
MMC_TOLERANCE = 0.02
HYPERCUBE_TOLERANCE = 0.03


@dataclass(frozen=True)
class Check:
    """One compared quantity.

    Attributes
    ----------
    name
        Configuration and quantity, e.g. ``"M/M/4 a=3.0: mean wait (s)"``.
    model
        Analytic value.
    simulated
        Mean over the replications.
    ci_low, ci_high
        95 % confidence interval of the simulated value.
    tolerance
        Largest accepted relative deviation.
    """

    name: str
    model: float
    simulated: float
    ci_low: float
    ci_high: float
    tolerance: float

    @property
    def deviation(self) -> float:
        """Relative deviation ``(simulated - model) / model``."""
        return (self.simulated - self.model) / self.model

    @property
    def passed(self) -> bool:
        """Whether the deviation is within the tolerance."""
        return abs(self.deviation) <= self.tolerance


def _interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / np.sqrt(arr.size))
    return mean, mean - half, mean + half


def _one_type(rate_per_hour: float, service_mean_s: float) -> SimulationInputs:
    ct = CallType("call", 3, service_mean_s, 1.0, distribution="exponential")
    return SimulationInputs((ct,), np.full((24, 1), rate_per_hour), ("validation",))


def _run(
    inputs: SimulationInputs, city: City, n_units: int, config: SimulationConfig
) -> SimulationResult:
    calls = generate_calls(inputs, city, days=config.days, seed=config.seed)
    return simulate(calls, inputs, city, make_plan(city, n_units), config)


def _measured(result: SimulationResult) -> np.ndarray:
    return np.asarray(result.calls.time_s >= result.config.warmup_s)


def _mmc_replication(
    servers: int, load: float, calls: float, service_mean_s: float, seed: int
) -> float:
    city = City("one zone", np.zeros((1, 1)), np.zeros(1, np.int64), ("all",), np.ones(1))
    rate_per_hour = load * 3600.0 / service_mean_s
    days = calls / (rate_per_hour * 24.0)
    config = SimulationConfig(
        days=days,
        seed=seed,
        preempting=frozenset(),
        after_service="stay",
        warmup_s=days * 86400 * 0.01,
    )
    res = _run(_one_type(rate_per_hour, service_mean_s), city, servers, config)
    return float(np.mean((res.dispatch_s - res.calls.time_s)[_measured(res)]))


def _hypercube_city(side: int) -> City:
    return grid_city(side=side, block_m=600.0, speed_kmh=30.0, turnout_s=0.0)


def _hypercube_replication(
    n_units: int, side: int, rho: float, calls: float, service_mean_s: float, seed: int
) -> list[float]:
    city = _hypercube_city(side)
    rate_per_hour = rho * n_units * 3600.0 / service_mean_s
    days = calls / (rate_per_hour * 24.0)
    config = SimulationConfig(
        days=days,
        seed=seed,
        preempting=frozenset(),
        after_service="instant",
        travel_in_busy=False,
        warmup_s=days * 86400 * 0.01,
    )
    res = _run(_one_type(rate_per_hour, service_mean_s), city, n_units, config)
    loads = res.unit_busy_s / res.measured_s
    return [*loads.tolist(), float(np.mean(res.travel_s[_measured(res)]))]


def _map(func: Callable[..., _T], jobs: Sequence[tuple[Any, ...]], workers: int) -> list[_T]:
    if workers <= 1 or len(jobs) <= 1:
        return [func(*job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(func, *job) for job in jobs]
        return [f.result() for f in futures]


def mmc_checks(
    *,
    configs: Sequence[tuple[int, float]] = ((1, 0.5), (2, 1.0), (5, 3.0), (10, 6.0)),
    calls: float = 400_000,
    seeds: Sequence[int] = (1, 2, 3, 4, 5, 6, 7, 8),
    service_mean_s: float = 3600.0,
    tolerance: float = MMC_TOLERANCE,
    workers: int = 1,
    on_step: Callable[[str], None] | None = None,
) -> list[Check]:
    """Simulated mean wait vs Erlang C for M/M/c configurations.

    Parameters
    ----------
    configs
        ``(servers, offered load in erlangs)`` pairs.
    calls
        Expected calls per replication (the first 1 % of the time is warm-up).
    seeds
        One independent replication per seed.
    service_mean_s
        Mean exponential service time.
    tolerance
        Accepted relative deviation.
    workers
        Processes running replications in parallel.
    on_step
        Called with a label before each configuration (progress display).
    """
    checks = []
    for servers, load in configs:
        if on_step:
            on_step(f"M/M/{servers} a={load:g}")
        jobs = [(servers, load, calls, service_mean_s, seed) for seed in seeds]
        waits = _map(_mmc_replication, jobs, workers)
        rate = load / service_mean_s
        model = mmc_mean_wait(servers, rate, 1.0 / service_mean_s)
        mean, lo, hi = _interval(waits)
        checks.append(
            Check(f"M/M/{servers} a={load:g}: mean wait (s)", model, mean, lo, hi, tolerance)
        )
    return checks


def hypercube_checks(
    *,
    configs: Sequence[tuple[int, int, float]] = ((2, 3, 0.5), (5, 4, 0.6), (9, 4, 0.7)),
    calls: float = 300_000,
    seeds: Sequence[int] = (1, 2, 3, 4, 5),
    service_mean_s: float = 1800.0,
    tolerance: float = HYPERCUBE_TOLERANCE,
    workers: int = 1,
    on_step: Callable[[str], None] | None = None,
) -> list[Check]:
    """Simulated workloads and mean travel time vs the exact hypercube model.

    Parameters
    ----------
    configs
        ``(units, grid side, utilisation per unit)`` triples.
    calls, seeds, service_mean_s, tolerance, workers, on_step
        As in :func:`mmc_checks`.

    Returns
    -------
    list of Check
        Per configuration: one check per unit workload and one for the mean travel time.
    """
    checks = []
    for n_units, side, rho in configs:
        if on_step:
            on_step(f"hypercube N={n_units}")
        city = _hypercube_city(side)
        rate = rho * n_units / service_mean_s
        homes = make_plan(city, n_units).homes
        model = hypercube(
            city.travel_s[homes], city.weights * rate, 1.0 / service_mean_s, queue="infinite"
        )
        jobs = [(n_units, side, rho, calls, service_mean_s, seed) for seed in seeds]
        stacked = np.array(_map(_hypercube_replication, jobs, workers))
        label = f"hypercube N={n_units} {side}x{side} rho={rho:g}"
        for u in range(n_units):
            mean, lo, hi = _interval(stacked[:, u])
            checks.append(
                Check(
                    f"{label}: workload U{u + 1:02d}",
                    float(model.workloads[u]),
                    mean,
                    lo,
                    hi,
                    tolerance,
                )
            )
        mean, lo, hi = _interval(stacked[:, -1])
        checks.append(
            Check(f"{label}: mean travel (s)", model.mean_travel_s, mean, lo, hi, tolerance)
        )
    return checks


def run_validation(
    *, quick: bool = False, workers: int = 1, on_step: Callable[[str], None] | None = None
) -> list[Check]:
    """All checks of ``arverne simulate --validate`` (``quick``: shorter, for tests)."""
    scale = 0.05 if quick else 1.0
    seeds = (1, 2, 3)
    return [
        *mmc_checks(
            calls=400_000 * scale,
            seeds=seeds if quick else tuple(range(1, 9)),
            workers=workers,
            on_step=on_step,
        ),
        *hypercube_checks(
            calls=300_000 * scale,
            seeds=seeds if quick else tuple(range(1, 6)),
            workers=workers,
            on_step=on_step,
        ),
    ]
