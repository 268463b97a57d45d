"""The dispatch lifecycle from the command line, on a real migrated database."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from arverne.cli import app

runner = CliRunner()


def _run(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"ARVERNE_DATABASE_URL": url, "COLUMNS": "200"})
    return result.exit_code, result.output


def test_lifecycle_from_the_terminal(migrated_database_url: str, tmp_path: Path) -> None:
    url = migrated_database_url
    assert _run(url, "unit", "add", "PS-1", "--type", "car", "--station", "3.083,45.777")[0] == 0
    assert _run(url, "unit", "add", "PS-2", "--type", "car", "--station", "3.090,45.800")[0] == 0
    for sign in ("PS-1", "PS-2"):
        assert _run(url, "unit", "status", sign, "available")[0] == 0
    code, out = _run(url, "incident", "create", "--type", "fight", "--at", "3.100,45.779")
    assert code == 0, out
    assert "P1" in out
    code, out = _run(url, "incident", "recommend", "1")
    assert code == 0, out
    assert out.index("PS-1") < out.index("PS-2")  # PS-1 is nearer
    code, out = _run(url, "incident", "dispatch", "1", "PS-1")
    assert code == 0, out
    assert "PS-1" in out
    # Illegal transition: exit 2 and the allowed statuses named.
    code, out = _run(url, "unit", "status", "PS-1", "off_duty")
    assert code == 2
    assert "allowed" in out
    assert _run(url, "unit", "status", "PS-1", "en_route")[0] == 0
    assert _run(url, "unit", "status", "PS-1", "on_scene")[0] == 0
    code, out = _run(url, "incident", "close", "1", "--disposition", "arrest")
    assert code == 0, out
    assert "closed" in out
    assert _run(url, "incident", "close", "1", "--disposition", "arrest")[0] == 2
    code, out = _run(url, "unit", "list")
    assert "Available" in out
    target = tmp_path / "log.csv"
    code, out = _run(url, "dutylog", "--incident", "1", "--csv", str(target))
    assert code == 0, out
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,time,author,kind")
    kinds = {line.split(",")[3] for line in lines[1:]}
    assert {"incident_created", "unit_dispatched", "incident_closed"} <= kinds


def test_bad_input_exits_2_naming_the_field(migrated_database_url: str) -> None:
    code, out = _run(migrated_database_url, "incident", "create", "--type", "theft", "--at", "oops")
    assert code == 2
    assert "--at" in out
    code, out = _run(
        migrated_database_url, "incident", "create", "--type", "nope", "--at", "3.08,45.77"
    )
    assert code == 2
    assert "type_code" in out
    code, out = _run(
        migrated_database_url, "incident", "create", "--type", "theft", "--at", "2.35,48.85"
    )
    assert code == 2
    assert "outside" in out
    code, out = _run(migrated_database_url, "unit", "status", "NOPE", "available")
    assert code == 2
