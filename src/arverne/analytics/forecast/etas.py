"""Self-exciting point process on the grid (grid ETAS, Mohler et al. 2015, JASA).

In cell ``c`` the intensity is ``mu_c + sum_j theta * omega * exp(-omega (t - t_j))`` over
the earlier events ``j`` of the same cell: a constant background plus exponentially
decaying triggering. Parameters are fitted by expectation-maximisation over the pairs
(event, earlier event of the same cell less than ``window_days`` before it, at most
``max_lag`` of them), so the cost is O(N * K) for K pairs per event; no N x N matrix is
built. When EM diverges, gives a non-stationary process (``theta >= 1``) or does not
converge, the estimator falls back to decayed counts, logs a warning and records the
reason in ``fallback_``.
"""

from __future__ import annotations

import logging

import numpy as np

from arverne.analytics.forecast.base import (
    FloatArray,
    GridForecaster,
    IntArray,
    TrainingData,
    check_positive,
)
from arverne.analytics.forecast.decay import DecayedCounts

logger = logging.getLogger(__name__)


def same_cell_pairs(
    t: FloatArray, cell: IntArray, *, window_days: float, max_lag: int
) -> tuple[IntArray, IntArray, FloatArray, bool]:
    """Pairs (i, j) with j earlier than i in the same cell and ``0 < t_i - t_j < window``.

    Parameters
    ----------
    t, cell
        Event times (days) and flat cell indices.
    window_days
        Truncation window of the triggering kernel.
    max_lag
        Most earlier events considered per event.

    Returns
    -------
    (i, j, dt, truncated)
        Indices into the input arrays, the time gaps, and whether ``max_lag`` cut pairs.
    """
    order = np.lexsort((t, cell))
    ts, cs = t[order], cell[order]
    rows_i: list[IntArray] = []
    rows_j: list[IntArray] = []
    gaps: list[FloatArray] = []
    active = np.arange(1, ts.size)  # positions whose lag-k predecessor may still qualify
    truncated = False
    for lag in range(1, max_lag + 1):
        active = active[active - lag >= 0]
        if active.size == 0:
            break
        prev = active - lag
        gap = ts[active] - ts[prev]
        same = (cs[active] == cs[prev]) & (gap < window_days)
        # Sorted by cell then time: once lag k fails, every larger lag fails too.
        active = active[same]
        gap = gap[same]
        prev = prev[same]
        positive = gap > 0
        rows_i.append(order[active[positive]])
        rows_j.append(order[prev[positive]])
        gaps.append(gap[positive])
        if lag == max_lag and active.size:
            truncated = True
    if not rows_i:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0), truncated
    return np.concatenate(rows_i), np.concatenate(rows_j), np.concatenate(gaps), truncated


