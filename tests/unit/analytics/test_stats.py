"""Descriptive statistics, serving helpers and charts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arverne.analytics import charts
from arverne.analytics.grid import Grid
from arverne.analytics.knox import knox_test
from arverne.analytics.reports import (
    gi_star_hotspots,
    heatmap,
    kde_hotspots,
    knox_summary,
    run_forecast,
    stats_summary,
)
from arverne.analytics.stats import counts_by, hour_weekday, rates, seasonal_index, trend


def _events(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2021-01-01", tz="UTC")
    days = rng.uniform(0, 3 * 365, n)
    return pd.DataFrame(
        {
            "time": start + pd.to_timedelta(np.sort(days), unit="D"),
            "x": rng.normal(705_000, 800, n),  # Lambert-93, near Clermont-Ferrand
            "y": rng.normal(6_520_000, 800, n),
            "category": rng.choice(["theft", "burglary"], n, p=[0.7, 0.3]),
            "district": rng.choice(["north", "south"], n),
        }
    )


def test_counts_by_category_district_and_month_fill_gaps() -> None:
    events = _events(200)
    table = counts_by(events, by=("category", "district"), period="M")
    assert table["count"].sum() == 200
    assert len(table) == 2 * 2 * 36  # every combination, zeros included
    totals = counts_by(events, by=("category",), period=None)
    assert dict(zip(totals["category"], totals["count"], strict=True)) == (
        events["category"].value_counts().to_dict()
    )
    with_rate = rates(
        counts_by(events, by=("district",), period=None),
        key="district",
        denominators={"north": 10_000, "south": 20_000},
    )
    north = with_rate.set_index("district").loc["north"]
    assert north["rate_per_1000_residents"] == pytest.approx(north["count"] / 10)


def test_trend_year_over_year_and_rolling_mean() -> None:
    times = pd.date_range("2021-01-01", "2022-12-31 18:00", freq="6h", tz="UTC")
    doubled = times[times.year == 2022].repeat(2)
    events = pd.DataFrame({"time": times[times.year == 2021].append(doubled)})
    table = trend(events, period="M", rolling_periods=3)
    assert table["yoy_change"].iloc[:12].isna().all()
    assert np.allclose(table["yoy_change"].iloc[12:], 1.0)
    assert table["rolling_mean"].iloc[5] == pytest.approx(table["count"].iloc[4:7].mean())
    index = seasonal_index(events)
    assert len(index) == 12
    assert index["index"].mean() == pytest.approx(1.0, abs=0.05)


def test_hour_weekday_uses_the_city_zone() -> None:
    # Monday 2024-01-01 23:30 UTC is Tuesday 00:30 in Paris.
    events = pd.DataFrame({"time": [pd.Timestamp("2024-01-01 23:30", tz="UTC")]})
    assert hour_weekday(events)[0, 23] == 1
    assert hour_weekday(events, tz="Europe/Paris")[1, 0] == 1
    served = heatmap(events, tz="Europe/Paris")
    assert served["counts"][1][0] == 1
    assert served["weekdays"][0] == "Mon"


def test_serving_helpers_return_plain_json(tmp_path: Path) -> None:
    events = _events()
    grid = Grid.from_points(events["x"], events["y"], cell_m=250, crs="EPSG:2154")
    model_events = events[["time", "x", "y", "category"]]
    results = [
        stats_summary(events, tz="Europe/Paris", by=("category", "district")),
        knox_summary(events.head(300), n_permutations=19),
        gi_star_hotspots(events, grid=grid),
        kde_hotspots(events, grid=grid, bandwidth_m=300),
        run_forecast(model_events, grid=grid, method="kde", train_days=365, horizon_days=7).to_dict(
            include_surface=True
        ),
    ]
    for result in results:
        json.dumps(result, allow_nan=False)  # plain JSON, no NaN, no numpy types
    summary, _, gi, kde, forecast = results
    assert summary["n_events"] == 2000
    assert summary["totals"]["district"]["north"] + summary["totals"]["district"]["south"] == 2000
    assert gi["n_hot"] > 0
    assert gi["geojson"]["features"]
    lon, lat = gi["geojson"]["features"][0]["geometry"]["coordinates"][0][0]
    assert -5 < lon < 10
    assert 41 < lat < 52
    assert len(kde["top_cells"]["features"]) == int(0.05 * grid.n_valid)
    assert forecast["method"] == "kde"
    assert forecast["n_flagged"] == int(0.05 * grid.n_valid)
    assert forecast["categories"] == ["burglary", "theft"]
    assert forecast["enforcement_driven_excluded"] == sorted(
        ["drugs", "obstructing_police", "vice", "weapons"]
    )
    assert np.array(forecast["surface"]).shape == grid.shape


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_charts_are_written(tmp_path: Path, suffix: str) -> None:
    events = _events(400)
    grid = Grid.from_points(events["x"], events["y"], cell_m=500, crs="EPSG:2154")
    knox = knox_test(events["x"], events["y"], np.arange(400.0), n_permutations=19)
    files = [
        charts.plot_trend(trend(events, period="W"), tmp_path / f"trend{suffix}"),
        charts.plot_hour_weekday(hour_weekday(events), tmp_path / f"heat{suffix}"),
        charts.plot_surface(grid.counts(events["x"], events["y"]), grid, tmp_path / f"m{suffix}"),
        charts.plot_knox(knox, tmp_path / f"knox{suffix}"),
        charts.plot_totals({"theft": 3, "burglary": 1}, tmp_path / f"totals{suffix}"),
    ]
    for file in files:
        head = file.read_bytes()[:100]
        assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in file.read_bytes()
