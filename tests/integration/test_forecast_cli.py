"""The analytics command line: import, stats, hotspots, forecast run and backtest.

The backtest's exported grids are re-scored here from the raw CSV with independent code
(own projection, own binning, own ranking) and must reproduce the reported hit rates.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from typer.testing import CliRunner, Result

from arverne.analytics.grid import Grid
from arverne.analytics.synthetic import hotspot_background, simulate_grid_hawkes
from arverne.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200"}
INPUT = ["--time-col", "when", "--lon-col", "lon", "--lat-col", "lat", "--category-col", "type"]
METHODS = "naive,decay,kde,prospective,etas,gbm"


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args], env=ENV)


@pytest.fixture(scope="module")
def incidents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Self-exciting burglaries and thefts around Clermont-Ferrand, plus drug arrests."""
    grid = Grid.from_bounds(700_000, 6_515_000, 704_000, 6_519_000, cell_m=100, crs="EPSG:2154")
    mu = hotspot_background(grid, total_per_day=5.0, n_hotspots=5, seed=11)
    events = simulate_grid_hawkes(
        grid, mu_per_day=mu, theta=0.5, omega_per_day=0.3, start="2023-01-01", days=200, seed=12
    )
    rng = np.random.default_rng(13)
    events["type"] = rng.choice(["BURGLARY", "THEFT"], len(events))
    drugs = events.sample(300, random_state=1).assign(type="NARCOTICS")
    table = pd.concat([events, drugs]).sort_values("time")
    to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(table["x"].to_numpy(), table["y"].to_numpy())
    frame = pd.DataFrame(
        {
            "when": table["time"].dt.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "lon": np.round(lon, 8),
            "lat": np.round(lat, 8),
            "type": table["type"].to_numpy(),
            "arrest": "False",  # a person field in the file, never mapped: ignored
        }
    )
    file = tmp_path_factory.mktemp("cli") / "incidents.csv"
    frame.to_csv(file, index=False)
    return file


