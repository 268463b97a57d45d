"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), app, clients.

Every store-touching test runs once on SQLite and once on PostgreSQL when
``ARVERNE_TEST_DATABASE_URL`` is set (CI sets it; with ``CI=true`` a missing URL fails
the run instead of skipping). Each test runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Environment, Settings
from arverne.store import migrate
from arverne.store.session import make_engine, normalise_url
from arverne.web.app import create_app

TEST_SECRET = "test-secret-key-that-is-long-enough-for-production-0123456789"
PG_ENV = "ARVERNE_TEST_DATABASE_URL"
BACKENDS = ["sqlite", "postgresql"]


def _pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    url = normalise_url(url)
    name = make_url(url).database or ""
    if "test" not in name:
        pytest.fail(f"{PG_ENV} must name a throw-away database containing 'test' (got {name!r})")
    return url


def _reset_pg_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the session's migrated test database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'arverne.db'}"
    url = _pg_base_url()
    _reset_pg_schema(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Engine on the session database, migrated to head with Alembic."""
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    """Sessions whose commits become savepoints of the test transaction."""
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in the rolled-back test transaction."""
    sess = session_factory()
    yield sess
    sess.close()


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests (production-grade secret, secure cookies)."""
    values: dict[str, object] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "cookie_secure": True,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings on the session database."""
    return make_settings(database_url)


def app_client(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """Yield an HTTP client on an app built with ``settings`` (for fixtures)."""
    app = create_app(settings, engine=engine, session_factory=session_factory)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def client(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """HTTP client on an app whose requests run in the test transaction."""
    yield from app_client(settings, engine, session_factory)


@pytest.fixture
def fresh_database_url(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """An empty, separate database (not migrated) for tests that need real commits."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base = _pg_base_url()
    name = f"{make_url(base).database}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migrated_database_url(fresh_database_url: str) -> str:
    """A separate database migrated to head, for CLI and concurrency tests."""
    eng = make_engine(fresh_database_url)
    migrate.upgrade(eng)
    eng.dispose()
    return fresh_database_url


@pytest.fixture
def real_engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on a database of its own, where commits are real."""
    engine = make_engine(migrated_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def small_city_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a small generated city pack (5 x 5 streets, two districts), built once."""
    import json

    from arverne.geo.pack import build_pack
    from tests.unit.geo.town import districts_geojson, write_town_osm

    work = tmp_path_factory.mktemp("small-city")
    districts = work / "districts.geojson"
    districts.write_text(json.dumps(districts_geojson()), encoding="utf-8")
    return build_pack(
        write_town_osm(work / "town.osm"),
        name="Testville",
        out_dir=work / "pack",
        districts=districts,
    )


T = TypeVar("T")


def run_in_new_loop(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``scenario()`` on a fresh event loop in a thread of its own.

    (Some tests of the suite leave an event loop running in the main thread.)
    """
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(asyncio.run(scenario())))
    thread.start()
    thread.join(30)
    assert results, "the scenario failed; see the thread's traceback above"
    return results[0]


def at_once(count: int, work: Callable[[], T]) -> list[T]:
    """Run ``work`` in ``count`` threads released together; return their results.

    The first error a thread raised is raised here; a thread still running after 60 s
    fails the test.
    """
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as exc:  # raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    assert len(results) == count, "a thread did not finish within 60 s"
    return results
