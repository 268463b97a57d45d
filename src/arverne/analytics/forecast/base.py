"""Shared machinery of the grid forecasters: validation, time handling, intervals.

Every forecaster follows scikit-learn's estimator rules: ``__init__`` stores parameters
only; ``fit(events, *, grid, start, end)`` validates, sets trailing-underscore attributes
and returns ``self``; ``predict(*, start, end)`` returns the expected number of events per
cell over ``[start, end)`` as an ``(ny, nx)`` array (row 0 southmost, 0 outside the
valid cells); ``predict_interval(..., level=0.9)`` gives lower and upper bounds from a
Poisson or, when the training counts are overdispersed, a negative-binomial law.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from arverne.analytics.errors import NotEnoughDataError, NotFittedError, ParameterError
from arverne.analytics.grid import Grid
from arverne.analytics.schema import require_model_fields

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
TimeLike = pd.Timestamp | dt.datetime | dt.date | str
_DAY_NS = 86_400 * 10**9


def to_timestamp(value: TimeLike, *, name: str) -> pd.Timestamp:
    """Read a time argument as a UTC timestamp (naive values are taken as UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(name, value, "a date or time such as '2019-06-01'") from exc
    if pd.isna(stamp):
        raise ParameterError(name, value, "a date or time, not NaT")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def to_days(times: pd.Series | pd.DatetimeIndex | pd.Timestamp) -> Any:
    """Times as float days since 1970-01-01 UTC."""
    if isinstance(times, pd.Timestamp):
        return times.as_unit("ns").value / _DAY_NS
    # The nanosecond unit is forced: Parquet and Arrow often give microseconds.
    stamps = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns")
    nanoseconds = np.asarray(stamps.to_numpy(dtype="datetime64[ns]").view(np.int64))
    return nanoseconds.astype(np.float64) / float(_DAY_NS)


@dataclass(frozen=True)
class TrainingData:
    """Events of the training window located on the grid (sorted by time)."""

    t: FloatArray  # days since the epoch
    x: FloatArray
    y: FloatArray
    cell: IntArray  # flat index row * nx + col
    start: float  # days since the epoch
    end: float

    @property
    def duration(self) -> float:
        """Length of the training window in days."""
        return self.end - self.start

    @property
    def n(self) -> int:
        """Number of events."""
        return int(self.t.size)


def prepare_events(
    events: pd.DataFrame, *, grid: Grid, start: TimeLike, end: TimeLike
) -> TrainingData:
    """Validate an event table and keep the events of ``[start, end)`` that are on the grid.

    Parameters
    ----------
    events
        Clean incidents with at least ``time``, ``x`` and ``y`` (metres in ``grid.crs``).
    grid
        The forecasting grid.
    start, end
        Training window.

    Returns
    -------
    TrainingData
    """
    if not isinstance(events, pd.DataFrame):
        raise ParameterError("events", type(events).__name__, "a pandas DataFrame")
    require_model_fields(events.columns)
    missing = [c for c in ("time", "x", "y") if c not in events.columns]
    if missing:
        raise ParameterError("events", list(events.columns), f"columns {missing} as well")
    t0 = to_timestamp(start, name="start")
    t1 = to_timestamp(end, name="end")
    if t1 <= t0:
        raise ParameterError("end", t1, f"a time after start={t0}")
    times = pd.to_datetime(events["time"], utc=True)
    in_window = ((times >= t0) & (times < t1)).to_numpy()
    x = events["x"].to_numpy(dtype=float)[in_window]
    y = events["y"].to_numpy(dtype=float)[in_window]
    cell = grid.flat_index(x, y)
    on_grid = cell >= 0
    t = to_days(times[in_window])[on_grid]
    order = np.argsort(t, kind="stable")
    return TrainingData(
        t=t[order],
        x=x[on_grid][order],
        y=y[on_grid][order],
        cell=cell[on_grid][order],
        start=to_days(t0),
        end=to_days(t1),
    )


def overdispersion(data: TrainingData, grid: Grid, *, bin_days: float = 7.0) -> float:
    """Negative-binomial ``alpha`` (variance = mean + alpha mean^2) of per-cell counts.

    Counts of each valid cell over consecutive ``bin_days`` bins of the training window,
    method of moments pooled over cells; 0 means Poisson-like counts.
    """
    n_bins = int(data.duration // bin_days)
    if n_bins < 2 or data.n == 0:
        return 0.0
    first = data.end - n_bins * bin_days
    keep = data.t >= first
    b = np.minimum(((data.t[keep] - first) // bin_days).astype(np.int64), n_bins - 1)
    valid_flat = np.flatnonzero(grid.valid.ravel())
    lookup = np.full(grid.nx * grid.ny, -1, dtype=np.int64)
    lookup[valid_flat] = np.arange(valid_flat.size)
    c = lookup[data.cell[keep]]
    ok = c >= 0
    counts = np.bincount(
        b[ok] * valid_flat.size + c[ok], minlength=n_bins * valid_flat.size
    ).reshape(n_bins, valid_flat.size)
    mean = counts.mean(axis=0)
    var = counts.var(axis=0, ddof=1)
    denom = float((mean**2).sum())
    if denom <= 0:
        return 0.0
    return max(0.0, float((var - mean).sum()) / denom)


def scale_to_total(surface: FloatArray, total: float, valid: NDArray[np.bool_]) -> FloatArray:
    """Rescale a non-negative score surface so its valid cells sum to ``total``."""
    out = np.where(valid, np.clip(surface, 0.0, None), 0.0)
    mass = float(out.sum())
    if mass <= 0 or total <= 0:
        return np.zeros_like(out)
    return out * (total / mass)


class GridForecaster:
    """Base class: subclasses implement ``_fit(data)`` and ``_predict(start, end)``.

    ``_predict`` receives the horizon as float days since the epoch and returns expected
    counts per cell; the base class masks invalid cells and checks the horizon.
    """

    name: ClassVar[str] = "base"
    #: Fewest training events the method accepts.
    min_events: ClassVar[int] = 1

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (scikit-learn convention)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _check_params(self) -> None:
        """Validate constructor parameters (subclasses extend)."""

    def fit(self, events: pd.DataFrame, *, grid: Grid, start: TimeLike, end: TimeLike) -> Self:
        """Fit the forecaster on the events of ``[start, end)``.

        Parameters
        ----------
        events
            Clean incidents: ``time`` (UTC), ``x``, ``y`` (metres in ``grid.crs``); other
            columns must be on the model allow-list.
        grid
            Forecasting grid with its valid-cell mask.
        start, end
            Training window.

        Returns
        -------
        self
        """
        self._check_params()
        data = prepare_events(events, grid=grid, start=start, end=end)
        if data.n < self.min_events:
            raise NotEnoughDataError(
                f"{self.name}: events in the training window",
                data.n,
                self.min_events,
                "lengthen --train-days, widen the categories, or drop this method",
            )
        self.grid_ = grid
        self.train_start_ = to_timestamp(start, name="start")
        self.train_end_ = to_timestamp(end, name="end")
        self.n_events_ = data.n
        self.dispersion_ = overdispersion(data, grid)
        self._fit(data)
        return self

    def _fit(self, data: TrainingData) -> None:
        raise NotImplementedError

    def _predict(self, start: float, end: float) -> FloatArray:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "grid_"):
            raise NotFittedError(type(self).__name__)

    def _horizon(self, start: TimeLike, end: TimeLike) -> tuple[float, float]:
        self._check_fitted()
        t0 = to_timestamp(start, name="start")
        t1 = to_timestamp(end, name="end")
        if t1 <= t0:
            raise ParameterError("end", t1, f"a time after start={t0}")
        if t0 < self.train_end_:
            raise ParameterError(
                "start", t0, f"a time at or after the end of training ({self.train_end_})"
            )
        return to_days(t0), to_days(t1)

    def predict(self, *, start: TimeLike, end: TimeLike) -> FloatArray:
        """Expected number of events per cell over ``[start, end)``.

        Parameters
        ----------
        start, end
            Forecast horizon; ``start`` must not precede the end of training.

        Returns
        -------
        numpy.ndarray
            ``(ny, nx)`` expected counts, row 0 southmost, 0 outside valid cells.
        """
        t0, t1 = self._horizon(start, end)
        surface = np.asarray(self._predict(t0, t1), dtype=float)
        surface = np.where(self.grid_.valid & np.isfinite(surface), surface, 0.0)
        return np.asarray(np.clip(surface, 0.0, None), dtype=float)

    def predict_interval(
        self, *, start: TimeLike, end: TimeLike, level: float = 0.9
    ) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds of the count per cell at a central ``level``.

        Poisson quantiles around :meth:`predict`, or negative-binomial ones when the
        weekly training counts were overdispersed (``dispersion_`` > 0; the dispersion
        is rescaled to the horizon length). The bounds are whole counts, widened when
        needed to the integers around the expected count so that they always contain it.

        Parameters
        ----------
        start, end
            Forecast horizon.
        level
            Central probability of the interval, in (0, 1).

        Returns
        -------
        (lower, upper)
            Two ``(ny, nx)`` arrays of counts.
        """
        if not 0 < level < 1:
            raise ParameterError("level", level, "a probability strictly between 0 and 1")
        mean = self.predict(start=start, end=end)
        t0, t1 = self._horizon(start, end)
        q_low, q_high = (1 - level) / 2, (1 + level) / 2
        alpha = self.dispersion_ * 7.0 / max(t1 - t0, 1e-9)
        safe = np.maximum(mean, 1e-12)
        if alpha > 1e-9:
            size = 1.0 / alpha
            prob = size / (size + safe)
            lower = stats.nbinom.ppf(q_low, size, prob)
            upper = stats.nbinom.ppf(q_high, size, prob)
        else:
            lower = stats.poisson.ppf(q_low, safe)
            upper = stats.poisson.ppf(q_high, safe)
        # Integer bounds that always bracket the expected count (for a small mean the
        # upper quantile alone can be 0, below the mean).
        lower = np.minimum(lower, np.floor(mean))
        upper = np.maximum(upper, np.ceil(mean))
        zero = mean <= 0
        lower = np.where(zero, 0.0, lower)
        upper = np.where(zero, 0.0, upper)
        return lower.astype(float), upper.astype(float)


def check_positive(name: str, value: float, *, unit: str) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a positive finite number."""
    if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
        raise ParameterError(name, value, f"a positive number of {unit}")
