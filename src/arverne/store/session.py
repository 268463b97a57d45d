"""Engine and session factories.

SQLite runs in WAL mode with foreign keys on, and every transaction starts with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the database lock (with a busy
timeout) instead of failing when a read transaction later tries to write.
PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option for connections that only read (health probes, revision checks): on
# SQLite they begin a deferred transaction and so never wait for the write lock.
READ_ONLY = "arverne_read_only"


def normalise_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver named for PostgreSQL URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """Create an engine for ``url`` with the platform's connection settings.

    Parameters
    ----------
    url
        SQLAlchemy URL; ``sqlite:///file.db`` or ``postgresql+psycopg://...``.
    echo
        Log every SQL statement (debugging only).
    pool_size
        Connections kept open per process (PostgreSQL only).

    Returns
    -------
    Engine
        A configured engine; for SQLite the parent folder of the file is created.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions defer locks).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def begin_read_only(session: Session) -> None:
    """Make ``session``'s next transaction a deferred (reader) one on SQLite.

    Call it before the session's first statement; later writes still work, but wait for
    the write lock only when they happen.
    """
    options: Any = {READ_ONLY: True}
    session.connection(execution_options=options)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory used by the web app, the CLI and the tests.

    Every model module is imported first, so relationships between domains resolve
    whatever the caller happened to import.
    """
    from arverne.store.models import import_all_models

    import_all_models()
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