class GridETAS(GridForecaster):
    """Grid ETAS with per-cell background and exponential triggering within the cell.

    Parameters
    ----------
    window_days
        Truncation of the triggering kernel (earlier events older than this are ignored).
    max_lag
        Most earlier events of the same cell paired with each event.
    theta_init, omega_init_per_day
        Starting branching ratio and decay rate (per day).
    max_iter, tol
        EM iteration cap; EM stops when the log-likelihood per event changes by less
        than ``tol`` between iterations.
    fallback_half_life_days
        Half-life of the decayed-counts fallback.
    """

    name = "etas"
    min_events = 20

    def __init__(
        self,
        *,
        window_days: float = 90.0,
        max_lag: int = 400,
        theta_init: float = 0.3,
        omega_init_per_day: float = 0.1,
        max_iter: int = 200,
        tol: float = 1e-6,
        fallback_half_life_days: float = 28.0,
    ) -> None:
        self.window_days = window_days
        self.max_lag = max_lag
        self.theta_init = theta_init
        self.omega_init_per_day = omega_init_per_day
        self.max_iter = max_iter
        self.tol = tol
        self.fallback_half_life_days = fallback_half_life_days

    def _check_params(self) -> None:
        check_positive("window_days", self.window_days, unit="days")
        check_positive("max_lag", self.max_lag, unit="events")
        check_positive("omega_init_per_day", self.omega_init_per_day, unit="per day")
        check_positive("max_iter", self.max_iter, unit="iterations")
        check_positive("tol", self.tol, unit="(relative)")
        check_positive("theta_init", self.theta_init, unit="(ratio below 1)")
        if self.theta_init >= 1:
            check_positive("1 - theta_init", 1 - self.theta_init, unit="(ratio below 1)")

    def _fit(self, data: TrainingData) -> None:
        self.fallback_: str | None = None
        self.converged_ = False
        try:
            self._em(data)
        except FloatingPointError as exc:
            self._fall_back(data, f"EM failed numerically ({exc})")
            return
        if not self.converged_:
            self._fall_back(data, f"EM did not converge in {self.max_iter} iterations")
        elif not 0 <= self.theta_ < 0.99 or not np.isfinite(self.omega_):
            self._fall_back(data, f"EM gave a non-stationary process (theta={self.theta_:.3f})")

    def _em(self, data: TrainingData) -> None:
        grid = self.grid_
        n_cells = grid.nx * grid.ny
        t = data.t - data.start
        span = data.duration
        i, _, gap, truncated = same_cell_pairs(
            t, data.cell, window_days=float(self.window_days), max_lag=int(self.max_lag)
        )
        self.n_pairs_ = int(i.size)
        self.lag_truncated_ = truncated
        counts = np.bincount(data.cell, minlength=n_cells).astype(float)
        mu = counts / span * (1 - self.theta_init)
        theta, omega = float(self.theta_init), float(self.omega_init_per_day)
        horizon_left = np.minimum(span - t, float(self.window_days))
        history: list[tuple[float, float, float]] = []
        previous = -np.inf
        iteration = 0
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            while iteration < int(self.max_iter):
                iteration += 1
                trig = theta * omega * np.exp(-omega * gap)
                lam = mu[data.cell] + np.bincount(i, weights=trig, minlength=t.size)
                p_pair = trig / lam[i]
                p_back = mu[data.cell] / lam
                mu_new = np.bincount(data.cell, weights=p_back, minlength=n_cells) / span
                offspring = float(p_pair.sum())
                exposure = float(np.sum(1.0 - np.exp(-omega * horizon_left)))
                theta_new = offspring / exposure if exposure > 0 else 0.0
                weighted_gap = float(np.dot(p_pair, gap))
                omega_new = offspring / weighted_gap if weighted_gap > 0 else omega
                # Log-likelihood of the current parameters (lam was computed from them).
                loglik = float(np.log(lam).sum() - mu.sum() * span - theta * exposure)
                change = abs(loglik - previous) / max(1, data.n)
                previous = loglik
                mu, theta, omega = mu_new, theta_new, omega_new
                history.append((theta, omega, change))
                if theta >= 1.0:
                    break  # non-stationary: reported by _fit
                if change < self.tol:
                    self.converged_ = True
                    break
        self.n_iter_ = iteration
        self.history_ = history
        self.mu_per_day_: FloatArray = mu.reshape(grid.ny, grid.nx)
        self.theta_ = theta
        self.omega_per_day_ = omega
        self.omega_ = omega
        self.events_t_ = data.t
        self.events_cell_ = data.cell
        self.background_share_ = float(np.sum(mu[data.cell] / lam)) / max(1, data.n)

    def _fall_back(self, data: TrainingData, reason: str) -> None:
        self.fallback_ = f"{reason}; fell back to decayed counts"
        logger.warning("grid ETAS: %s", self.fallback_)
        model = DecayedCounts(half_life_days=self.fallback_half_life_days)
        model.grid_ = self.grid_
        model._fit(data)
        self.fallback_model_ = model

    def _predict(self, start: float, end: float) -> FloatArray:
        if self.fallback_ is not None:
            return self.fallback_model_._predict(start, end)
        grid = self.grid_
        theta, omega = self.theta_, self.omega_
        mu = self.mu_per_day_.ravel()
        age = start - self.events_t_
        recent = age < float(self.window_days)
        excitation = np.bincount(
            self.events_cell_[recent],
            weights=theta * omega * np.exp(-omega * age[recent]),
            minlength=grid.nx * grid.ny,
        )
        # Mean intensity solves dE/dt = -omega (1 - theta) E + theta omega mu, where E is
        # the excitation above the background; integrate it over the horizon.
        horizon = end - start
        kappa = omega * (1.0 - theta)
        steady = theta * mu / (1.0 - theta)
        relax = (1.0 - np.exp(-kappa * horizon)) / kappa
        expected = (mu + steady) * horizon + (excitation - steady) * relax
        return np.asarray(np.clip(expected, 0.0, None), dtype=float).reshape(grid.ny, grid.nx)