@pytest.fixture(scope="module")
def backtest_run(incidents: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest")
    result = invoke(
        "forecast", "backtest", "--csv", incidents, *INPUT, "--cell", "200",
        "--train-days", "120", "--horizon-days", "7", "--windows", "4",
        "--methods", METHODS, "--json", out / "report.json", "--export-grids", out / "grids",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "excluded enforcement-driven categories {'drugs': 300}" in result.output
    return out


def test_backtest_writes_the_report_and_grids(backtest_run: Path) -> None:
    report = json.loads((backtest_run / "report.json").read_text())
    meta = json.loads((backtest_run / "grids" / "grid.json").read_text())
    assert set(report["methods"]) == set(METHODS.split(","))
    for name, method in report["methods"].items():
        assert method["status"] == "ok", (name, method["error"])
        assert set(method["pooled"]) == {"1%", "2%", "5%", "10%", "20%"}
        for window in range(4):
            surface = np.load(backtest_run / "grids" / name / f"window_{window}.npy")
            assert surface.shape == (meta["ny"], meta["nx"])
    assert {"x0", "y0", "cell", "nx", "ny", "crs"} <= set(meta)
    assert meta["cell"] == 200
    assert len(meta["windows"]) == 4
    assert {"start", "end"} <= set(meta["windows"][0])
    assert report["import"]["n_used"] == report["import"]["n_accepted"] - 300
    # On self-exciting data the self-exciting model beats plain counts at 5 % coverage.
    etas, naive = report["methods"]["etas"], report["methods"]["naive"]
    assert etas["pooled"]["5%"]["hit_rate"] >= naive["pooled"]["5%"]["hit_rate"]
    assert etas["log_score"] > naive["log_score"]


def _independent_scores(
    incidents: Path, grids: Path, method: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Hit rates from the raw CSV and the exported surfaces, written from the definitions."""
    meta = json.loads((grids / "grid.json").read_text())
    raw = pd.read_csv(incidents)
    raw = raw[raw["type"] != "NARCOTICS"]  # what the CLI keeps for patrol forecasts
    to_grid = Transformer.from_crs("EPSG:4326", meta["crs"], always_xy=True)
    x, y = to_grid.transform(raw["lon"].to_numpy(), raw["lat"].to_numpy())
    col = np.floor((np.asarray(x) - meta["x0"]) / meta["cell"]).astype(int)
    row = np.floor((np.asarray(y) - meta["y0"]) / meta["cell"]).astype(int)
    times = pd.to_datetime(raw["when"], utc=True)
    valid = np.load(grids / "mask.npy")
    n_valid = int(valid.sum())
    hits: dict[str, float] = {}
    tie_mean: dict[str, float] = {}
    total = 0
    for window in meta["windows"]:
        inside = (times >= pd.Timestamp(window["start"])) & (times < pd.Timestamp(window["end"]))
        observed = np.zeros((meta["ny"], meta["nx"]))
        np.add.at(observed, (row[inside.to_numpy()], col[inside.to_numpy()]), 1)
        surface = np.load(grids / method / f"window_{window['index']}.npy")
        scores, counts = surface[valid], observed[valid]
        total += int(counts.sum())
        rng = np.random.default_rng([meta["seed"], window["index"]])
        for coverage in meta["coverages"]:
            key = f"{coverage * 100:g}%"
            k = math.floor(coverage * n_valid + 1e-9)
            noise = rng.random(n_valid)
            ranked = sorted(range(n_valid), key=lambda i: (-scores[i], noise[i]))
            hits[key] = hits.get(key, 0.0) + counts[ranked[:k]].sum()
            threshold = scores[ranked[k - 1]]
            above, tied = scores > threshold, scores == threshold
            share = (k - above.sum()) / tied.sum()
            tie_mean[key] = (
                tie_mean.get(key, 0.0) + counts[above].sum() + share * counts[tied].sum()
            )
    return (
        {key: value / total for key, value in hits.items()},
        {key: value / total for key, value in tie_mean.items()},
    )


@pytest.mark.parametrize("method", ["naive", "etas", "gbm"])
def test_exported_grids_reproduce_the_reported_hit_rates(
    incidents: Path, backtest_run: Path, method: str
) -> None:
    report = json.loads((backtest_run / "report.json").read_text())
    pooled: dict[str, Any] = report["methods"][method]["pooled"]
    hit_rates, tie_means = _independent_scores(incidents, backtest_run / "grids", method)
    for key, value in hit_rates.items():
        assert value == pytest.approx(pooled[key]["hit_rate"], abs=1e-12), key
        assert tie_means[key] == pytest.approx(pooled[key]["hit_rate_tie_mean"], abs=1e-9), key


def test_forecast_run_writes_flagged_cells(incidents: Path, tmp_path: Path) -> None:
    result = invoke(
        "forecast", "run", "--csv", incidents, *INPUT, "--cell", "200", "--train-days", "90",
        "--horizon-days", "7", "--method", "etas", "--coverage", "0.05",
        "--geojson", tmp_path / "top.geojson", "--npy", tmp_path / "surface.npy",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    collection = json.loads((tmp_path / "top.geojson").read_text())
    surface = np.load(tmp_path / "surface.npy")
    n_valid = collection["properties"]["grid"]["n_valid"]
    assert len(collection["features"]) == math.floor(0.05 * n_valid)
    assert collection["properties"]["categories"] == ["burglary", "theft"]
    assert "drugs" in collection["properties"]["enforcement_driven_excluded"]
    top = collection["features"][0]["properties"]
    assert top["expected"] == pytest.approx(surface.max(), abs=1e-4)
    assert top["lower_90"] <= top["expected"] <= top["upper_90"]


def test_data_import_reports_rejected_rows(incidents: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(incidents).head(200)
    raw.loc[4, "when"] = "not a date"
    raw.loc[7, "lon"] = np.nan
    raw.loc[9, "type"] = "SPACE PIRACY"
    file = tmp_path / "dirty.csv"
    raw.to_csv(file, index=False)
    result = invoke(
        "data", "import", file, *INPUT, "--out", tmp_path / "clean.parquet",
        "--report", tmp_path / "report.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["row"], r["reason"]) for r in report["rejected"]] == [
        (4, "unparseable date"),
        (7, "missing coordinates"),
        (9, "unknown category"),
    ]
    assert report["n_accepted"] == 197
    assert len(pd.read_parquet(tmp_path / "clean.parquet")) == 197


def test_stats_and_hotspots_commands(incidents: Path, tmp_path: Path) -> None:
    stats = invoke(
        "stats", "--csv", incidents, *INPUT, "--tz", "Europe/Paris", "--json",
        tmp_path / "stats.json", "--charts", tmp_path / "charts", "--knox",
        "--permutations", "19",
    )  # fmt: skip
    assert stats.exit_code == 0, stats.output
    summary = json.loads((tmp_path / "stats.json").read_text())
    assert summary["totals"]["category"]["drugs"] == 300  # statistics keep every category
    assert summary["knox"]["cells"][0]["ratio"] > 1  # self-exciting data: near repeats
    assert (tmp_path / "charts" / "hour_weekday.png").exists()
    hot = invoke(
        "hotspots", "--csv", incidents, *INPUT, "--cell", "200", "--json",
        tmp_path / "hot.json", "--geojson", tmp_path / "hot.geojson", "--map",
        tmp_path / "hot.svg",
    )  # fmt: skip
    assert hot.exit_code == 0, hot.output
    spots = json.loads((tmp_path / "hot.json").read_text())
    assert spots["gi_star"]["n_hot"] > 0
    assert spots["gi_star"]["correction"].startswith("Benjamini-Hochberg")
    assert len(json.loads((tmp_path / "hot.geojson").read_text())["features"]) > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--time-col", "date", "--lon-col", "lon", "--lat-col", "lat"], "'date' is not in"),
        (
            ["--time-col", "when", "--time-format", "%d/%m/%Y", "--lon-col", "lon",
             "--lat-col", "lat"],
            "--time-format",
        ),
        (
            ["--time-col", "when", "--x-col", "lon", "--y-col", "lat", "--crs", "EPSG:2154"],
            "the coordinates are in another CRS",
        ),
        ([*INPUT, "--categories", "robbery"], "no event has these categories"),
        ([*INPUT, "--methods", "naive,tarot"], "--methods"),
        ([*INPUT, "--train-days", "400"], "lower --train-days"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_fix(
    incidents: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    args = ["forecast", "backtest", "--csv", incidents, "--cell", "200", "--horizon-days", "7",
            "--windows", "2", "--json", tmp_path / "r.json", *options]  # fmt: skip
    if "--train-days" not in options:
        args += ["--train-days", "60"]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_too_few_events_exits_2(incidents: Path, tmp_path: Path) -> None:
    small = pd.read_csv(incidents).head(20)
    file = tmp_path / "small.csv"
    small.to_csv(file, index=False)
    result = invoke(
        "forecast", "backtest", "--csv", file, *INPUT, "--cell", "200", "--train-days", "1",
        "--horizon-days", "1", "--windows", "1", "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "at least 50 needed" in result.output
