"""Fixtures shared by the integration tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
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
from arverne.store.session import make_engine, make_sessionmaker
from arverne.web.app import create_app
from tests.conftest import TEST_SECRET, make_settings
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers(migrated_database_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """Two ``arverne serve`` processes on the same database, and a dispatcher token."""
    engine = make_engine(migrated_database_url)
    with make_sessionmaker(engine)() as session:
        token = make_token(
            session, make_settings(migrated_database_url), make_user(session, Role.DISPATCHER)
        )
    engine.dispose()
    env = {
        **os.environ,
        "ARVERNE_DATABASE_URL": migrated_database_url,
        "ARVERNE_SECRET_KEY": TEST_SECRET,
        "ARVERNE_ENV": "test",
        "ARVERNE_LOG_LEVEL": "WARNING",
    }
    urls, procs = [], []
    for name in ("a", "b"):
        port = _free_port()
        log = (tmp_path / f"server-{name}.log").open("w")
        procs.append(
            subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "arverne.cli", "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            for _ in range(150):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"server {url} did not start: {list(tmp_path.glob('*.log'))}")
        yield urls[0], urls[1], token
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
