"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from arverne.cli import app
from arverne.config import Settings
from arverne.dispatch.citypack import RoadCity
from arverne.geo.pack import load_pack
from arverne.security.policy import Role
from arverne.web.app import create_app
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


@pytest.fixture(scope="session")
def road_city(small_city_pack: Path) -> RoadCity:
    """The small test town as the city model (geocoder, roads, two districts)."""
    return RoadCity(load_pack(small_city_pack))


@pytest.fixture
def town_client(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], road_city: RoadCity
) -> Iterator[TestClient]:
    """HTTP client, in the test transaction, on an app serving the test town."""
    app = create_app(settings, engine=engine, session_factory=session_factory, city=road_city)
    with TestClient(app, base_url="https://testserver") as client:
        yield client
