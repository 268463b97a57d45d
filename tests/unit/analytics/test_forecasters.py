"""Grid forecasters: estimator rules, shapes, intervals, and grid ETAS fitted by EM."""

from __future__ import annotations

import logging
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from arverne.analytics.errors import (
    NotEnoughDataError,
    NotFittedError,
    ParameterError,
    PersonFieldError,
)
from arverne.analytics.forecast import METHODS, GridETAS, NaiveCounts, make_forecaster
from arverne.analytics.forecast.decay import DecayedCounts
from arverne.analytics.forecast.etas import same_cell_pairs
from arverne.analytics.grid import Grid
from arverne.analytics.synthetic import hotspot_background, simulate_grid_hawkes

START = pd.Timestamp("2020-01-01", tz="UTC")


@pytest.fixture(scope="module")
def grid() -> Grid:
    base = Grid.from_bounds(0, 0, 3000, 2000, cell_m=200, crs="EPSG:2154")
    mask = np.ones(base.shape, dtype=bool)
    mask[0, :3] = False  # a corner outside the study area
    return base.with_mask(mask)


@pytest.fixture(scope="module")
def events(grid: Grid) -> pd.DataFrame:
    mu = hotspot_background(grid, total_per_day=4.0, n_hotspots=3, seed=1)
    return simulate_grid_hawkes(
        grid, mu_per_day=mu, theta=0.4, omega_per_day=0.3, start=START, days=200, seed=3
    )


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_forecaster_predicts_counts_with_intervals(
    method: str, grid: Grid, events: pd.DataFrame
) -> None:
    model = make_forecaster(method)
    assert model.get_params() == make_forecaster(method).get_params()
    end = START + pd.Timedelta(days=180)
    assert model.fit(events, grid=grid, start=START, end=end) is model
    horizon = end + pd.Timedelta(days=7)
    surface = model.predict(start=end, end=horizon)
    assert surface.shape == grid.shape == (grid.ny, grid.nx)
    assert (surface >= 0).all()
    assert np.isfinite(surface).all()
    assert (surface[~grid.valid] == 0).all()
    # Expected counts, not ranks: the total is near the recent weekly number of events.
    weekly = len(events) / 200 * 7
    assert 0.4 * weekly < surface.sum() < 2.5 * weekly
    lower, upper = model.predict_interval(start=end, end=horizon, level=0.9)
    assert (lower <= surface + 1e-9).all()
    assert (surface <= upper + 1e-9).all()
    assert (upper[surface > 0.5] > 0).all()


def test_fit_refuses_person_fields(grid: Grid, events: pd.DataFrame) -> None:
    tainted = events.assign(suspect_age=30)
    with pytest.raises(PersonFieldError, match="suspect_age"):
        NaiveCounts().fit(tainted, grid=grid, start=START, end=START + pd.Timedelta(days=30))


def test_estimator_rules(grid: Grid, events: pd.DataFrame) -> None:
    model = DecayedCounts(half_life_days=14)
    assert repr(model) == "DecayedCounts(half_life_days=14)"
    with pytest.raises(NotFittedError):
        model.predict(start=START, end=START + pd.Timedelta(days=7))
    end = START + pd.Timedelta(days=60)
    model.fit(events, grid=grid, start=START, end=end)
    with pytest.raises(ParameterError, match="start"):
        model.predict(start=end - pd.Timedelta(days=1), end=end + pd.Timedelta(days=7))
    with pytest.raises(ParameterError, match="half_life_days"):
        DecayedCounts(half_life_days=-1).fit(events, grid=grid, start=START, end=end)
    with pytest.raises(ParameterError, match="method"):
        make_forecaster("crystal_ball")


def test_naive_and_decay_by_hand() -> None:
    grid = Grid.from_bounds(0, 0, 200, 100, cell_m=100, crs="EPSG:2154")
    times = START + pd.to_timedelta([1, 2, 3, 9], unit="D")
    events = pd.DataFrame({"time": times, "x": [50, 50, 50, 150], "y": [50, 50, 50, 50]})
    end = START + pd.Timedelta(days=10)
    naive = NaiveCounts().fit(events, grid=grid, start=START, end=end)
    surface = naive.predict(start=end, end=end + pd.Timedelta(days=5))
    assert surface[0, :2].tolist() == pytest.approx([3 / 10 * 5, 1 / 10 * 5])
    # A constant process: decayed counts return its rate whatever the half-life.
    steady = pd.DataFrame(
        {"time": START + pd.to_timedelta(np.arange(0, 100, 0.5), unit="D"), "x": 50, "y": 50}
    )
    end = START + pd.Timedelta(days=100)
    decay = DecayedCounts(half_life_days=10).fit(steady, grid=grid, start=START, end=end)
    assert decay.predict(start=end, end=end + pd.Timedelta(days=1))[0, 0] == pytest.approx(
        2.0, rel=0.05
    )


