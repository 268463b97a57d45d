"""Gradient-boosted Poisson regression on grid features.

For a set of forecast origins inside the training window, each valid cell gets features
computed only from events before the origin — daily rates over several look-back
windows, the same rates summed over the neighbouring cells, days since the cell's last
event, distances to optional landmark points, the cell position, and calendar features
of the horizon — and the target is its count over the next ``horizon_days``. A
scikit-learn ``HistGradientBoostingRegressor`` with Poisson loss learns the mapping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial import cKDTree

from arverne.analytics.errors import NotEnoughDataError, ParameterError
from arverne.analytics.forecast.base import (
    FloatArray,
    GridForecaster,
    TrainingData,
    check_positive,
)

_DAY_NS = 86_400 * 10**9


class GradientBoostingForecaster(GridForecaster):
    """Poisson gradient boosting on lagged counts, neighbourhood counts and calendar.

    Parameters
    ----------
    horizon_days
        Length of the target period used in training; predictions for another horizon
        length are rescaled in proportion.
    lag_windows_days
        Look-back windows of the count features.
    neighbourhood_cells
        Radii (in cells) of the square neighbourhoods summed for the neighbour features.
    landmarks
        Optional ``{name: (n, 2) array of x, y}`` in the grid CRS; one distance feature
        per name.
    min_history_days
        Shortest history before the first training origin.
    max_origins
        Most training origins (the latest ones are kept).
    max_iter, learning_rate, max_leaf_nodes, random_state
        Passed to ``HistGradientBoostingRegressor``.
    n_threads
        OpenMP threads used by the boosting; 1 (the default) is fastest on city-sized
        grids and does not stall on a busy machine, ``None`` uses every core.
    """

    name = "gbm"
    min_events = 30

    def __init__(
        self,
        *,
        horizon_days: float = 7.0,
        lag_windows_days: Sequence[float] = (7.0, 28.0, 91.0, 365.0),
        neighbourhood_cells: Sequence[int] = (1, 3),
        landmarks: Mapping[str, NDArray[np.float64]] | None = None,
        min_history_days: float = 28.0,
        max_origins: int = 40,
        max_iter: int = 150,
        learning_rate: float = 0.06,
        max_leaf_nodes: int = 15,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.horizon_days = horizon_days
        self.lag_windows_days = lag_windows_days
        self.neighbourhood_cells = neighbourhood_cells
        self.landmarks = landmarks
        self.min_history_days = min_history_days
        self.max_origins = max_origins
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state
        self.n_threads = n_threads

    def _check_params(self) -> None:
        check_positive("horizon_days", self.horizon_days, unit="days")
        check_positive("min_history_days", self.min_history_days, unit="days")
        check_positive("max_origins", self.max_origins, unit="origins")
        if self.n_threads is not None:
            check_positive("n_threads", self.n_threads, unit="threads")
        if not self.lag_windows_days:
            raise ParameterError("lag_windows_days", self.lag_windows_days, "one window or more")
        for window in self.lag_windows_days:
            check_positive("lag_windows_days", window, unit="days")
        for name, points in (self.landmarks or {}).items():
            array = np.asarray(points, dtype=float)
            if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0:
                raise ParameterError(f"landmarks[{name!r}]", array.shape, "an (n, 2) array")

    # -- features ------------------------------------------------------------------------
    def _static_features(self) -> list[FloatArray]:
        grid = self.grid_
        xc, yc = grid.centres()
        cols = [xc.ravel() - grid.x0, yc.ravel() - grid.y0]
        for points in (self.landmarks or {}).values():
            tree = cKDTree(np.asarray(points, dtype=float))
            dist, _ = tree.query(np.column_stack([xc.ravel(), yc.ravel()]))
            cols.append(np.asarray(dist, dtype=float))
        return cols

    def _features(self, origin: float, horizon_start: float) -> FloatArray:
        grid = self.grid_
        n_cells = grid.nx * grid.ny
        t, cells = self.events_t_, self.events_cell_
        stop = int(np.searchsorted(t, origin, side="left"))
        history = origin - self.data_start_
        cols: list[FloatArray] = list(self.static_)
        for window in self.lag_windows_days:
            span = min(float(window), history)
            first = int(np.searchsorted(t, origin - span, side="left"))
            counts = np.bincount(cells[first:stop], minlength=n_cells) / span
            cols.append(counts)
            surface = counts.reshape(grid.ny, grid.nx)
            for radius in self.neighbourhood_cells:
                size = 2 * int(radius) + 1
                box = ndimage.uniform_filter(surface, size=size, mode="constant") * size * size
                cols.append((box - surface).ravel())
        last = np.full(n_cells, -np.inf)
        np.maximum.at(last, cells[:stop], t[:stop])
        cap = float(max(self.lag_windows_days))
        cols.append(np.minimum(origin - last, cap))
        stamp = pd.Timestamp(int(horizon_start * _DAY_NS), tz="UTC")
        day_of_year = 2 * np.pi * stamp.dayofyear / 365.25
        calendar = (stamp.month, stamp.dayofweek, np.sin(day_of_year), np.cos(day_of_year))
        cols.extend(np.full(n_cells, float(v)) for v in calendar)
        return np.column_stack(cols)[self.valid_flat_]

    def _threads(self) -> AbstractContextManager[object]:
        if self.n_threads is None:
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        limits: AbstractContextManager[object] = threadpool_limits(
            limits=int(self.n_threads), user_api="openmp"
        )
        return limits

    # -- fit / predict -------------------------------------------------------------------
    def _fit(self, data: TrainingData) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor

        grid = self.grid_
        horizon = float(self.horizon_days)
        self.events_t_, self.events_cell_ = data.t, data.cell
        self.data_start_, self.data_end_ = data.start, data.end
        self.valid_flat_ = np.flatnonzero(grid.valid.ravel())
        self.static_ = self._static_features()
        origins: list[float] = []
        origin = data.end - horizon
        while origin - data.start >= float(self.min_history_days) and len(origins) < int(
            self.max_origins
        ):
            origins.append(origin)
            origin -= horizon
        if len(origins) < 2:
            raise NotEnoughDataError(
                "gbm: training origins (training days - min_history_days) / horizon_days",
                len(origins),
                2,
                "lengthen --train-days or shorten --horizon-days",
            )
        n_cells = grid.nx * grid.ny
        features, targets = [], []
        for origin in origins:
            features.append(self._features(origin, origin))
            lo = int(np.searchsorted(data.t, origin, side="left"))
            hi = int(np.searchsorted(data.t, origin + horizon, side="left"))
            counts = np.bincount(data.cell[lo:hi], minlength=n_cells)
            targets.append(counts[self.valid_flat_].astype(float))
        x_train = np.vstack(features)
        y_train = np.concatenate(targets)
        if y_train.sum() <= 0:
            raise NotEnoughDataError(
                "gbm: events in the training targets", 0, 1, "lengthen --train-days"
            )
        model = HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=int(self.max_iter),
            learning_rate=float(self.learning_rate),
            max_leaf_nodes=int(self.max_leaf_nodes),
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=self.random_state,
        )
        with self._threads():
            model.fit(x_train, y_train)
        self.model_ = model
        self.n_origins_ = len(origins)
        self.n_training_rows_ = int(y_train.size)

    def _predict(self, start: float, end: float) -> FloatArray:
        grid = self.grid_
        # Features use only training events: the origin is the end of training at the latest.
        features = self._features(min(start, self.data_end_), start)
        with self._threads():
            expected = np.asarray(self.model_.predict(features), dtype=float)
        out = np.zeros(grid.nx * grid.ny)
        out[self.valid_flat_] = expected * (end - start) / float(self.horizon_days)
        return out.reshape(grid.ny, grid.nx)
