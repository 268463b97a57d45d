"""The blocking PostgreSQL connections a process's event loop uses for its short work.

Reads, short writes and batches of intakes run on the event loop, their statements sent
one after another while the loop waits (:class:`arverne.store.batch.GroupCommit`). Each
kind has a connection of its own, kept, with time limits set by the server: a statement
slower than :data:`LOOP_READ_TIMEOUT_MS` is cancelled rather than stall every request of
the process, and a write waits :data:`LOOP_WRITE_LOCK_MS` at most for a row lock (a
transaction of this very process, suspended on the blocked loop, could never release
it) before it gives way: rolled back, to be run again awaited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from arverne.store.session import ping_when_idle

__all__ = [
    "LOOP_READ_TIMEOUT_MS",
    "LOOP_WRITE_LOCK_MS",
    "LoopEngines",
    "WriteGaveWayError",
    "in_own_transaction",
]

T = TypeVar("T")
# A job run on the event loop holds the loop while the database answers: a statement
# slower than this is cancelled by the database (and a lock waited for longer fails); a
# database that stops answering is given up after about this long plus a few seconds.
LOOP_READ_TIMEOUT_MS = 2000
# A write run on the event loop waits this long at most for a row lock.
LOOP_WRITE_LOCK_MS = 20
_GIVE_WAY = {"55P03", "57014"}  # lock_not_available, query_canceled (statement limit)


class WriteGaveWayError(Exception):
    """A write run on the loop met a row lock (or its time limit): it was rolled back,
    nothing was written; run it again awaited."""


def in_own_transaction(
    factory: sessionmaker[Session], connection: Connection, work: Callable[[Session], T]
) -> T:
    """``work(session)`` on ``connection``, committed when it returns (if ``work`` did
    not commit), rolled back if it raises."""
    with factory(bind=connection) as session:
        result = work(session)
        if session.in_transaction():
            session.commit()
        return result


class LoopEngines:
    """One blocking engine per kind of work run on the loop, made on first use."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._made: dict[str, Engine] = {}

    def reads(self) -> Engine:
        """For read-only routes (they wait for no row lock but the chain head's).

        In autocommit: each statement reads a snapshot of its own, as it would in a
        READ COMMITTED transaction, without the ``BEGIN`` and ``COMMIT`` round trips (two
        of a recommendation's four). The audit entry of an audited read is written by
        one statement, committed with it.
        """
        return self._get("reads", LOOP_READ_TIMEOUT_MS, autocommit=True)

    def writes(self) -> Engine:
        """For short write routes: a row lock is waited for a moment only."""
        return self._get("writes", LOOP_WRITE_LOCK_MS)

    def batches(self) -> Engine:
        """For batches of intakes (they lock no row another process holds for long)."""
        return self._get("batches", LOOP_READ_TIMEOUT_MS)

    def run_write(self, factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
        """Run ``work`` in its own transaction on the writes' connection.

        Raises
        ------
        WriteGaveWayError
            It waited :data:`LOOP_WRITE_LOCK_MS` for a row lock (or met the statement
            limit): rolled back, nothing written.
        """
        try:
            with self.writes().connect() as connection:
                return in_own_transaction(factory, connection, work)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) in _GIVE_WAY:
                raise WriteGaveWayError from exc
            raise

    def dispose(self) -> None:
        """Close every connection made."""
        for engine in self._made.values():
            engine.dispose()
        self._made.clear()

    def _get(self, kind: str, lock_ms: int, *, autocommit: bool = False) -> Engine:
        if kind not in self._made:
            limit = LOOP_READ_TIMEOUT_MS
            self._made[kind] = engine = create_engine(
                self._engine.url,
                pool_size=1,
                max_overflow=1,  # never waited for: one job at a time per loop
                echo=self._engine.echo,  # ARVERNE_SQL_ECHO covers these engines too
                isolation_level="AUTOCOMMIT" if autocommit else None,
                connect_args={
                    # The server cancels a slow statement or lock wait...
                    "options": f"-c statement_timeout={limit} -c lock_timeout={lock_ms}",
                    # ...and a server that no longer answers at all (network cut) is
                    # given up within seconds, not the minutes TCP would wait.
                    "connect_timeout": max(1, limit // 1000),
                    "tcp_user_timeout": limit,
                    "keepalives_idle": max(1, limit // 1000),
                    "keepalives_interval": 1,
                    "keepalives_count": 3,
                },
            )
            ping_when_idle(engine)
        return self._made[kind]
