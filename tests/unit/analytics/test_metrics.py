"""Forecast metrics on tiny examples computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from arverne.analytics.errors import ParameterError
from arverne.analytics.metrics import (
    bootstrap_ratio,
    flag_cells,
    flagged_count,
    interval_coverage,
    poisson_log_score,
    pooled,
    tie_averaged_hits,
    window_scores,
)

# 10 valid cells in a 2 x 5 grid: forecast scores and what happened.
SURFACE = np.array([[9.0, 8.0, 7.0, 6.0, 5.0], [4.0, 3.0, 2.0, 1.0, 0.0]])
OBSERVED = np.array([[1.0, 0.0, 3.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0, 1.0]])
VALID = np.ones((2, 5), dtype=bool)


def test_flagged_count_floors() -> None:
    assert flagged_count(10, 0.2) == 2
    assert flagged_count(99, 0.05) == 4
    assert flagged_count(100, 0.05) == 5
    assert flagged_count(1000, 0.01) == 10
    with pytest.raises(ParameterError, match="coverage"):
        flagged_count(10, 0.0)


def test_hit_rate_pai_pei_and_oracle_by_hand() -> None:
    record = window_scores(
        SURFACE, OBSERVED, VALID, coverages=(0.2, 0.3), rng=np.random.default_rng(0)
    )
    assert record["n_events"] == 10
    # 20 %: k = 2 cells (scores 9 and 8) hold 1 + 0 events; busiest 2 cells hold 5 + 3.
    assert record["coverage"][0.2] == {
        "k": 2,
        "hits": 1,
        "hits_tie_mean": 1.0,
        "oracle_hits": 8,
    }
    # 30 %: k = 3 adds the cell scored 7 (3 events); the oracle adds the cell with 1.
    assert record["coverage"][0.3]["hits"] == 4
    assert record["coverage"][0.3]["oracle_hits"] == 9
    summary = pooled([record], 0.2)
    assert summary["hit_rate"] == pytest.approx(0.1)
    assert summary["pai"] == pytest.approx(0.1 / 0.2)
    assert summary["pei"] == pytest.approx(1 / 8)
    assert summary["oracle_hit_rate"] == pytest.approx(0.8)


def test_windows_are_pooled_by_event_count() -> None:
    big = {"n_events": 90, "coverage": {0.1: {"hits": 9, "oracle_hits": 30}}}
    small = {"n_events": 10, "coverage": {0.1: {"hits": 5, "oracle_hits": 5}}}
    summary = pooled([big, small], 0.1)
    # Pooled by events (14 / 100), not the mean of per-window rates (0.1 and 0.5).
    assert summary["hit_rate"] == pytest.approx(0.14)
    assert summary["pei"] == pytest.approx(14 / 35)
    assert summary["pai"] == pytest.approx(1.4)


def test_invalid_cells_are_never_flagged_nor_counted() -> None:
    valid = VALID.copy()
    valid[0, 0] = False  # the best-scored cell is outside the study area
    record = window_scores(
        SURFACE, OBSERVED, valid, coverages=(0.25,), rng=np.random.default_rng(0)
    )
    assert record["n_events"] == 9
    # 9 valid cells: k = floor(2.25) = 2 -> scores 8 and 7 -> 0 + 3 events.
    assert record["coverage"][0.25]["k"] == 2
    assert record["coverage"][0.25]["hits"] == 3


def test_ties_are_split_at_random_and_average_out() -> None:
    surface = np.ones((1, 10))  # every cell tied
    observed = np.zeros((1, 10))
    observed[0, 0] = 10.0
    valid = np.ones((1, 10), dtype=bool)
    hits = []
    for seed in range(400):
        flagged = flag_cells(surface, valid, 2, rng=np.random.default_rng(seed))
        assert flagged.sum() == 2
        hits.append(observed[flagged].sum())
    # Cell 0 is flagged in about 2 draws out of 10 (not always, as a stable sort would do).
    assert 0.12 < np.mean(np.array(hits) > 0) < 0.28
    assert tie_averaged_hits(surface, observed, valid, 2) == pytest.approx(2.0)


def test_tie_average_only_splits_the_threshold_ties() -> None:
    surface = np.array([[5.0, 3.0, 3.0, 3.0, 1.0]])
    observed = np.array([[2.0, 3.0, 0.0, 0.0, 7.0]])
    valid = np.ones((1, 5), dtype=bool)
    # k = 2: the 5 is flagged, one of the three 3s: 2 + (3 + 0 + 0) / 3.
    assert tie_averaged_hits(surface, observed, valid, 2) == pytest.approx(3.0)
    assert tie_averaged_hits(surface, observed, valid, 0) == 0.0


def test_poisson_log_score_and_interval_coverage() -> None:
    surface = np.array([[1.0, 2.0]])
    observed = np.array([[0.0, 2.0]])
    valid = np.ones((1, 2), dtype=bool)
    expected = np.mean([-1.0, 2 * np.log(2.0) - 2.0 - np.log(2.0)])
    assert poisson_log_score(surface, observed, valid) == pytest.approx(expected)
    # A zero forecast where an event happened costs a finite penalty.
    assert np.isfinite(poisson_log_score(np.zeros((1, 2)), observed, valid))
    lower, upper = np.zeros((1, 2)), np.array([[0.0, 1.0]])
    assert interval_coverage(lower, upper, observed, valid) == pytest.approx(0.5)


def test_bootstrap_interval_brackets_the_pooled_ratio() -> None:
    rng = np.random.default_rng(1)
    hits = rng.integers(10, 20, size=30).astype(float)
    totals = hits + rng.integers(50, 60, size=30)
    low, high = bootstrap_ratio(hits, totals, n_boot=500, rng=np.random.default_rng(0))
    assert low is not None
    assert high is not None
    assert low < hits.sum() / totals.sum() < high
    assert bootstrap_ratio(np.zeros(0), np.zeros(0), n_boot=10, rng=rng) == (None, None)
