"""``arverne simulate``: reports, compare mode, determinism, bad input, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner, Result

from arverne.cli import app

runner = CliRunner()
ENV = {"COLUMNS": "200"}


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, ["simulate", *[str(a) for a in args]], env=ENV)


def test_run_writes_json_and_html(tmp_path: Path) -> None:
    result = invoke(
        "--days", "3", "--units", "10", "--rate", "120", "--seed", "4", "--out", tmp_path / "run"
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["partial"] is False
    assert report["plans"][0]["n_units"] == 10
    assert "<svg" in (tmp_path / "run.html").read_text()
    again = invoke(
        "--days",
        "3",
        "--units",
        "10",
        "--rate",
        "120",
        "--seed",
        "4",
        "--out",
        tmp_path / "again.json",
    )
    assert again.exit_code == 0
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "run.json").read_bytes()
    assert (tmp_path / "again.html").read_bytes() == (tmp_path / "run.html").read_bytes()


def test_compare_two_plans_on_same_calls(tmp_path: Path) -> None:
    result = invoke(
        "--days",
        "3",
        "--units",
        "12",
        "--compare",
        "8",
        "--compare-policy",
        "beat",
        "--rate",
        "150",
        "--out",
        tmp_path / "cmp",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "cmp.json").read_text())
    first, second = report["plans"]
    assert (first["n_units"], second["n_units"]) == (12, 8)
    assert second["policy"] == "beat"
    assert first["calls"] == second["calls"] == report["scenario"]["calls"]
    single = invoke("--days", "3", "--units", "12", "--rate", "150", "--out", tmp_path / "one")
    assert single.exit_code == 0
    alone = json.loads((tmp_path / "one.json").read_text())
    assert alone["scenario"]["calls_digest"] == report["scenario"]["calls_digest"]
    assert alone["plans"][0] == first


def test_calls_file_calibration(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=400, freq="37min")
    frame = pd.DataFrame(
        {
            "when": times.strftime("%Y-%m-%d %H:%M"),
            "kind": ["fight", "theft", "noise", "theft"] * 100,
            "prio": [1, 3, 3, 3] * 100,
        }
    )
    csv = tmp_path / "calls.csv"
    frame.to_csv(csv, index=False)
    result = invoke(
        "--calls",
        csv,
        "--time-col",
        "when",
        "--type-col",
        "kind",
        "--priority-col",
        "prio",
        "--days",
        "2",
        "--units",
        "6",
        "--out",
        tmp_path / "c",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text())
    assert {c["name"] for c in report["scenario"]["call_types"]} == {"fight", "theft", "noise"}
    replay = invoke(
        "--calls",
        csv,
        "--time-col",
        "when",
        "--type-col",
        "kind",
        "--replay",
        "--days",
        "2",
        "--units",
        "6",
        "--out",
        tmp_path / "r",
    )
    assert replay.exit_code == 0, replay.output
    assert json.loads((tmp_path / "r.json").read_text())["scenario"]["calls"] == 78


def test_bad_input_exits_2_before_running(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cases = [
        (["--calls", empty, "--time-col", "when"], "--calls"),
        (["--rate", "-5"], "--rate"),
        (["--policy", "random"], "--policy"),
        (["--require", "violence=dog"], "violence"),
        (["--units", "0"], "--units"),
        (["--days", "0"], "--days"),
    ]
    for args, option in cases:
        result = invoke(*args, "--out", tmp_path / "x")
        assert result.exit_code == 2, (args, result.output)
        assert option in result.output
    assert not (tmp_path / "x.json").exists()


def test_validate_quick_prints_table() -> None:
    result = invoke("--validate", "--quick", "--workers", "1")
    assert "Simulator vs queueing theory" in result.output
    assert "M/M/2" in result.output
    assert "hypercube" in result.output
    assert result.exit_code == 0, result.output
