"""Grid forecasters of where incidents will happen next, following scikit-learn's rules.

Each forecaster is fitted with ``fit(events, *, grid, start, end)`` and gives expected
counts per cell with ``predict(*, start, end)`` (an ``(ny, nx)`` array, row 0 southmost)
and bounds with ``predict_interval(*, start, end, level=0.9)``.
"""

from __future__ import annotations

from typing import Any

from arverne.analytics.errors import ParameterError
from arverne.analytics.forecast.base import GridForecaster
from arverne.analytics.forecast.decay import DecayedCounts
from arverne.analytics.forecast.etas import GridETAS
from arverne.analytics.forecast.gbm import GradientBoostingForecaster
from arverne.analytics.forecast.kde import KDEForecaster
from arverne.analytics.forecast.naive import NaiveCounts
from arverne.analytics.forecast.prospective import ProspectiveHotspot

#: Method names accepted by the CLI and the evaluation harness.
METHODS: dict[str, type[GridForecaster]] = {
    "naive": NaiveCounts,
    "decay": DecayedCounts,
    "kde": KDEForecaster,
    "prospective": ProspectiveHotspot,
    "etas": GridETAS,
    "gbm": GradientBoostingForecaster,
}


def make_forecaster(name: str, **params: Any) -> GridForecaster:
    """Build a forecaster by method name.

    Parameters
    ----------
    name
        One of :data:`METHODS`.
    **params
        Constructor parameters of that method.

    Returns
    -------
    GridForecaster
        An unfitted forecaster.
    """
    try:
        cls = METHODS[name]
    except KeyError:
        raise ParameterError("method", name, f"one of {', '.join(METHODS)}") from None
    return cls(**params)


__all__ = [
    "METHODS",
    "DecayedCounts",
    "GradientBoostingForecaster",
    "GridETAS",
    "GridForecaster",
    "KDEForecaster",
    "NaiveCounts",
    "ProspectiveHotspot",
    "make_forecaster",
]
