"""Calibration: fit arrival rates by hour and type, and on-scene times, from call history.

Two entry points share one fitting routine:

* :func:`fit_inputs_from_calls` reads a calls-for-service table (a pandas DataFrame, e.g.
  a CSV) through a :class:`CallColumns` mapping;
* :func:`fit_inputs_from_arrays` takes plain arrays (call times, types, priorities,
  on-scene durations) — the platform's own history passes arrays read from its
  database; this module never touches a database.

Arrival rates are the mean number of calls of each type in each hour of the day over
the covered days (a homogeneous week: no weekday effect). When the times carry no
time of day (dates only), the daily count is spread with the default daily cycle.
On-scene times are fitted by moments (mean and coefficient of variation of a
lognormal) per type with enough data, else over all calls, else left at defaults;
every such choice is written in ``SimulationInputs.notes``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from arverne.planning.errors import PlanningInputError
from arverne.planning.model import (
    DEFAULT_CAPABILITY,
    HOURLY_SHAPE,
    CallType,
    SimulationInputs,
)

MIN_SERVICE_SAMPLES = 5
MAX_SERVICE_S = 12 * 3600.0


@dataclass(frozen=True)
class CallColumns:
    """Which columns of a calls table hold what.

    Attributes
    ----------
    time
        Call (queued / received) time.
    time_format
        strftime format of ``time`` (default: let pandas infer).
    type
        Call type / category (default: every call one type ``"call"``).
    priority
        Priority number (1 = most urgent; values above 4 count as 4).
    onscene_start, onscene_end
        Arrival on scene and clearance times, to fit on-scene durations.
    onscene_format
        strftime format of the on-scene columns (default: ``time_format``).
    max_types
        The most frequent types are kept; the rest are merged into ``"other"``.
    """

    time: str
    time_format: str | None = None
    type: str | None = None
    priority: str | None = None
    onscene_start: str | None = None
    onscene_end: str | None = None
    onscene_format: str | None = None
    max_types: int = 10


def _parse_times(frame: pd.DataFrame, column: str, fmt: str | None, option: str) -> pd.Series:
    if column not in frame.columns:
        raise PlanningInputError(
            option,
            f"column {column!r} is not in the calls file",
            f"pass one of {', '.join(map(str, frame.columns[:30]))}",
        )
    raw = frame[column]
    if pd.api.types.is_integer_dtype(raw) and fmt is not None:
        raw = raw.astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": we check below
        parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
    if parsed.notna().mean() < 0.5:
        example = raw.dropna().astype(str).head(3).tolist()
        raise PlanningInputError(
            option,
            f"cannot read values such as {example} of column {column!r} as dates",
            "pass the right --time-format (strftime codes, e.g. '%m/%d/%Y %I:%M:%S %p')",
        )
    return parsed


def fit_inputs_from_calls(frame: pd.DataFrame, mapping: CallColumns) -> SimulationInputs:
    """Fit simulator inputs from a calls-for-service table.

    Parameters
    ----------
    frame
        One row per call.
    mapping
        Column mapping.

    Returns
    -------
    SimulationInputs
        Hourly rates per type and on-scene times, with notes on what was assumed.

    Examples
    --------
    >>> cols = CallColumns(time="Original Time Queued", time_format="%m/%d/%Y %I:%M:%S %p",
    ...                    type="Final Call Type", priority="Priority",
    ...                    onscene_start="Arrived Time")  # doctest: +SKIP
    """
    if frame.empty:
        raise PlanningInputError("--calls", "the calls file has no rows", "pass a file with calls")
    times = _parse_times(frame, mapping.time, mapping.time_format, "--time-col")
    keep = times.notna().to_numpy()
    if not keep.any():
        raise PlanningInputError("--calls", "no call with a readable time", "check --time-col")
    types = (
        frame[mapping.type].astype(str).to_numpy()
        if mapping.type is not None and mapping.type in frame.columns
        else np.full(len(frame), "call", dtype=object)
    )
    if mapping.type is not None and mapping.type not in frame.columns:
        raise PlanningInputError(
            "--type-col",
            f"column {mapping.type!r} is not in the calls file",
            "pass an existing column",
        )
    priority = None
    if mapping.priority is not None:
        if mapping.priority not in frame.columns:
            raise PlanningInputError(
                "--priority-col", f"column {mapping.priority!r} is not in the file", "fix the name"
            )
        priority = pd.to_numeric(frame[mapping.priority], errors="coerce").to_numpy(float)
    onscene = None
    if mapping.onscene_start is not None and mapping.onscene_end is not None:
        fmt = mapping.onscene_format or mapping.time_format
        start = _parse_times(frame, mapping.onscene_start, fmt, "--onscene-start-col")
        end = _parse_times(frame, mapping.onscene_end, fmt, "--onscene-end-col")
        onscene = (end - start).dt.total_seconds().to_numpy(float)
    return fit_inputs_from_arrays(
        call_time=times.to_numpy()[keep],
        call_type=types[keep],
        priority=None if priority is None else priority[keep],
        onscene_s=None if onscene is None else onscene[keep],
        max_types=mapping.max_types,
    )


def fit_inputs_from_arrays(
    *,
    call_time: ArrayLike,
    call_type: ArrayLike | None = None,
    priority: ArrayLike | None = None,
    onscene_s: ArrayLike | None = None,
    max_types: int = 10,
    default_service_s: float = 2700.0,
    default_cv: float = 0.6,
    required: Mapping[str, frozenset[str]] | None = None,
) -> SimulationInputs:
    """Fit simulator inputs from arrays of past calls (no database, no I/O).

    Parameters
    ----------
    call_time
        Local call times (``datetime64`` values, or anything pandas reads as dates).
    call_type
        Type of each call (default: one type ``"call"``).
    priority
        Priority of each call (NaN allowed; the type's most common priority is used,
        values above 4 count as 4, missing → 3).
    onscene_s
        On-scene duration of each call in seconds (NaN where unknown).
    max_types
        Keep the most frequent types, merge the rest into ``"other"``.
    default_service_s, default_cv
        On-scene time used when the history has none.
    required
        Capabilities needed by type name (default ``{"patrol"}``).

    Returns
    -------
    SimulationInputs
        ``rates_per_hour`` in calls per hour at each hour of the day.
    """
    times = pd.to_datetime(pd.Series(np.asarray(call_time)), errors="coerce")
    n = len(times)
    if n == 0 or times.notna().sum() == 0:
        raise PlanningInputError("--calls", "no call to fit", "pass a non-empty call history")
    if max_types < 1:
        raise PlanningInputError("max_types", f"got {max_types}", "pass 1 or more")
    valid = times.notna().to_numpy()
    types = (
        np.asarray(call_type, dtype=object).astype(str)
        if call_type is not None
        else np.full(n, "call", dtype=object)
    )
    if types.shape != (n,):
        raise PlanningInputError("call_type", "length differs from call_time", "align the arrays")
    times, types = times[valid].reset_index(drop=True), types[valid]
    counts = pd.Series(types).value_counts()
    kept = sorted(counts.index[:max_types], key=lambda t: (-counts[t], t))
    notes = [f"fitted from {len(times)} calls"]
    if len(counts) > max_types:
        types = np.where(np.isin(types, kept), types, "other")
        kept.append("other")
        notes.append(f"{len(counts) - max_types} rare types merged into 'other'")
    type_idx = (
        np.array([kept.index(t) for t in types]) if len(kept) > 1 else np.zeros(len(types), int)
    )
    first, last = times.min().normalize(), times.max().normalize()
    n_days = int((last - first).days) + 1
    date_only = bool(((times.dt.hour == 0) & (times.dt.minute == 0) & (times.dt.second == 0)).all())
    per_type_day = np.bincount(type_idx, minlength=len(kept)) / n_days
    if date_only:
        rates = np.outer(HOURLY_SHAPE, per_type_day)
        notes.append("times have no time of day: default daily cycle applied")
    else:
        hours = times.dt.hour.to_numpy()
        grid = np.zeros((24, len(kept)))
        np.add.at(grid, (hours, type_idx), 1.0)
        rates = grid / n_days
    notes.append(f"{n_days} days covered ({first.date()} to {last.date()})")

    prio_arr = None if priority is None else np.asarray(priority, dtype=float)[valid]
    svc = None if onscene_s is None else np.asarray(onscene_s, dtype=float)[valid]
    good_svc = None if svc is None else np.isfinite(svc) & (svc > 0) & (svc <= MAX_SERVICE_S)
    if good_svc is None or not good_svc.any():
        notes.append(f"no on-scene durations: default mean {default_service_s / 60:.0f} min")
    if prio_arr is not None and np.nanmax(np.nan_to_num(prio_arr, nan=0)) > 4:
        notes.append("priorities above 4 counted as 4")
    call_types = []
    for k, name in enumerate(kept):
        sel = type_idx == k
        prio = 3
        if prio_arr is not None:
            values = prio_arr[sel]
            values = values[np.isfinite(values)]
            if values.size:
                prio = int(np.clip(pd.Series(values).mode().min(), 1, 4))
        mean, cv = default_service_s, default_cv
        if good_svc is not None and good_svc.any():
            pool = svc[sel & good_svc] if svc is not None else np.zeros(0)
            if pool.size < MIN_SERVICE_SAMPLES:
                pool = svc[good_svc] if svc is not None else pool
            mean = float(pool.mean())
            cv = float(pool.std() / mean) if pool.size > 1 and mean > 0 else default_cv
        req = (required or {}).get(name, frozenset({DEFAULT_CAPABILITY}))
        call_types.append(CallType(name, prio, mean, max(cv, 0.05), frozenset(req)))
    return SimulationInputs(tuple(call_types), rates, tuple(notes))


def replay_times(call_time: ArrayLike) -> np.ndarray:
    """Seconds from midnight of the first day, for replaying a history's call times."""
    times = pd.to_datetime(pd.Series(np.asarray(call_time)), errors="coerce").dropna()
    if times.empty:
        raise PlanningInputError("--calls", "no call with a readable time", "check --time-col")
    origin = times.min().normalize()
    return np.asarray((times - origin).dt.total_seconds().to_numpy(float))


def type_indices(inputs: SimulationInputs, call_type: ArrayLike) -> np.ndarray:
    """Index in ``inputs.call_types`` of each call's type (unknown types → ``"other"``)."""
    names = [c.name for c in inputs.call_types]
    lookup = {name: k for k, name in enumerate(names)}
    fallback = lookup.get("other", 0 if len(names) == 1 else -1)
    out = np.array([lookup.get(str(t), fallback) for t in np.asarray(call_type, dtype=object)])
    if np.any(out < 0):
        raise PlanningInputError("call_type", "types not in the inputs", "fit the inputs first")
    return out.astype(np.int64)
