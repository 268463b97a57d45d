"""Engine and session factories.

SQLite runs in WAL mode with foreign keys on, and every transaction starts with
``BEGIN IMMEDIATE`` so that concurrent writers queue on the database lock instead of
failing when a read transaction later tries to write. Writers first pass a
:class:`~arverne.store.gate.WriterGate` (a thread lock plus advisory file locks beside
the database), so a waiting writer starts the moment the previous one commits, in this
process or another, instead of sleeping in SQLite's busy-handler back-off. PostgreSQL is
reached through psycopg 3.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from arverne.store.gate import WriterGate, attach_gate

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option for connections that only read (health probes, revision checks): on
# SQLite they begin a deferred transaction and so never wait for the write lock.
READ_ONLY = "arverne_read_only"
# PostgreSQL: a pooled connection idle for longer than this is checked (a round trip)
# before it is handed out; one used more recently is handed out as it is.
IDLE_PING_S = 2.0
_IDLE_SINCE = "arverne_idle_since"


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
        gate = None
        if database and database != ":memory:" and not database.startswith("file:"):
            gate = WriterGate(Path(f"{database}-writer.lock"), SQLITE_BUSY_TIMEOUT_MS / 1000)
            attach_gate(engine, gate)
        _configure_sqlite(engine, gate)
        return engine
    engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    ping_when_idle(engine)
    return engine


def ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before handing it out only if it has been idle.

    A connection idle for :data:`IDLE_PING_S` or more is pinged first; if the database
    no longer answers on it (restarted, connection cut), it is replaced by a new one, as
    SQLAlchemy's ``pool_pre_ping`` does. Pinging every connection on every checkout cost
    a round trip per transaction: a sixth of a recommendation's time on the event loop,
    measured under load. A connection lost while in use fails its transaction, as it
    would with a ping too.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)  # none on a connection made for this checkout
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError from exc  # the pool replaces it and tries again


_GATE_HELD = "arverne_writer_gate"


def _driver_begin(connection: Any, statement: str) -> None:
    # Straight to the driver: BEGIN returns nothing, and going through SQLAlchemy's
    # execution path costs more than the statement itself (twice per write request).
    connection.connection.driver_connection.execute(statement)


def _configure_sqlite(engine: Engine, gate: WriterGate | None) -> None:
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
            _driver_begin(connection, "BEGIN")
            return
        if gate is not None and not connection.info.get(_GATE_HELD):
            gate.acquire()
            connection.info[_GATE_HELD] = True
        try:
            _driver_begin(connection, "BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    def _release(connection: Any, *_args: Any) -> None:
        if gate is not None and connection.info.pop(_GATE_HELD, False):
            gate.release()

    # Released as COMMIT/ROLLBACK is sent: the next writer's BEGIN IMMEDIATE may wait a
    # moment for the commit to finish (SQLite's busy handler covers that).
    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # Safety net: a connection never goes back to the pool holding the gate.
        if gate is not None and record is not None and record.info.pop(_GATE_HELD, False):
            gate.release()


def begin_read_only(session: Session) -> None:
    """Make ``session``'s next transaction a deferred (reader) one on SQLite.

    Call it before the session's first statement; later writes still work, but wait for
    the write lock only when they happen.
    """
    options: Any = {READ_ONLY: True}
    session.connection(execution_options=options)


# Session.info key of sessions that run in a shared transaction (arverne.store.batch):
# the read phases below leave them alone.
IN_SHARED_TRANSACTION = "arverne.in_shared_transaction"
# Session.info key of a job's list in a group commit: the rows its commit would chain and
# write (audit entries, live events) go there, and are written once for the whole batch.
BATCH_ROWS = "arverne.batch_rows"


def begin_read_phase(session: Session) -> None:
    """Start a read-only phase if no transaction is open (see :func:`end_read_phase`)."""
    if not session.in_transaction() and not session.info.get(IN_SHARED_TRANSACTION):
        begin_read_only(session)


def end_read_phase(session: Session) -> None:
    """End a read-only SQLite transaction that wrote nothing, before the writes start.

    The next statement then begins a write transaction (``BEGIN IMMEDIATE``), so the
    database's single write lock is held only while writing. Anything else is left
    alone: a transaction that already wrote (or a PostgreSQL one, where reads never
    block writers) goes on, so a flow stays one transaction.

    A read that is audited (personal data) writes its audit entry at commit: such a
    request ends its read phase *before* reading. A SQLite read transaction cannot become
    a write transaction once another connection has committed since it began ("database
    is locked" at once, whatever the busy timeout), which happens when the browser sends
    several requests together.
    """
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if session.info.get(IN_SHARED_TRANSACTION):  # a savepoint of a group commit
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite" and connection.get_execution_options().get(READ_ONLY):
        session.commit()


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
