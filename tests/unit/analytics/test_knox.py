"""Knox near-repeat test: planted near repeats are found, Poisson data are not."""

from __future__ import annotations

import numpy as np
import pytest

from arverne.analytics.errors import NotEnoughDataError, ParameterError
from arverne.analytics.knox import knox_test


def _poisson_events(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 5000, n), rng.uniform(0, 5000, n), rng.uniform(0, 365, n)


def test_knox_detects_planted_near_repeats() -> None:
    x, y, t = _poisson_events(400, seed=1)
    rng = np.random.default_rng(2)
    # Each of 150 events is repeated within 50 m and 3 days.
    parents = rng.choice(400, size=150, replace=False)
    x2 = x[parents] + rng.uniform(-35, 35, 150)
    y2 = y[parents] + rng.uniform(-35, 35, 150)
    t2 = t[parents] + rng.uniform(0, 3, 150)
    result = knox_test(
        np.concatenate([x, x2]),
        np.concatenate([y, y2]),
        np.concatenate([t, t2]),
        space_bands_m=(0, 100, 200),
        time_bands_days=(0, 7, 14),
        n_permutations=199,
    )
    assert result.p_values[0, 0] <= 0.01
    assert result.ratio[0, 0] > 3
    assert result.observed[0, 0] >= 150
    table = result.to_dict()
    assert table["cells"][0]["space_m"] == [0.0, 100.0]
    assert table["cells"][0]["p_value"] == pytest.approx(result.p_values[0, 0])


def test_knox_finds_nothing_in_poisson_data() -> None:
    x, y, t = _poisson_events(800, seed=5)
    result = knox_test(
        x,
        y,
        t,
        space_bands_m=(0, 200, 400),
        time_bands_days=(0, 7, 14),
        n_permutations=199,
    )
    assert (result.p_values > 0.01).all()
    assert np.all(np.abs(result.ratio - 1) < 0.5)


def test_knox_validates_its_bands() -> None:
    x, y, t = _poisson_events(10, seed=0)
    with pytest.raises(ParameterError, match="space_bands_m"):
        knox_test(x, y, t, space_bands_m=(100, 50))
    with pytest.raises(NotEnoughDataError):
        knox_test(x[:2], y[:2], t[:2])
