"""Retrospective kernel density estimate: a smoothed map of past events."""

from __future__ import annotations

import numpy as np

from arverne.analytics.forecast.base import (
    FloatArray,
    GridForecaster,
    TrainingData,
    check_positive,
    scale_to_total,
)
from arverne.analytics.hotspots import kde_surface


class KDEForecaster(GridForecaster):
    """Gaussian KDE of the events of the look-back window, aggregated to the grid cells.

    Events are binned on a grid ``oversample`` times finer than the forecasting grid,
    smoothed with a Gaussian of standard deviation ``bandwidth_m`` and summed back into
    the cells; the surface is scaled so the valid cells sum to the recent event rate
    times the horizon.

    Parameters
    ----------
    bandwidth_m
        Kernel standard deviation in metres.
    lookback_days
        Look-back window; ``None`` uses the whole training window.
    oversample
        Sub-cells per cell side for binning events before smoothing.
    """

    name = "kde"

    def __init__(
        self,
        *,
        bandwidth_m: float = 150.0,
        lookback_days: float | None = 365.0,
        oversample: int = 4,
    ) -> None:
        self.bandwidth_m = bandwidth_m
        self.lookback_days = lookback_days
        self.oversample = oversample

    def _check_params(self) -> None:
        check_positive("bandwidth_m", self.bandwidth_m, unit="metres")
        check_positive("oversample", self.oversample, unit="sub-cells")
        if self.lookback_days is not None:
            check_positive("lookback_days", self.lookback_days, unit="days")

    def _fit(self, data: TrainingData) -> None:
        grid = self.grid_
        span = (
            data.duration
            if self.lookback_days is None
            else min(float(self.lookback_days), data.duration)
        )
        keep = data.t >= data.end - span
        coarse = kde_surface(
            data.x[keep],
            data.y[keep],
            grid=grid,
            bandwidth_m=float(self.bandwidth_m),
            oversample=int(self.oversample),
        )
        valid = grid.valid
        recent = np.bincount(data.cell[keep], minlength=grid.nx * grid.ny)
        rate = float(recent[valid.ravel()].sum()) / span
        self.rate_per_day_: FloatArray = scale_to_total(coarse, rate, valid)

    def _predict(self, start: float, end: float) -> FloatArray:
        return self.rate_per_day_ * (end - start)
