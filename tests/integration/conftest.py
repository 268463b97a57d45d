"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from arverne.cli import app
from arverne.config import Settings
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user


@pytest.fixture
def sup(session: Session, settings: Settings) -> dict[str, str]:
    """Headers of a supervisor who also dispatches."""
    return bearer(
        make_token(session, settings, make_user(session, Role.SUPERVISOR, Role.DISPATCHER))
    )


Cli = Callable[..., tuple[int, str]]


@pytest.fixture
def cli(migrated_database_url: str) -> Cli:
    """Run ``arverne ARGS...`` on the migrated test database; return (exit code, output)."""
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        env = {"ARVERNE_DATABASE_URL": migrated_database_url, "COLUMNS": "200"}
        result = runner.invoke(app, list(args), env=env)
        return result.exit_code, result.output

    return run
