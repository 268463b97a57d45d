"""Forecast accuracy metrics on a grid: hit rate, PAI, PEI, oracle, Poisson log-score.

For a window with N future events, A valid cells and ``k = floor(c * A)`` flagged cells
(the k highest predicted cells, ties split at random with a seeded generator):
``HR(c) = n / N`` with n the events in flagged cells; ``PAI(c) = HR / c``; the oracle
``HR*(c) = n* / N`` with n* the events in the k busiest cells of what actually happened;
``PEI(c) = n / n*``. Windows are pooled by event count (sums of n, n* and N).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from arverne.analytics.errors import ParameterError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Coverages reported by default: 1, 2, 5, 10 and 20 % of the valid cells.
COVERAGES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10, 0.20)
#: Smallest expected count used in the log-score (a zero forecast would score -inf).
LOG_SCORE_FLOOR = 1e-3


def flagged_count(n_valid: int, coverage: float) -> int:
    """``k = floor(coverage * n_valid)`` (a tiny epsilon guards float round-off)."""
    if not 0 < coverage <= 1:
        raise ParameterError("coverage", coverage, "a share in (0, 1]")
    return math.floor(coverage * n_valid + 1e-9)


def flag_cells(
    surface: FloatArray, valid: BoolArray, k: int, *, rng: np.random.Generator
) -> BoolArray:
    """The ``k`` valid cells with the highest score; ties are split at random.

    Parameters
    ----------
    surface
        ``(ny, nx)`` scores.
    valid
        ``(ny, nx)`` valid-cell mask.
    k
        Number of cells to flag.
    rng
        Random generator used only to order tied cells.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` booleans, exactly ``min(k, valid.sum())`` of them True.
    """
    flat_valid = np.flatnonzero(valid.ravel())
    scores = np.nan_to_num(np.asarray(surface, dtype=float).ravel()[flat_valid], nan=-np.inf)
    tie_break = rng.random(flat_valid.size)
    order = np.lexsort((tie_break, -scores))
    flagged = np.zeros(valid.size, dtype=bool)
    flagged[flat_valid[order[: max(0, k)]]] = True
    return flagged.reshape(valid.shape)


def tie_averaged_hits(surface: FloatArray, observed: FloatArray, valid: BoolArray, k: int) -> float:
    """Expected hits over all random splits of the ties at the flagging threshold.

    Cells scoring strictly above the k-th highest valid score are flagged; the cells
    tied with it share the remaining flags, each holding its events with probability
    ``remaining / tied``. This is what random tie-splitting gives on average, and it
    can be checked without reproducing a random generator.

    Parameters
    ----------
    surface, observed, valid
        Predicted scores, observed counts and valid-cell mask, all ``(ny, nx)``.
    k
        Number of flagged cells.

    Returns
    -------
    float
        Expected number of events in the flagged cells.
    """
    scores = np.nan_to_num(np.asarray(surface, dtype=float)[valid], nan=-np.inf)
    counts = np.asarray(observed, dtype=float)[valid]
    k = min(max(0, k), scores.size)
    if k == 0:
        return 0.0
    threshold = np.sort(scores)[::-1][k - 1]
    above = scores > threshold
    tied = scores == threshold
    remaining = k - int(above.sum())
    return float(counts[above].sum() + counts[tied].sum() * remaining / int(tied.sum()))


def window_scores(
    surface: FloatArray,
    observed: FloatArray,
    valid: BoolArray,
    *,
    coverages: Sequence[float] = COVERAGES,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Hits, oracle hits and event count of one window at each coverage.

    Parameters
    ----------
    surface
        Predicted ``(ny, nx)`` surface.
    observed
        Observed ``(ny, nx)`` counts of the window.
    valid
        Valid-cell mask.
    coverages
        Shares of the valid cells to flag.
    rng
        Generator for tie-breaking (one draw per coverage, in order).

    Returns
    -------
    dict
        ``{"n_events": N, "coverage": {c: {"k", "hits", "hits_tie_mean",
        "oracle_hits"}}}``: ``hits`` splits ties at random, ``hits_tie_mean`` is its
        expectation over all splits (see :func:`tie_averaged_hits`).
    """
    n_valid = int(valid.sum())
    obs_valid = np.where(valid, observed, 0.0)
    busiest = np.sort(obs_valid[valid])[::-1]
    per_coverage: dict[float, dict[str, float]] = {}
    for coverage in coverages:
        k = flagged_count(n_valid, coverage)
        flagged = flag_cells(surface, valid, k, rng=rng)
        per_coverage[coverage] = {
            "k": k,
            "hits": round(float(obs_valid[flagged].sum())),
            "hits_tie_mean": tie_averaged_hits(surface, obs_valid, valid, k),
            "oracle_hits": round(float(busiest[:k].sum())),
        }
    return {"n_events": round(float(obs_valid.sum())), "coverage": per_coverage}


def pooled(records: Sequence[dict[str, Any]], coverage: float) -> dict[str, float | None]:
    """Pool windows by event count: HR, PAI, PEI and oracle HR at one coverage."""
    n = sum(r["coverage"][coverage]["hits"] for r in records)
    n_mean = sum(r["coverage"][coverage].get("hits_tie_mean", 0.0) for r in records)
    n_star = sum(r["coverage"][coverage]["oracle_hits"] for r in records)
    total = sum(r["n_events"] for r in records)
    hit_rate = n / total if total else None
    return {
        "hit_rate": hit_rate,
        "hit_rate_tie_mean": n_mean / total if total else None,
        "pai": hit_rate / coverage if hit_rate is not None else None,
        "pei": n / n_star if n_star else None,
        "oracle_hit_rate": n_star / total if total else None,
        "hits": float(n),
        "oracle_hits": float(n_star),
        "n_events": float(total),
    }


def bootstrap_ratio(
    numerators: NDArray[np.float64],
    denominators: NDArray[np.float64],
    *,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[float | None, float | None]:
    """Percentile interval of ``sum(num) / sum(den)`` over windows resampled with replacement.

    ``numerators`` and ``denominators`` may be 2-D (one row per resample-able window and
    one column per series); the ratio is computed per column pair when they are.
    """
    num = np.asarray(numerators, dtype=float)
    den = np.asarray(denominators, dtype=float)
    if num.size == 0:
        return None, None
    picks = rng.integers(0, num.shape[0], size=(n_boot, num.shape[0]))
    top = num[picks].sum(axis=1)
    bottom = den[picks].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(bottom > 0, top / bottom, np.nan)
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)


def poisson_log_score(
    surface: FloatArray, observed: FloatArray, valid: BoolArray, *, floor: float = LOG_SCORE_FLOOR
) -> float:
    """Mean Poisson log-probability of the observed counts over the valid cells.

    Higher is better; expected counts below ``floor`` are raised to it so that an event
    in a cell forecast at zero costs a finite penalty.
    """
    mu = np.maximum(np.asarray(surface, dtype=float)[valid], floor)
    y = np.asarray(observed, dtype=float)[valid]
    log_pmf = y * np.log(mu) - mu - special.gammaln(y + 1)
    return float(log_pmf.mean())


def interval_coverage(
    lower: FloatArray, upper: FloatArray, observed: FloatArray, valid: BoolArray
) -> float:
    """Share of valid cells whose observed count lies within ``[lower, upper]``."""
    y = observed[valid]
    inside = (y >= lower[valid]) & (y <= upper[valid])
    return float(inside.mean()) if inside.size else float("nan")
