"""Calibration from a calls table (CSV path) and from arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arverne.planning import (
    CallColumns,
    PlanningInputError,
    fit_inputs_from_arrays,
    fit_inputs_from_calls,
)


def calls_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2024-03-01")
    rows = []
    for day in range(10):
        for hour, n in ((9, 2), (21, 6)):
            for _ in range(n):
                t = start + pd.Timedelta(days=day, hours=hour, minutes=int(rng.integers(60)))
                kind, prio = ("fight", 1) if hour == 21 else ("theft", 3)
                arrived = t + pd.Timedelta(minutes=5)
                cleared = arrived + pd.Timedelta(minutes=40 if kind == "fight" else 20)
                rows.append(
                    (
                        t.strftime("%d/%m/%Y %H:%M"),
                        kind,
                        prio,
                        arrived.strftime("%d/%m/%Y %H:%M"),
                        cleared.strftime("%d/%m/%Y %H:%M"),
                    )
                )
    return pd.DataFrame(rows, columns=["when", "kind", "prio", "arrived", "cleared"])


def test_fit_from_calls_table() -> None:
    mapping = CallColumns(
        time="when",
        time_format="%d/%m/%Y %H:%M",
        type="kind",
        priority="prio",
        onscene_start="arrived",
        onscene_end="cleared",
    )
    inputs = fit_inputs_from_calls(calls_frame(), mapping)
    names = [c.name for c in inputs.call_types]
    assert names == ["fight", "theft"]
    fight, theft = inputs.call_types
    assert (fight.priority, theft.priority) == (1, 3)
    assert fight.service_mean_s == pytest.approx(2400.0)
    assert theft.service_mean_s == pytest.approx(1200.0)
    assert inputs.rates_per_hour[21, 0] == pytest.approx(6.0)
    assert inputs.rates_per_hour[9, 1] == pytest.approx(2.0)
    assert inputs.calls_per_day == pytest.approx(8.0)


def test_fit_from_arrays_dates_only_uses_default_cycle() -> None:
    days = pd.date_range("2024-01-01", periods=20, freq="D").repeat(5)
    inputs = fit_inputs_from_arrays(call_time=days.to_numpy(), call_type=["a"] * len(days))
    assert inputs.calls_per_day == pytest.approx(5.0)
    assert any("no time of day" in n for n in inputs.notes)
    assert inputs.rates_per_hour[4, 0] < inputs.rates_per_hour[19, 0]


def test_rare_types_merge_into_other() -> None:
    times = pd.date_range("2024-01-01", periods=30, freq="h").to_numpy()
    kinds = ["a"] * 20 + ["b"] * 6 + ["c"] * 3 + ["d"]
    inputs = fit_inputs_from_arrays(call_time=times, call_type=kinds, max_types=2)
    assert [c.name for c in inputs.call_types] == ["a", "b", "other"]


def test_empty_and_bad_columns() -> None:
    with pytest.raises(PlanningInputError, match="--calls"):
        fit_inputs_from_calls(pd.DataFrame({"when": []}), CallColumns(time="when"))
    with pytest.raises(PlanningInputError, match="--time-col"):
        fit_inputs_from_calls(calls_frame(), CallColumns(time="nope"))
    with pytest.raises(PlanningInputError, match="--time-format"):
        fit_inputs_from_calls(pd.DataFrame({"when": ["x", "y"]}), CallColumns(time="when"))
