"""Reports: determinism, common random numbers in compare mode, partial marking, HTML."""

from __future__ import annotations

import json

import numpy as np
import pytest

from arverne.planning import (
    SimulationConfig,
    build_report,
    default_inputs,
    generate_calls,
    grid_city,
    make_plan,
    report_html,
    report_json,
    simulate,
)
from arverne.planning.calls import streams

CITY = grid_city(side=6, block_m=500.0)
INPUTS = default_inputs(150.0)


def report_bytes(
    seed: int, *, units: tuple[int, ...] = (8,), days: float = 5.0
) -> tuple[bytes, bytes]:
    calls = generate_calls(INPUTS, CITY, days=days, seed=seed)
    config = SimulationConfig(days=days, seed=seed)
    results = [simulate(calls, INPUTS, CITY, make_plan(CITY, n), config) for n in units]
    report = build_report(results, CITY, calls)
    return report_json(report), report_html(report)


def test_same_seed_same_bytes_different_seed_differs() -> None:
    first = report_bytes(7)
    assert first == report_bytes(7)
    assert report_bytes(8)[0] != first[0]


def test_compare_uses_the_same_calls_in_both_plans() -> None:
    calls_a = generate_calls(INPUTS, CITY, days=3.0, seed=5)
    calls_b = generate_calls(INPUTS, CITY, days=3.0, seed=5)
    assert calls_a.digest() == calls_b.digest()
    config = SimulationConfig(days=3.0, seed=5)
    small = simulate(calls_a, INPUTS, CITY, make_plan(CITY, 6), config)
    large = simulate(calls_a, INPUTS, CITY, make_plan(CITY, 12), config)
    np.testing.assert_array_equal(small.calls.time_s, large.calls.time_s)
    np.testing.assert_array_equal(small.calls.service_s, large.calls.service_s)
    report = build_report([small, large], CITY, calls_a)
    assert [p["calls"] for p in report["plans"]] == [len(calls_a)] * 2
    # more units never lengthen the mean P1 response on the same calls here
    p1 = [p["response_by_priority"]["P1"]["mean_s"] for p in report["plans"]]
    assert p1[1] <= p1[0]
    # the compare report's first plan is the single-plan report's plan, byte for byte
    single = build_report([small], CITY, calls_a)
    assert single["plans"][0] == report["plans"][0]


def test_streams_are_separate_per_purpose() -> None:
    rng = streams(1)
    assert set(rng) == {"arrivals", "locations", "service"}
    draws = {name: g.random() for name, g in rng.items()}
    assert len(set(draws.values())) == 3


def test_report_content_and_partial_banner() -> None:
    calls = generate_calls(INPUTS, CITY, days=2.0, seed=1)
    config = SimulationConfig(days=2.0, seed=1)
    result = simulate(calls, INPUTS, CITY, make_plan(CITY, 5), config)
    report = build_report([result], CITY, calls)
    plan = report["plans"][0]
    assert report["partial"] is False
    assert set(plan["response_by_priority"]) == {"P1", "P2", "P3", "P4"}
    assert plan["response_by_priority"]["P4"]["within_target"] is None
    assert 0 < plan["utilisation"]["mean"] < 1
    assert len(plan["mean_response_by_hour_s"]["P3"]) == 24
    assert set(plan["response_by_district"]) == {"D1", "D2", "D3", "D4"}
    assert plan["queue"]["max"] >= 0
    assert len(plan["queue"]["by_hour"]) == 24
    json.loads(report_json(report))
    report["partial"] = True
    page = report_html(report).decode()
    assert "PARTIAL REPORT" in page
    assert "<svg" in page
    assert "http://cdn" not in page


def test_generate_calls_matches_rates() -> None:
    calls = generate_calls(INPUTS, CITY, days=40.0, seed=2)
    assert len(calls) == pytest.approx(150.0 * 40, rel=0.05)
    assert np.all(np.diff(calls.time_s) >= 0)
    assert calls.service_s.mean() == pytest.approx(
        float(
            np.average(
                [c.service_mean_s for c in INPUTS.call_types],
                weights=INPUTS.rates_per_hour.sum(axis=0),
            )
        ),
        rel=0.05,
    )
