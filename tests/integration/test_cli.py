"""The command line: accounts, migrations, demo seeding, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from arverne.cli import app
from arverne.store.session import make_engine

runner = CliRunner()


def _env(url: str) -> dict[str, str]:
    return {"ARVERNE_DATABASE_URL": url, "COLUMNS": "200"}


def test_db_upgrade_and_current(fresh_database_url: str) -> None:
    env = _env(fresh_database_url)
    before = runner.invoke(app, ["db", "current"], env=env)
    assert "needs `arverne db upgrade`" in before.output
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert "up to date" in runner.invoke(app, ["db", "current"], env=env).output


def test_commands_refuse_an_unmigrated_database(fresh_database_url: str) -> None:
    result = runner.invoke(app, ["user", "list"], env=_env(fresh_database_url))
    assert result.exit_code == 2
    assert "arverne db upgrade" in result.output


def test_user_lifecycle(migrated_database_url: str) -> None:
    env = _env(migrated_database_url)
    add = runner.invoke(
        app,
        [
            "user",
            "add",
            "durand",
            "--name",
            "Paul Durand",
            "--role",
            "dispatcher",
            "--role",
            "officer",
            "--password-stdin",
        ],
        input="a long passphrase\n",
        env=env,
    )
    assert add.exit_code == 0, add.output
    listing = runner.invoke(app, ["user", "list"], env=env)
    assert "durand" in listing.output
    assert "dispatcher, officer" in listing.output
    assert runner.invoke(app, ["user", "disable", "durand"], env=env).exit_code == 0
    reset = runner.invoke(app, ["user", "reset-password", "durand", "--generate"], env=env)
    assert reset.exit_code == 0
    assert "password:" in reset.output
    engine = make_engine(migrated_database_url)
    with engine.connect() as conn:  # a generated password is handed over: temporary
        flag = conn.execute(
            text("SELECT must_change_password FROM users WHERE username = 'durand'")
        ).scalar_one()
    engine.dispose()
    assert bool(flag) is True
    token = runner.invoke(app, ["user", "token", "durand", "--name", "ci"], env=env)
    assert "arv_" in token.output
    ended = runner.invoke(app, ["user", "end-sessions", "durand"], env=env)
    assert ended.exit_code == 0, ended.output
    assert "0 session(s) of durand ended" in ended.output
    unlock = runner.invoke(app, ["user", "unlock", "durand"], env=env)
    assert unlock.exit_code == 0, unlock.output
    assert "durand unlocked" in unlock.output
    assert "never" in runner.invoke(app, ["user", "list"], env=env).output  # no sign-in yet
    # The only administrator is kept: disabling them is refused, exit code 2.
    chef = runner.invoke(
        app, ["user", "add", "chef", "--name", "C", "--role", "admin", "--generate"], env=env
    )
    assert chef.exit_code == 0, chef.output
    last = runner.invoke(app, ["user", "disable", "chef"], env=env)
    assert last.exit_code == 2
    assert "last active administrator" in last.output
    assert runner.invoke(app, ["audit", "verify"], env=env).exit_code == 0


def test_bad_arguments_exit_2_with_a_message(migrated_database_url: str) -> None:
    env = _env(migrated_database_url)
    bad_role = runner.invoke(
        app, ["user", "add", "x1", "--name", "X", "--role", "chief", "--generate"], env=env
    )
    assert bad_role.exit_code == 2
    assert "chief" in bad_role.output
    short = runner.invoke(
        app,
        ["user", "add", "x2", "--name", "X", "--role", "officer", "--password-stdin"],
        input="short\n",
        env=env,
    )
    assert short.exit_code == 2
    assert "password" in short.output
    dup = runner.invoke(
        app, ["user", "add", "x3", "--name", "X", "--role", "officer", "--generate"], env=env
    )
    assert dup.exit_code == 0
    again = runner.invoke(
        app, ["user", "add", "x3", "--name", "X", "--role", "officer", "--generate"], env=env
    )
    assert again.exit_code == 2
    assert "already taken" in again.output
    missing = runner.invoke(app, ["user", "disable", "nobody"], env=env)
    assert missing.exit_code == 2


def test_bad_settings_exit_2(migrated_database_url: str) -> None:
    env = {**_env(migrated_database_url), "ARVERNE_ENV": "production", "ARVERNE_SECRET_KEY": ""}
    result = runner.invoke(app, ["user", "list"], env=env)
    assert result.exit_code == 2
    assert "ARVERNE_SECRET_KEY" in result.output


@pytest.fixture(scope="module")
def small_pack(small_city_pack: Path) -> Path:
    return small_city_pack


def test_demo_seed_is_idempotent(fresh_database_url: str, small_pack: Path) -> None:
    env = {**_env(fresh_database_url), "ARVERNE_CITY_PACK": str(small_pack)}
    first = runner.invoke(app, ["demo", "seed", "--history-years", "0.05"], env=env)
    assert first.exit_code == 0, first.output
    assert "9 created" in first.output
    assert "units: 34 created" in first.output
    second = runner.invoke(app, ["demo", "seed", "--history-years", "0.05"], env=env)
    assert "demo accounts: 0 created" in second.output
    assert "units: 0 created; past incidents: 0" in second.output
    assert "arverne-demo" in second.output


def test_help_everywhere() -> None:
    for args in (
        ["--help"],
        ["user", "--help"],
        ["db", "--help"],
        ["audit", "--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["user", "add", "--help"],
    ):
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.output)
