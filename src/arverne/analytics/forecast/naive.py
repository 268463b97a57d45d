"""Naive forecaster: the recent count of each cell, as a constant daily rate."""

from __future__ import annotations

import numpy as np

from arverne.analytics.forecast.base import (
    FloatArray,
    GridForecaster,
    TrainingData,
    check_positive,
)


class NaiveCounts(GridForecaster):
    """Expected count = events of the cell in the look-back window, per day, times horizon.

    Parameters
    ----------
    lookback_days
        Length of the look-back window ending at the end of training; ``None`` uses the
        whole training window.
    """

    name = "naive"

    def __init__(self, *, lookback_days: float | None = None) -> None:
        self.lookback_days = lookback_days

    def _check_params(self) -> None:
        if self.lookback_days is not None:
            check_positive("lookback_days", self.lookback_days, unit="days")

    def _fit(self, data: TrainingData) -> None:
        span = (
            data.duration
            if self.lookback_days is None
            else min(float(self.lookback_days), data.duration)
        )
        keep = data.t >= data.end - span
        grid = self.grid_
        counts = np.bincount(data.cell[keep], minlength=grid.nx * grid.ny).astype(float)
        self.rate_per_day_: FloatArray = counts.reshape(grid.ny, grid.nx) / span
        self.lookback_used_days_ = span

    def _predict(self, start: float, end: float) -> FloatArray:
        return self.rate_per_day_ * (end - start)
