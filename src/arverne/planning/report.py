"""Summaries of simulation runs: the JSON report (deterministic bytes for a given seed).

The report holds no timestamp of the run itself and rounds every float, so the same
seed and inputs give byte-identical files; wall-clock figures, when a caller wants
them, go in a separate file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from arverne.planning.calls import Calls
from arverne.planning.engine import SimulationResult
from arverne.planning.model import City

SCHEMA = "arverne.simulation/1"
HISTOGRAM_EDGES_S = np.arange(0.0, 7200.0 + 60.0, 60.0)


def _r(value: float, digits: int = 3) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _response_stats(resp: NDArray[np.float64], target: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"count": int(resp.size), "target_s": target}
    if resp.size == 0:
        out.update(mean_s=None, median_s=None, p90_s=None, p95_s=None, max_s=None)
        out["within_target"] = None
        return out
    p50, p90, p95 = np.percentile(resp, [50, 90, 95])
    out.update(
        mean_s=_r(resp.mean()),
        median_s=_r(p50),
        p90_s=_r(p90),
        p95_s=_r(p95),
        max_s=_r(resp.max()),
    )
    out["within_target"] = None if target is None else _r(float(np.mean(resp <= target)), 5)
    return out


def _queue_summary(result: SimulationResult) -> dict[str, Any]:
    t = result.queue_t_s
    n = result.queue_len.astype(float)
    start, stop = result.config.warmup_s, min(result.end_s, result.config.horizon_s)
    if stop <= start:
        return {"time_average": None, "max": 0, "by_hour": [None] * 24, "daily_max": []}
    # cumulative area of the step function, evaluated at any time by interpolation
    area = np.concatenate([[0.0], np.cumsum(n[:-1] * np.diff(t))])

    def area_at(x: NDArray[np.float64]) -> NDArray[np.float64]:
        k = np.clip(np.searchsorted(t, x, side="right") - 1, 0, t.size - 1)
        return np.asarray(area[k] + n[k] * (x - t[k]))

    edges = np.arange(math.floor(start / 3600) * 3600.0, stop + 3600.0, 3600.0)
    edges = np.clip(edges, start, stop)
    hourly = np.diff(area_at(edges)) / np.maximum(np.diff(edges), 1e-9)
    hours = (edges[:-1] // 3600 % 24).astype(int)
    valid = np.diff(edges) > 0
    by_hour = [
        _r(float(hourly[valid & (hours == h)].mean())) if np.any(valid & (hours == h)) else None
        for h in range(24)
    ]
    inside = (t >= start) & (t <= stop)
    day = (t[inside] // 86400).astype(int)
    daily_max = np.zeros(math.ceil(stop / 86400), dtype=int)
    np.maximum.at(daily_max, day, result.queue_len[inside])
    total = float(area_at(np.array([stop]))[0] - area_at(np.array([start]))[0])
    return {
        "time_average": _r(total / (stop - start), 4),
        "max": int(result.queue_len[inside].max()) if inside.any() else 0,
        "by_hour": by_hour,
        "daily_max": daily_max[int(start // 86400) :].tolist(),
    }


def summarise_plan(result: SimulationResult, city: City) -> dict[str, Any]:
    """Report section of one staffing plan.

    Parameters
    ----------
    result
        A finished (or interrupted) run.
    city
        The city it ran on (district names).

    Returns
    -------
    dict
        Response times by priority, district and hour, share within target,
        utilisation, queue lengths, preemptions; JSON-ready.
    """
    calls = result.calls
    config = result.config
    prio = result.priority
    measured = calls.time_s >= config.warmup_s
    reached = measured & np.isfinite(result.onscene_s)
    resp = result.onscene_s - calls.time_s
    wait = result.dispatch_s - calls.time_s
    targets = {int(k): v for k, v in config.targets_s.items()}
    priorities = sorted({c.priority for c in result.call_types})
    by_priority: dict[str, Any] = {}
    histograms: dict[str, list[int]] = {}
    for p in priorities:
        sel = reached & (prio == p)
        stats = _response_stats(resp[sel], targets.get(p))
        stats["mean_wait_s"] = _r(float(wait[sel].mean())) if sel.any() else None
        stats["mean_travel_s"] = _r(float(result.travel_s[sel].mean())) if sel.any() else None
        by_priority[f"P{p}"] = stats
        clipped = np.minimum(resp[sel], HISTOGRAM_EDGES_S[-1] - 1e-6)
        histograms[f"P{p}"] = np.histogram(clipped, HISTOGRAM_EDGES_S)[0].tolist()
    district = city.district[calls.zone]
    by_district: dict[str, Any] = {}
    for d, name in enumerate(city.district_names):
        entry: dict[str, Any] = {"all": _response_stats(resp[reached & (district == d)], None)}
        for p in priorities:
            sel = reached & (district == d) & (prio == p)
            entry[f"P{p}"] = _response_stats(resp[sel], targets.get(p))
        by_district[name] = entry
    hour = (calls.time_s // 3600 % 24).astype(int)
    by_hour: dict[str, list[float | None]] = {}
    for p in priorities:
        sel = reached & (prio == p)
        sums = np.bincount(hour[sel], weights=resp[sel], minlength=24)
        counts = np.bincount(hour[sel], minlength=24)
        by_hour[f"P{p}"] = [_r(s / c) if c else None for s, c in zip(sums, counts, strict=True)]
    window = result.measured_s
    util = result.unit_busy_s / window if window > 0 else np.zeros(len(result.plan.units))
    units = [
        {
            "name": u.name,
            "home_zone": u.home,
            "capabilities": sorted(u.capabilities),
            "utilisation": _r(float(util[k]), 5),
            "dispatches": int(result.unit_dispatches[k]),
        }
        for k, u in enumerate(result.plan.units)
    ]
    return {
        "plan": result.plan.name,
        "n_units": len(result.plan.units),
        "policy": config.policy,
        "after_service": config.after_service,
        "calls": int(measured.sum()),
        "reached": int(reached.sum()),
        "not_reached": int((measured & ~np.isfinite(result.onscene_s)).sum()),
        "response_by_priority": by_priority,
        "response_histogram_s": {"edges": HISTOGRAM_EDGES_S.tolist(), "counts": histograms},
        "response_by_district": by_district,
        "mean_response_by_hour_s": by_hour,
        "utilisation": {
            "mean": _r(float(util.mean()), 5),
            "min": _r(float(util.min()), 5),
            "max": _r(float(util.max()), 5),
            "units": units,
        },
        "queue": _queue_summary(result),
        "preemptions": int(result.preemptions.sum()),
        "calls_preempted": int((result.preemptions[measured] > 0).sum()),
        "simulated_until_s": _r(result.end_s),
    }


def build_report(
    results: Sequence[SimulationResult],
    city: City,
    calls: Calls,
    *,
    scenario: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The full report of one run or of a ``--compare`` pair on the same calls.

    Parameters
    ----------
    results
        One result per staffing plan (all on ``calls``).
    city
        The city.
    calls
        The common call stream (its digest proves the plans saw the same calls).
    scenario
        Extra description (days, seed, rate, source of the inputs...).
    """
    first = results[0]
    return {
        "schema": SCHEMA,
        "partial": any(r.partial for r in results),
        "scenario": {
            **(scenario or {}),
            "city": city.name,
            "zones": city.n_zones,
            "days": first.config.days,
            "seed": first.config.seed,
            "warmup_s": first.config.warmup_s,
            "calls": len(calls),
            "calls_digest": calls.digest(),
            "targets_s": {f"P{k}": v for k, v in sorted(first.config.targets_s.items())},
            "call_types": [
                {
                    "name": c.name,
                    "priority": c.priority,
                    "service_mean_s": c.service_mean_s,
                    "service_cv": c.service_cv,
                    "required": sorted(c.required),
                    "distribution": c.distribution,
                }
                for c in first.call_types
            ],
        },
        "plans": [summarise_plan(r, city) for r in results],
    }


def report_json(report: Mapping[str, Any]) -> bytes:
    """Serialise a report to stable UTF-8 JSON bytes."""
    return (json.dumps(report, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()
