"""Erlang B/C against textbook values and the hypercube model against hand-solved chains."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arverne.planning.errors import PlanningInputError
from arverne.planning.queueing import (
    erlang_b,
    erlang_c,
    hypercube,
    mmc_mean_wait,
    mmc_wait_tail,
    preference_lists,
)


def test_erlang_c_textbook_values() -> None:
    assert erlang_c(2, 1.0, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7, 1.0) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert mmc_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)  # rho / (mu - lambda)
    assert mmc_mean_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)
    # classic call-centre example: 10 agents, 8 erlangs -> P(wait) ~ 0.409
    assert erlang_c(10, 8.0, 1.0) == pytest.approx(0.40918, abs=1e-4)


def test_erlang_b_and_overload() -> None:
    assert erlang_b(1, 2.0) == pytest.approx(2 / 3)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_c(3, 3.0, 1.0) == 1.0
    assert math.isinf(mmc_mean_wait(3, 4.0, 1.0))


def test_erlang_c_is_stable_for_many_servers() -> None:
    value = erlang_c(800, 780.0, 1.0)
    assert 0.0 < value < 1.0


def test_wait_tail() -> None:
    tail = mmc_wait_tail(2, 1.0, 1.0, [0.0, 1.0])
    assert tail[0] == pytest.approx(1 / 3)
    assert tail[1] == pytest.approx(np.exp(-1.0) / 3)
    with pytest.raises(PlanningInputError, match="t:"):
        mmc_wait_tail(2, 1.0, 1.0, [-1.0])


def test_bad_rates_are_rejected() -> None:
    with pytest.raises(PlanningInputError, match="arrival_rate"):
        erlang_c(2, -1.0, 1.0)
    with pytest.raises(PlanningInputError, match="servers"):
        erlang_c(0, 1.0, 1.0)


def _two_unit_lost(l1: float, l2: float, mu: float) -> np.ndarray:
    """Hand-solved N=2 lost-call chain (atom 1 prefers unit 0, atom 2 unit 1)."""
    lam = l1 + l2
    a = lam / mu
    p0 = 1.0 / (1.0 + a + a * a / 2.0)  # Erlang loss: number busy is M/M/2/2
    p3 = p0 * a * a / 2.0
    p1 = (l1 * p0 + mu * p3) / (lam + mu)  # balance of state "unit 0 busy"
    p2 = (l2 * p0 + mu * p3) / (lam + mu)
    return np.array([p0, p1, p2, p3])


@pytest.mark.parametrize(("l1", "l2", "mu"), [(0.3, 0.5, 1.0), (1.2, 0.1, 0.7)])
def test_hypercube_two_units_matches_hand_solution(l1: float, l2: float, mu: float) -> None:
    travel = np.array([[1.0, 5.0], [4.0, 2.0]])  # unit x atom
    result = hypercube(travel, [l1, l2], mu, queue="lost")
    expected = _two_unit_lost(l1, l2, mu)
    assert result.state_probabilities == pytest.approx(expected, rel=1e-9)
    assert result.workloads == pytest.approx([expected[1] + expected[3], expected[2] + expected[3]])
    # served calls: atom 1 gets unit 0 unless it is busy (state 1), and so on
    served = 1 - expected[3]
    f = (
        np.array(
            [
                [l1 * (expected[0] + expected[2]), l2 * expected[2]],
                [l1 * expected[1], l2 * (expected[0] + expected[1])],
            ]
        )
        / (l1 + l2)
        / served
    )
    assert result.dispatch_fractions == pytest.approx(f)
    assert result.mean_travel_s == pytest.approx(float((f * travel).sum()))


def test_hypercube_infinite_queue_agrees_with_erlang_c() -> None:
    rng = np.random.default_rng(3)
    travel = rng.uniform(60, 600, size=(4, 9))
    rates = rng.uniform(0.1, 1.0, size=9)
    mu = 1.2 * rates.sum() / 4 / 0.7  # utilisation ~0.58
    result = hypercube(travel, rates, mu)
    assert result.p_all_busy == pytest.approx(erlang_c(4, rates.sum(), mu))
    assert result.workloads.sum() == pytest.approx(rates.sum() / mu)
    assert result.dispatch_fractions.sum() == pytest.approx(1.0)


def test_hypercube_preferences_and_limits() -> None:
    assert preference_lists([[1.0, 3.0], [1.0, 2.0]]).tolist() == [[0, 1], [1, 0]]
    with pytest.raises(PlanningInputError, match="lambda < N mu"):
        hypercube([[1.0]], [2.0], 1.0)
    with pytest.raises(PlanningInputError, match="units"):
        hypercube(np.ones((15, 2)), [1.0, 1.0], 10.0)