def test_too_few_events_is_a_clear_error(grid: Grid, events: pd.DataFrame) -> None:
    few = events.head(5)
    with pytest.raises(NotEnoughDataError, match="etas"):
        GridETAS().fit(few, grid=grid, start=START, end=START + pd.Timedelta(days=200))


def test_same_cell_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 50, 300))
    cell = rng.integers(0, 6, 300)
    i, j, gap, truncated = same_cell_pairs(t, cell, window_days=10.0, max_lag=1000)
    got = set(zip(i.tolist(), j.tolist(), strict=True))
    want = {
        (a, b)
        for a in range(300)
        for b in range(300)
        if cell[a] == cell[b] and 0 < t[a] - t[b] < 10.0
    }
    assert got == want
    assert not truncated
    assert np.allclose(gap, t[i] - t[j])
    *_, cut = same_cell_pairs(t, cell, window_days=10.0, max_lag=2)
    assert cut


def test_etas_recovers_its_parameters() -> None:
    grid = Grid.from_bounds(0, 0, 4000, 4000, cell_m=200, crs="EPSG:2154")
    mu = hotspot_background(grid, total_per_day=15.0, seed=4)
    days = 365
    events = simulate_grid_hawkes(
        grid, mu_per_day=mu, theta=0.5, omega_per_day=0.5, start=START, days=days, seed=5
    )
    end = START + pd.Timedelta(days=days)
    model = GridETAS().fit(events, grid=grid, start=START, end=end)
    assert model.fallback_ is None
    assert model.converged_
    assert model.theta_ == pytest.approx(0.5, abs=0.08)
    assert model.omega_per_day_ == pytest.approx(0.5, rel=0.25)
    assert model.mu_per_day_.sum() == pytest.approx(mu.sum(), rel=0.15)
    assert 0.35 < model.background_share_ < 0.65


def test_etas_memory_grows_with_pairs_not_n_squared() -> None:
    grid = Grid.from_bounds(0, 0, 10000, 10000, cell_m=200, crs="EPSG:2154")
    mu = hotspot_background(grid, total_per_day=80.0, seed=6)
    days = 365
    events = simulate_grid_hawkes(
        grid, mu_per_day=mu, theta=0.4, omega_per_day=0.5, start=START, days=days, seed=7
    )
    n = len(events)
    assert n > 40_000
    end = START + pd.Timedelta(days=days)
    tracemalloc.start()
    try:
        model = GridETAS().fit(events, grid=grid, start=START, end=end)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.fallback_ is None
    # An N x N float matrix would take n**2 * 8 bytes (about 20 GB at 50k events).
    assert peak < 400e6 < n * n * 8 / 10
    assert model.n_pairs_ < 100 * n


def test_etas_falls_back_with_a_logged_warning(
    grid: Grid, events: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    end = START + pd.Timedelta(days=200)
    with caplog.at_level(logging.WARNING, logger="arverne.analytics.forecast.etas"):
        model = GridETAS(max_iter=1).fit(events, grid=grid, start=START, end=end)
    assert model.fallback_ is not None
    assert "decayed counts" in model.fallback_
    assert "did not converge" in caplog.text
    surface = model.predict(start=end, end=end + pd.Timedelta(days=7))
    expected = DecayedCounts().fit(events, grid=grid, start=START, end=end)
    assert np.allclose(surface, expected.predict(start=end, end=end + pd.Timedelta(days=7)))


def test_gbm_uses_landmark_distances(grid: Grid, events: pd.DataFrame) -> None:
    landmarks = {"stations": np.array([[1500.0, 1000.0]])}
    model = make_forecaster("gbm", landmarks=landmarks, max_iter=30)
    end = START + pd.Timedelta(days=180)
    model.fit(events, grid=grid, start=START, end=end)
    assert model.n_origins_ >= 2
    with pytest.raises(ParameterError, match="landmarks"):
        make_forecaster("gbm", landmarks={"bad": np.zeros(3)}).fit(
            events, grid=grid, start=START, end=end
        )
