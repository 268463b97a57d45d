"""Descriptive crime statistics: counts and rates, trends with seasonality, time of week.

All functions take the clean incident table of :mod:`arverne.analytics.io` (``time`` in
UTC) and return DataFrames or arrays; local clock hours and calendar periods use the
``tz`` argument (the city's zone). :func:`to_json_ready` turns any result into plain JSON
values. The near-repeat Knox test lives in :mod:`arverne.analytics.knox` and is
re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from arverne.analytics.errors import ColumnNotFoundError, ParameterError
from arverne.analytics.knox import KnoxResult, knox_test

__all__ = [
    "PERIODS",
    "WEEKDAYS",
    "KnoxResult",
    "counts_by",
    "hour_weekday",
    "knox_test",
    "rates",
    "seasonal_index",
    "to_json_ready",
    "trend",
]

#: Period codes accepted by :func:`counts_by` and :func:`trend`.
PERIODS: dict[str, str] = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
#: Weekday labels, Monday first (ISO order, row order of :func:`hour_weekday`).
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PERIOD_ALIAS = {"D": "D", "W": "W-SUN", "M": "M", "Q": "Q", "Y": "Y"}
_PERIODS_PER_YEAR = {"D": 365, "W": 52, "M": 12, "Q": 4, "Y": 1}


def _local_times(events: pd.DataFrame, tz: str) -> pd.Series:
    if "time" not in events.columns:
        raise ColumnNotFoundError("events", "time", events.columns)
    return pd.to_datetime(events["time"], utc=True).dt.tz_convert(tz)


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ParameterError("period", period, f"one of {', '.join(PERIODS)}")


def _period_start(local: pd.Series, period: str) -> pd.Series:
    naive = local.dt.tz_localize(None)
    starts: pd.Series = naive.dt.to_period(_PERIOD_ALIAS[period]).dt.start_time
    return starts


def counts_by(
    events: pd.DataFrame,
    *,
    by: Sequence[str] = ("category",),
    period: str | None = "M",
    tz: str = "UTC",
) -> pd.DataFrame:
    """Count incidents per group and (optionally) per calendar period.

    Parameters
    ----------
    events
        Clean incidents.
    by
        Grouping columns, e.g. ``("category", "district")``.
    period
        ``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"`` or ``None`` for the whole span.
    tz
        Zone in which calendar periods are cut.

    Returns
    -------
    pandas.DataFrame
        The grouping columns, ``period`` (start, local, when asked) and ``count``;
        combinations with no incident are listed with count 0.
    """
    missing = [c for c in by if c not in events.columns]
    if missing:
        raise ColumnNotFoundError("by", missing[0], events.columns)
    keys = list(by)
    frame = events[keys].copy()
    if period is not None:
        _check_period(period)
        frame["period"] = _period_start(_local_times(events, tz), period).to_numpy()
        keys.append("period")
    if not keys:
        return pd.DataFrame({"count": [len(events)]})
    counted = frame.groupby(keys, observed=True, dropna=False).size()
    if len(keys) > 1:
        levels = [counted.index.get_level_values(k).unique() for k in keys]
        if period is not None:
            first, last = frame["period"].min(), frame["period"].max()
            levels[-1] = pd.period_range(first, last, freq=_PERIOD_ALIAS[period]).start_time
        full = pd.MultiIndex.from_product(levels, names=keys)
        counted = counted.reindex(full, fill_value=0)
    elif period is not None:
        first, last = frame["period"].min(), frame["period"].max()
        span = pd.period_range(first, last, freq=_PERIOD_ALIAS[period]).start_time
        counted = counted.reindex(pd.Index(span, name="period"), fill_value=0)
    return counted.rename("count").reset_index()


def rates(
    counts: pd.DataFrame,
    *,
    key: str,
    denominators: Mapping[Any, float],
    per: float = 1000.0,
    unit: str = "residents",
) -> pd.DataFrame:
    """Add a rate column: ``count / denominator * per`` (per 1,000 residents by default).

    Parameters
    ----------
    counts
        Output of :func:`counts_by`.
    key
        Column whose values index ``denominators`` (e.g. ``"district"``).
    denominators
        Population, area in km², number of premises... per key value.
    per
        Multiplier of the rate.
    unit
        Name of the denominator, used in the rate column name.

    Returns
    -------
    pandas.DataFrame
        ``counts`` with ``rate_per_<per>_<unit>``; NaN where no denominator is known.
    """
    if key not in counts.columns:
        raise ColumnNotFoundError("key", key, counts.columns)
    bad = {k: v for k, v in denominators.items() if not (v and v > 0)}
    if bad:
        raise ParameterError("denominators", bad, "positive numbers")
    out = counts.copy()
    denominator = out[key].map(lambda v: denominators.get(v, np.nan)).astype(float)
    out[f"rate_per_{per:g}_{unit}"] = out["count"] / denominator * per
    return out


def trend(
    events: pd.DataFrame,
    *,
    period: str = "W",
    rolling_periods: int = 4,
    tz: str = "UTC",
) -> pd.DataFrame:
    """Counts per period with a rolling mean and the change against the year before.

    Parameters
    ----------
    events
        Clean incidents.
    period
        ``"D"``, ``"W"``, ``"M"`` or ``"Q"``.
    rolling_periods
        Window of the centred rolling mean, in periods.
    tz
        Zone in which periods are cut.

    Returns
    -------
    pandas.DataFrame
        ``period``, ``count``, ``rolling_mean``, ``count_year_before`` and
        ``yoy_change`` (relative change; NaN in the first year or after a zero).
    """
    _check_period(period)
    if period == "Y":
        raise ParameterError("period", period, "D, W, M or Q (a yearly trend has no season)")
    if rolling_periods < 1:
        raise ParameterError("rolling_periods", rolling_periods, "1 or more")
    table = counts_by(events, by=(), period=period, tz=tz)
    table["rolling_mean"] = (
        table["count"].rolling(rolling_periods, center=True, min_periods=1).mean()
    )
    lag = _PERIODS_PER_YEAR[period]
    if period == "D":
        previous = table.set_index("period")["count"]
        shifted = previous.reindex(table["period"] - pd.DateOffset(years=1))
        table["count_year_before"] = shifted.to_numpy()
    else:
        table["count_year_before"] = table["count"].shift(lag)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = table["count"] / table["count_year_before"] - 1.0
    table["yoy_change"] = change.where(table["count_year_before"] > 0)
    return table


def seasonal_index(events: pd.DataFrame, *, tz: str = "UTC") -> pd.DataFrame:
    """Mean monthly count per month of the year divided by the overall monthly mean.

    Returns
    -------
    pandas.DataFrame
        ``month`` (1-12), ``mean_count`` and ``index`` (1 = an average month).
    """
    table = counts_by(events, by=(), period="M", tz=tz)
    table["month"] = pd.to_datetime(table["period"]).dt.month
    by_month = table.groupby("month")["count"].mean().reindex(range(1, 13))
    overall = table["count"].mean()
    return pd.DataFrame(
        {
            "month": by_month.index,
            "mean_count": by_month.to_numpy(),
            "index": (by_month / overall).to_numpy() if overall > 0 else np.nan,
        }
    )


def hour_weekday(events: pd.DataFrame, *, tz: str = "UTC") -> NDArray[np.int64]:
    """Incidents per local weekday (rows, Monday first) and hour (columns 0-23).

    Returns
    -------
    numpy.ndarray
        ``(7, 24)`` integer counts.
    """
    local = _local_times(events, tz)
    flat = local.dt.dayofweek.to_numpy() * 24 + local.dt.hour.to_numpy()
    return np.bincount(flat.astype(np.int64), minlength=7 * 24).reshape(7, 24)


def to_json_ready(value: Any) -> Any:
    """Convert DataFrames, arrays, timestamps and NumPy scalars to plain JSON values."""
    if isinstance(value, pd.DataFrame):
        return [to_json_ready(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_json_ready(value.to_dict())
    if isinstance(value, np.ndarray):
        return to_json_ready(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_ready(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value
