"""Group commit: the write requests of one process share a SQLite transaction.

SQLite lets one transaction write at a time, across all server processes. Each request
writing in a transaction of its own pays for the hand-over of the write lock (and, on the
event loop, may stall the loop while another process holds it), for ``BEGIN IMMEDIATE``,
for the commit and for the audit chain's head. :class:`GroupCommit` queues the write
parts of requests instead; one task per burst waits for the writer gate without blocking
the event loop (more requests queue meanwhile), then runs every queued job in one
transaction, each job in a savepoint of its own, and commits once.

Each job stays all-or-nothing: it runs in a :class:`~sqlalchemy.orm.Session` joined to
the shared connection with ``join_transaction_mode="create_savepoint"``, so its commit
releases its savepoint (the audit entries and live events it queued are chained and
written then) and an error rolls back that savepoint only; the other jobs go on. No job's
caller hears of success before the shared transaction has committed; if that commit
fails, every job of the batch fails with its error and nothing of the batch is stored.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from arverne.store.gate import WriterGate, writer_gate_held
from arverne.store.session import IN_SHARED_TRANSACTION

logger = logging.getLogger("arverne.store")
T = TypeVar("T")
# Jobs of one transaction at most: bounds how long the write lock is held at a time.
MAX_BATCH = 64
_GROUP_KEY = "arverne.group_commit"  # Session.info key: the group commit of a request


@dataclasses.dataclass(slots=True)
class _Job(Generic[T]):
    work: Callable[[Session], T]
    future: asyncio.Future[T]


@dataclasses.dataclass(slots=True)
class BatchStats:
    """Counters of a :class:`GroupCommit` (for benchmarks and tests)."""

    batches: int = 0
    jobs: int = 0
    failed_jobs: int = 0
    largest: int = 0


class GroupCommit:
    """Run write jobs of one event loop in shared transactions of a gated SQLite engine.

    Parameters
    ----------
    factory
        The session factory of the application (sessions are made from it, bound to the
        batch's connection).
    gate
        The writer gate of ``engine``.
    engine
        The SQLite engine the batches write to.
    """

    def __init__(self, factory: sessionmaker[Session], gate: WriterGate, engine: Engine) -> None:
        self._factory = factory
        self._gate = gate
        self._engine = engine
        self._queue: collections.deque[_Job[Any]] = collections.deque()
        self._drainer: asyncio.Task[None] | None = None
        self.stats = BatchStats()

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in the next shared transaction; return once it committed.

        ``work`` runs on the event loop, with the write lock held: keep it to writes and
        the reads they need. Its session's commit releases its savepoint (a route's
        usual single commit at the end); an exception it raises rolls back what it wrote
        since, never another job's writes, and is raised here.
        """
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(work, loop.create_future())
        self._queue.append(job)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await job.future

    async def _drain(self) -> None:
        while self._queue:
            batch: list[_Job[Any]] = []
            try:
                async with writer_gate_held(self._gate):  # queued jobs pile up meanwhile
                    batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                    outcomes = self._run_batch(batch)
            except Exception as exc:  # e.g. the gate timed out: these jobs wrote nothing
                if not batch:
                    batch = list(self._queue)
                    self._queue.clear()
                outcomes = [(job, None, exc) for job in batch]
            for job, result, error in outcomes:
                if job.future.done():  # the request was cancelled (client gone)
                    continue
                if error is not None:
                    job.future.set_exception(error)
                else:
                    job.future.set_result(result)

    def _run_batch(
        self, batch: list[_Job[Any]]
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        """Run ``batch`` in one transaction (the gate is ours); commit; report each job."""
        done: list[tuple[_Job[Any], Any, BaseException | None]] = []
        with self._engine.connect() as connection:
            transaction = connection.begin()  # takes the gate held for us: BEGIN IMMEDIATE
            try:
                for job in batch:
                    done.append(self._run_job(connection, job))
                transaction.commit()
            except Exception as exc:  # the shared transaction is lost: so is every job
                if transaction.is_active:
                    transaction.rollback()
                _rollback_driver(connection)
                logger.exception("group commit of %d jobs failed", len(batch))
                self.stats.failed_jobs += len(batch)
                return [(job, None, exc) for job in batch]
        self.stats.batches += 1
        self.stats.jobs += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        self.stats.failed_jobs += sum(1 for _job, _result, error in done if error is not None)
        return done

    def _run_job(
        self, connection: Connection, job: _Job[Any]
    ) -> tuple[_Job[Any], Any, BaseException | None]:
        """Run one job in a savepoint; an error rolls back that savepoint only."""
        session = self._factory(bind=connection, join_transaction_mode="create_savepoint")
        session.info[IN_SHARED_TRANSACTION] = True  # no read phases: the lock is ours
        try:
            result = job.work(session)
            session.commit()  # releases the savepoint (audit entries are written now)
        except Exception as exc:
            session.rollback()  # to the savepoint; raises if the connection is unusable
            return job, None, exc
        finally:
            session.close()
        return job, result, None


def _rollback_driver(connection: Connection) -> None:
    """Roll back what SQLite may still hold open: a COMMIT that failed (a deferred
    foreign key, a full disk) leaves its transaction, and the write lock, in place."""
    driver = connection.connection.driver_connection
    if driver is not None and driver.in_transaction:
        driver.execute("ROLLBACK")


def attach(session: Session, group: GroupCommit) -> None:
    """Let the write routes of ``session``'s request run in ``group``."""
    session.info[_GROUP_KEY] = group


def group_commit_of(session: Session) -> GroupCommit | None:
    """Return the group commit attached to a request's session, if any."""
    group: GroupCommit | None = session.info.get(_GROUP_KEY)
    return group
