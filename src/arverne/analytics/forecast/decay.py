"""Exponentially decayed counts: recent events weigh more than old ones."""

from __future__ import annotations

import math

import numpy as np

from arverne.analytics.forecast.base import (
    FloatArray,
    GridForecaster,
    TrainingData,
    check_positive,
)


class DecayedCounts(GridForecaster):
    """Per-cell rate from events weighted by ``0.5 ** (age / half_life_days)``.

    The weighted count is divided by the weighted length of the training window, so the
    result is a daily rate that a constant process would reproduce exactly.

    Parameters
    ----------
    half_life_days
        Age (days before the end of training) at which an event counts half.
    """

    name = "decay"

    def __init__(self, *, half_life_days: float = 28.0) -> None:
        self.half_life_days = half_life_days

    def _check_params(self) -> None:
        check_positive("half_life_days", self.half_life_days, unit="days")

    def _fit(self, data: TrainingData) -> None:
        grid = self.grid_
        decay = math.log(2.0) / float(self.half_life_days)
        weights = np.exp(-decay * (data.end - data.t))
        weighted = np.bincount(data.cell, weights=weights, minlength=grid.nx * grid.ny)
        effective_days = (1.0 - math.exp(-decay * data.duration)) / decay
        self.effective_days_ = effective_days
        self.rate_per_day_: FloatArray = weighted.reshape(grid.ny, grid.nx) / effective_days

    def _predict(self, start: float, end: float) -> FloatArray:
        return self.rate_per_day_ * (end - start)
