"""Responsible-use helpers: keep enforcement-driven crime out of patrol forecasts, and
monitor how concentrated the flagged area becomes over time.

Incidents that police discover themselves (drug possession, weapons found on a stop,
vice, obstruction of officers) measure where police looked, not where crime happened.
Feeding them back into the forecast that decides where police look creates a runaway
feedback loop; :func:`patrol_events` leaves them out unless a caller includes them by
name. :func:`concentration_report` is the monitor: given successive forecasts (flagged
cells) and a district map, it reports each district's share of the flags, the Gini
coefficient of flag rates across districts and how persistent the flags are, with a
warning when one district keeps drawing far more flags than its share of the area.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from arverne.analytics.categories import TAXONOMY
from arverne.analytics.errors import ParameterError

#: Platform categories driven mainly by police activity, excluded from patrol forecasts.
ENFORCEMENT_DRIVEN: frozenset[str] = frozenset({"drugs", "weapons", "vice", "obstructing_police"})

#: Why those categories are excluded (shown by the CLI and the web page).
EXCLUSION_EXPLANATION = (
    "Drug, weapons-possession, vice and obstruction offences are mostly discovered by "
    "police themselves, so their records show where officers looked. A patrol forecast "
    "trained on them sends officers back to the same places, where they discover more "
    "of the same: a runaway feedback loop (Ensign et al. 2018, 'Runaway feedback loops "
    "in predictive policing'; Lum and Isaac 2016 showed the effect on Oakland drug "
    "arrests). They are left out of patrol forecasts unless explicitly included."
)


def patrol_events(
    events: pd.DataFrame, *, include: Iterable[str] = ()
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop enforcement-driven categories from events meant for a patrol forecast.

    Parameters
    ----------
    events
        Clean incidents with a ``category`` column.
    include
        Enforcement-driven categories to keep anyway (an explicit, logged choice).

    Returns
    -------
    (events, excluded)
        The kept events and the number dropped per category.
    """
    chosen = set(include)
    unknown = chosen - set(TAXONOMY)
    if unknown:
        raise ParameterError("include", sorted(unknown), f"platform categories ({TAXONOMY})")
    dropped = ENFORCEMENT_DRIVEN - chosen
    out = events["category"].isin(dropped)
    excluded = events.loc[out, "category"].value_counts().to_dict()
    return events.loc[~out].reset_index(drop=True), {str(k): int(v) for k, v in excluded.items()}


def gini(values: Sequence[float] | NDArray[np.float64]) -> float:
    """Gini coefficient of non-negative values (0 = all equal, near 1 = all in one).

    Returns
    -------
    float
        NaN when the values sum to zero.
    """
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0 or np.any(x < 0):
        raise ParameterError("values", "negative or empty", "non-negative numbers")
    total = x.sum()
    if total <= 0:
        return float("nan")
    n = x.size
    ranks = np.arange(1, n + 1)
    return float((2 * np.sum(ranks * x) / (n * total)) - (n + 1) / n)


@dataclass
class ConcentrationReport:
    """Per-forecast district shares of flagged cells, Gini, persistence and warnings."""

    districts: list[str]
    district_area_share: dict[str, float]
    flag_share: list[dict[str, float]]
    flag_rate: list[dict[str, float]]
    gini: list[float]
    jaccard_with_previous: list[float | None]
    always_flagged_share: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report."""
        return dict(vars(self))


def concentration_report(
    flags: Sequence[NDArray[np.bool_]],
    districts: NDArray[np.int64],
    *,
    names: Sequence[str] | None = None,
    overrepresentation: float = 2.0,
    consecutive: int = 3,
) -> ConcentrationReport:
    """Monitor how concentrated successive forecasts' flagged cells are by district.

    Parameters
    ----------
    flags
        Flagged cells of successive forecasts, each ``(ny, nx)`` booleans.
    districts
        ``(ny, nx)`` district number per cell (0..D-1), -1 outside every district.
    names
        District names (``"district 0"``... by default).
    overrepresentation
        A district whose share of flags is at least this multiple of its share of the
        area is over-represented.
    consecutive
        Forecasts in a row of over-representation that raise a warning.

    Returns
    -------
    ConcentrationReport
    """
    if not flags:
        raise ParameterError("flags", "[]", "one forecast or more")
    district_map = np.asarray(districts, dtype=np.int64)
    n_districts = int(district_map.max()) + 1
    if n_districts < 1:
        raise ParameterError("districts", "no district", "district numbers 0..D-1")
    labels = list(names) if names is not None else [f"district {d}" for d in range(n_districts)]
    if len(labels) != n_districts:
        raise ParameterError("names", len(labels), f"{n_districts} names")
    inside = district_map >= 0
    cells = np.bincount(district_map[inside], minlength=n_districts).astype(float)
    area_share = cells / cells.sum()
    shares: list[dict[str, float]] = []
    rates: list[dict[str, float]] = []
    ginis: list[float] = []
    jaccards: list[float | None] = []
    previous: NDArray[np.bool_] | None = None
    streak = np.zeros(n_districts, dtype=int)
    warned: set[int] = set()
    warnings: list[str] = []
    for index, flag in enumerate(flags):
        flag = np.asarray(flag, dtype=bool)
        if flag.shape != district_map.shape:
            raise ParameterError(f"flags[{index}]", flag.shape, f"shape {district_map.shape}")
        hit = flag & inside
        per = np.bincount(district_map[hit], minlength=n_districts).astype(float)
        share = per / per.sum() if per.sum() else np.zeros(n_districts)
        rate = np.divide(per, cells, out=np.zeros(n_districts), where=cells > 0)
        shares.append(dict(zip(labels, share.round(4).tolist(), strict=True)))
        rates.append(dict(zip(labels, rate.round(4).tolist(), strict=True)))
        ginis.append(gini(rate) if rate.sum() else float("nan"))
        if previous is None:
            jaccards.append(None)
        else:
            union = int((previous | hit).sum())
            jaccards.append(int((previous & hit).sum()) / union if union else None)
        previous = hit
        over = share >= overrepresentation * area_share
        streak = np.where(over, streak + 1, 0)
        for d in np.flatnonzero(streak >= consecutive):
            if int(d) not in warned:
                warned.add(int(d))
                warnings.append(
                    f"{labels[d]} drew {share[d]:.0%} of the flagged cells for {consecutive} "
                    f"forecasts in a row (from forecast {index - consecutive + 1}) while it "
                    f"is {area_share[d]:.0%} of the area: review the data feeding the "
                    "forecast (enforcement-driven categories, reporting changes)"
                )
    stack = np.stack([np.asarray(f, dtype=bool) & inside for f in flags])
    ever = stack.any(axis=0)
    always = stack.all(axis=0)
    return ConcentrationReport(
        districts=labels,
        district_area_share=dict(zip(labels, area_share.round(4).tolist(), strict=True)),
        flag_share=shares,
        flag_rate=rates,
        gini=ginis,
        jaccard_with_previous=jaccards,
        always_flagged_share=float(always.sum() / ever.sum()) if ever.any() else 0.0,
        warnings=warnings,
    )
