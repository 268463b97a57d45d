"""Calibrating the simulator on the platform's own history (`arverne simulate --history`)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from arverne.cli import app
from arverne.demo.world import seed_history
from arverne.geo.pack import load_pack
from arverne.store.session import make_engine, make_sessionmaker, session_scope

runner = CliRunner()


def test_simulate_from_history(
    migrated_database_url: str, tmp_path: Path, small_city_pack: Path
) -> None:
    pack = load_pack(small_city_pack)
    engine = make_engine(migrated_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        seeded = seed_history(session, pack, years=0.2, seed=3)
    engine.dispose()
    env = {"ARVERNE_DATABASE_URL": migrated_database_url, "COLUMNS": "200"}
    out = tmp_path / "report"
    args = ["simulate", "--history", "120", "--days", "10", "--units", "4", "--out", str(out)]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_suffix(".json").read_text())
    calls = report["plans"][0]["calls"]
    # The history has about 70 incidents a day; ten simulated days bring as many.
    per_day = seeded / (0.2 * 365.25)
    assert 40 < per_day < 110
    assert 0.6 * per_day * 10 < calls < 1.4 * per_day * 10
    both = runner.invoke(app, [*args, "--calls", str(out.with_suffix(".json"))], env=env)
    assert both.exit_code == 2
    assert "--history/--calls" in both.output
    empty = runner.invoke(app, ["simulate", "--history", "-3", "--out", str(out)], env=env)
    assert empty.exit_code == 2
