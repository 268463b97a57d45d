"""Rolling-origin backtest: windows, pooling, failures reported, skill vs naive."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arverne.analytics.errors import NotEnoughDataError
from arverne.analytics.evaluation import backtest, rolling_windows
from arverne.analytics.forecast import GridForecaster, NaiveCounts
from arverne.analytics.forecast.base import FloatArray, TrainingData
from arverne.analytics.grid import Grid
from arverne.analytics.synthetic import hotspot_background, simulate_grid_hawkes

START = pd.Timestamp("2021-01-01", tz="UTC")


class Broken(GridForecaster):
    """A forecaster whose fit always fails, as a real method can."""

    name = "broken"

    def _fit(self, data: TrainingData) -> None:
        raise np.linalg.LinAlgError("singular matrix")

    def _predict(self, start: float, end: float) -> FloatArray:
        raise AssertionError("never called")


@pytest.fixture(scope="module")
def setting() -> tuple[pd.DataFrame, Grid]:
    grid = Grid.from_bounds(0, 0, 3000, 3000, cell_m=150, crs="EPSG:2154")
    mu = hotspot_background(grid, total_per_day=6.0, n_hotspots=4, seed=2)
    events = simulate_grid_hawkes(
        grid, mu_per_day=mu, theta=0.5, omega_per_day=0.2, start=START, days=240, seed=8
    )
    return events, grid


def test_rolling_windows_end_at_the_data() -> None:
    times = pd.Series(pd.date_range("2021-01-01", "2021-04-10 15:00", freq="h", tz="UTC"))
    plan = rolling_windows(times, train_days=60, horizon_days=7, windows=3)
    assert [w.end for w in plan][-1] == pd.Timestamp("2021-04-11", tz="UTC")
    assert all(b.start == a.end for a, b in itertools.pairwise(plan))
    assert plan[0].train_start == plan[0].start - pd.Timedelta(days=60)
    with pytest.raises(NotEnoughDataError, match="--train-days"):
        rolling_windows(times, train_days=100, horizon_days=7, windows=3)


def test_backtest_reports_failures_pools_and_exports(
    setting: tuple[pd.DataFrame, Grid], tmp_path: Path
) -> None:
    events, grid = setting
    calls: list[tuple[str, int]] = []
    result = backtest(
        events,
        grid=grid,
        methods={"naive": NaiveCounts, "broken": Broken, "etas": lambda: _etas()},
        train_days=120,
        horizon_days=7,
        windows=4,
        n_boot=200,
        export_dir=tmp_path,
        progress=lambda name, w: calls.append((name, w)),
    )
    assert len(calls) == 12  # the bar completes even when a method fails
    broken = result.methods["broken"]
    assert broken.status == "failed"
    assert "singular matrix" in (broken.error or "")
    assert not (tmp_path / "broken").exists()
    naive, etas = result.methods["naive"], result.methods["etas"]
    assert naive.status == etas.status == "ok"
    five = etas.pooled["5%"]
    hits = sum(w["coverage"][0.05]["hits"] for w in etas.windows)
    total = sum(w["n_events"] for w in etas.windows)
    assert five["hit_rate"] == pytest.approx(hits / total)
    assert five["pai"] == pytest.approx(five["hit_rate"] / 0.05)
    low, high = five["hit_rate_ci95"]
    assert low <= five["hit_rate"] <= high
    assert five["skill_vs_naive"] == pytest.approx(
        five["hit_rate"] / naive.pooled["5%"]["hit_rate"] - 1
    )
    # Self-exciting data: the self-exciting model beats counting on the log-score.
    assert etas.log_score_gain_vs_naive is not None
    assert etas.log_score_gain_vs_naive > 0
    assert 0.7 < (etas.calibration_ratio or 0) < 1.3
    oracle = result.oracle[0.05]["oracle_hit_rate"]
    assert oracle is not None
    assert five["hit_rate"] <= oracle
    report = json.loads(json.dumps(result.to_dict(), default=str))
    assert report["methods"]["broken"]["status"] == "failed"
    assert np.load(tmp_path / "etas" / "window_3.npy").shape == grid.shape


def _etas() -> GridForecaster:
    from arverne.analytics.forecast import GridETAS

    return GridETAS()
