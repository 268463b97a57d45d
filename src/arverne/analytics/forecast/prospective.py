"""Prospective hotspotting (Bowers, Johnson and Pease 2004): space-time decaying weights.

Each past event raises the risk of the cells around it by
``1 / (1 + d) * 1 / (1 + w)``, with ``d`` the distance in cell widths (up to
``bandwidth_m``) and ``w`` the age in whole ``time_unit_days`` units (up to
``time_bandwidth_days``). The score surface is scaled so the valid cells sum to the
recent event rate times the horizon.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from arverne.analytics.forecast.base import (
    FloatArray,
    GridForecaster,
    TrainingData,
    check_positive,
    scale_to_total,
)


class ProspectiveHotspot(GridForecaster):
    """Bowers–Johnson–Pease prospective hotspot surface.

    Parameters
    ----------
    bandwidth_m
        Largest distance at which an event adds risk, in metres.
    time_bandwidth_days
        Largest age at which an event adds risk, in days.
    time_unit_days
        Unit of age in the time weight (a week in the original paper).
    """

    name = "prospective"

    def __init__(
        self,
        *,
        bandwidth_m: float = 400.0,
        time_bandwidth_days: float = 56.0,
        time_unit_days: float = 7.0,
    ) -> None:
        self.bandwidth_m = bandwidth_m
        self.time_bandwidth_days = time_bandwidth_days
        self.time_unit_days = time_unit_days

    def _check_params(self) -> None:
        check_positive("bandwidth_m", self.bandwidth_m, unit="metres")
        check_positive("time_bandwidth_days", self.time_bandwidth_days, unit="days")
        check_positive("time_unit_days", self.time_unit_days, unit="days")

    def _kernel(self) -> FloatArray:
        radius = int(np.floor(float(self.bandwidth_m) / self.grid_.cell))
        dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        dist = np.hypot(dx, dy)
        return np.where(dist <= max(radius, 0) + 1e-9, 1.0 / (1.0 + dist), 0.0)

    def _fit(self, data: TrainingData) -> None:
        grid = self.grid_
        span = min(float(self.time_bandwidth_days), data.duration)
        self.events_t_ = data.t[data.t >= data.end - span]
        self.events_cell_ = data.cell[data.t >= data.end - span]
        valid = grid.valid.ravel()
        self.rate_per_day_ = float(valid[self.events_cell_].sum()) / span
        self.kernel_ = self._kernel()

    def _predict(self, start: float, end: float) -> FloatArray:
        grid = self.grid_
        unit = float(self.time_unit_days)
        n_units = int(np.ceil(float(self.time_bandwidth_days) / unit))
        age = np.floor((start - self.events_t_) / unit).astype(np.int64)
        keep = (age >= 0) & (age < n_units)
        weights = 1.0 / (1.0 + age[keep])
        seeds = np.bincount(
            self.events_cell_[keep], weights=weights, minlength=grid.nx * grid.ny
        ).reshape(grid.ny, grid.nx)
        score = signal.fftconvolve(seeds, self.kernel_, mode="same")
        score[score < 1e-12] = 0.0  # FFT round-off
        return scale_to_total(score, self.rate_per_day_ * (end - start), grid.valid)
