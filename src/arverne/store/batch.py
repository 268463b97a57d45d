"""Group commit: the write requests of one process share a transaction.

Each request writing in a transaction of its own pays for ``BEGIN``, for the commit (a
WAL sync) and for the audit chain's head, which every writer of every process locks in
turn. On SQLite it also pays for the hand-over of the single write lock (and, on the event
loop, may stall the loop while another process holds it). :class:`GroupCommit` queues
the write parts of requests instead; one task per burst runs every queued job in one
transaction, each job in a savepoint of its own, and commits once:

* on a gated SQLite file the batch runs on the event loop, once the task has waited for
  the writer gate without blocking the loop (more requests queue meanwhile);
* on PostgreSQL it runs on the event loop too, on a blocking connection: the loop
  waits while the database answers, when the batch's turn comes
  (:mod:`arverne.store.turns`: after the reads, before the other writes). A worker
  thread would have to win the interpreter lock back after every statement, against
  the loop's busy thread: measured, that wait was most of a batch's time; awaiting each
  statement instead (an asyncio engine) cost a quarter more CPU per request and put
  the batch back at the end of the loop's queue after every statement. The batches of
  the processes run side by side, and only their final chain write and commit take
  turns. While jobs keep coming, batches follow each other on one connection, and the
  loop gets a turn before each one so that requests already received join it (under
  load about four intakes per commit instead of two).

The short routes that must not share a transaction (they lock rows: dispatch, status
changes, closure) run on the loop the same way, each in a transaction of its own
(:meth:`GroupCommit.write_on_loop`); one that meets a row lock held elsewhere gives way
after a moment and is run again awaited (:meth:`GroupCommit.run_alone`), so the loop
never waits long for another transaction (:mod:`arverne.store.onloop`).

Each job stays all-or-nothing: it runs in a :class:`~sqlalchemy.orm.Session` joined to
the shared connection with ``join_transaction_mode="create_savepoint"``, so its commit
releases its savepoint and an error rolls back that savepoint only; the other jobs go on.
The audit entries and live events the jobs queued are kept aside (``BATCH_ROWS``) and
handed to ``finish`` once every job has run, which chains and writes them all under one
lock of the chain's head. No job's caller hears of success before the shared transaction
has committed; if that commit fails, every job of the batch fails with its error and
nothing of the batch is stored.

Jobs queued with :meth:`GroupCommit.run_together` go further: the items of those that
share a handler are handled in one call (intake: a few statements for the whole batch,
:mod:`arverne.dispatch.take`), in one savepoint; if the call raises, each item is
handled again alone, in a savepoint of its own. On PostgreSQL, when that call is the
whole batch (intakes under load), it runs in the transaction itself, two round trips
fewer; if it raises, the transaction is rolled back and its items are taken again one
by one in a new one.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from arverne.store.gate import WriterGate, writer_gate_held
from arverne.store.onloop import (
    LoopEngines,
    WriteGaveWayError,
    in_own_transaction,
)
from arverne.store.session import BATCH_ROWS, IN_SHARED_TRANSACTION
from arverne.store.together import ReadsTogether, Together
from arverne.store.turns import BATCH, READ, WRITE, Turns

logger = logging.getLogger("arverne.store")
T = TypeVar("T")
# Jobs of one transaction at most: bounds how long the write lock is held at a time.
MAX_BATCH = 64
# PostgreSQL: connections of a process for jobs run alone (run_alone), one each, plus
# one spare (batches, reads and short writes have blocking connections of their own).
ALONE_CONNECTIONS = 8
_GROUP_KEY = "arverne.group_commit"  # Session.info key: the group commit of a request


@dataclasses.dataclass(slots=True)
class _Job(Generic[T]):
    work: Callable[[Session], T]
    future: asyncio.Future[T]
    together: Together | None = None
    item: Any = None


@dataclasses.dataclass(slots=True)
class BatchStats:
    """Counters of a :class:`GroupCommit` (for benchmarks and tests)."""

    batches: int = 0
    jobs: int = 0
    failed_jobs: int = 0
    largest: int = 0
    together: int = 0  # jobs whose items were handled in one call
    apart: int = 0  # jobs taken again one by one after such a call failed
    alone: int = 0  # jobs run in transactions of their own (run_alone)
    reads: int = 0  # read-only jobs run on the loop, blocking (run_read)
    writes: int = 0  # short write jobs run on the loop, blocking (run_write)
    gave_way: int = 0  # of those, rolled back on a lock wait and run again awaited


class GroupCommit:
    """Run write jobs of one event loop in shared transactions.

    Parameters
    ----------
    factory
        The session factory of the application (sessions are made from it, bound to the
        batch's connection).
    engine
        The engine the batches write to.
    gate
        The writer gate of a gated SQLite ``engine``: batches then run with the gate
        held. ``None`` (PostgreSQL): batches run on an asyncio engine to the same
        database (one connection, made on first use in the running event loop).
    finish
        Called as ``finish(session, rows)`` once every job of a batch has run, with the
        rows (audit entries, live events) the jobs' sessions set aside under
        ``BATCH_ROWS``, in job order; it writes them in the shared transaction. Without
        it each job writes its own rows as its savepoint is released.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        engine: Engine,
        *,
        gate: WriterGate | None = None,
        finish: Callable[[Session, list[Any]], None] | None = None,
    ) -> None:
        self._factory = factory
        self._gate = gate
        self._engine = engine
        self._finish = finish
        self._async: tuple[asyncio.AbstractEventLoop, AsyncEngine] | None = None
        self._loop = LoopEngines(engine)  # blocking connections for work on the loop
        self.turns = Turns()  # the order of the blocking work on the loop (PostgreSQL)
        self.reads_together = ReadsTogether(self.turns, self.run_read)
        self._queue: collections.deque[_Job[Any]] = collections.deque()
        self._drainer: asyncio.Task[None] | None = None
        self.stats = BatchStats()

    @property
    def for_every_write(self) -> bool:
        """Whether any short write route may join the batches (gated SQLite, one writer
        at a time anyway); on PostgreSQL only routes that lock no rows do (intake): a
        shared transaction would hold a route's row locks for the whole batch, and two
        processes' batches could wait for each other's."""
        return self._gate is not None

    async def aclose(self) -> None:
        """Close the PostgreSQL connections of batches and jobs run alone (at shutdown)."""
        self._loop.dispose()
        if self._async is not None:
            loop, engine = self._async
            self._async = None
            if loop is asyncio.get_running_loop():
                await engine.dispose()
            else:  # made in a loop that has ended (tests): drop it without I/O
                await engine.dispose(close=False)

    def _async_engine(self) -> AsyncEngine:
        loop = asyncio.get_running_loop()
        if self._async is not None and self._async[0] is not loop:
            self._async[1].sync_engine.dispose(close=False)  # its loop has ended
            self._async = None
        if self._async is None:
            # For the jobs run alone: writes that gave way, reads marked reads_awaited.
            engine = create_async_engine(
                self._engine.url,
                pool_size=ALONE_CONNECTIONS + 1,
                max_overflow=0,
                echo=self._engine.echo,  # ARVERNE_SQL_ECHO covers this engine too
                pool_pre_ping=True,
            )
            self._async = (loop, engine)
        return self._async[1]

    async def run_alone(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in a transaction of its own, on the event loop (PostgreSQL).

        For the short routes that lock rows (dispatch, status changes, closure), which
        must not share a transaction: ``work`` runs in a greenlet on a connection of the
        asyncio engine, each statement awaited, so the loop serves other requests while
        the database answers or a row lock is waited for, and no worker thread has to
        win the interpreter lock back from the loop after every statement. Such jobs
        and the batches of a process share :data:`ALONE_CONNECTIONS` + 1 connections;
        a job waits for a free one without blocking the loop. The session is committed when
        ``work`` returns (if ``work`` did not commit it) and rolled back if it raises.
        """
        self.stats.alone += 1
        async with self._async_engine().connect() as connection:
            return await connection.run_sync(self._run_alone, work)

    async def read_on_loop(self, work: Callable[[Session], T]) -> T:
        """Run a read-only route's ``work`` with :meth:`run_read` when its turn comes
        (:mod:`arverne.store.turns`: reads go before the other work)."""
        async with self.turns.turn(READ):
            return self.run_read(work)

    async def read_together(self, together: Together, item: Any) -> Any:
        """Like :meth:`read_on_loop`, but the items of the requests waiting for a turn
        with the same ``together`` are handled in one call, ``together(session, items)``
        (:mod:`arverne.store.together`)."""
        return await self.reads_together.read(together, item)

    async def write_on_loop(self, work: Callable[[Session], T]) -> T:
        """Run a short write route's ``work`` with :meth:`run_write` when its turn comes
        (after reads and intakes); if it met a row lock, again with :meth:`run_alone`."""
        async with self.turns.turn(WRITE):
            try:
                return self.run_write(work)
            except WriteGaveWayError:  # rolled back: nothing was written
                pass
        return await self.run_alone(work)

    def run_read(self, work: Callable[[Session], T]) -> T:
        """Run a read-only route's ``work(session)`` in a transaction of its own, blocking
        the event loop until it is done (PostgreSQL).

        For the short read routes (recommendations, one incident, ...), whose few
        statements are sent one after another while the loop waits. Awaited instead, each
        statement put the request back at the end of the loop's queue: under load a
        recommendation's five or six round trips each waited behind the other requests'
        work. Reads wait for no row lock in PostgreSQL (an audited read's commit takes the
        audit chain's head for a moment); a slow statement is cancelled
        (:mod:`arverne.store.onloop`). The connection is kept for these reads: one at a
        time runs on a loop, so a process needs one and never waits for one a worker
        thread holds.
        """
        self.stats.reads += 1
        with self._loop.reads().connect() as connection:
            return self._run_alone(connection, work)

    def run_write(self, work: Callable[[Session], T]) -> T:
        """Run a short write route's ``work(session)`` in a transaction of its own,
        blocking the event loop until it has committed (PostgreSQL).

        Like :meth:`run_read`, for the routes that change a few rows (status changes,
        dispatch, closure): their ten or so statements go one after another while the
        loop waits, instead of each sending the request to the back of the loop's queue
        and paying the asyncio driver's overhead. A row lock held elsewhere is waited for
        a moment only (:data:`arverne.store.onloop.LOOP_WRITE_LOCK_MS`): past that the
        transaction is rolled back and :class:`~arverne.store.onloop.WriteGaveWayError`
        raised, and the caller runs ``work`` again with :meth:`run_alone`.
        """
        self.stats.writes += 1
        try:
            return self._loop.run_write(self._factory, work)
        except WriteGaveWayError:
            self.stats.gave_way += 1
            raise

    def _run_alone(self, connection: Connection, work: Callable[[Session], T]) -> T:
        return in_own_transaction(self._factory, connection, work)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in the next shared transaction; return once it committed.

        ``work`` runs on the event loop, with the write lock held (SQLite) or in a
        greenlet whose statements are awaited (PostgreSQL): keep it to writes and the
        reads they need, and never block on anything but the database.
        Its session's commit releases its savepoint (a route's usual single commit at the
        end); an exception it raises rolls back what it wrote since, never another job's
        writes, and is raised here.
        """
        return await self._queued(work)

    async def run_together(self, together: Together, item: Any) -> Any:
        """Like :meth:`run`, but the items of the jobs queued with the same ``together``
        are handled in one call, ``together(session, items)``, in one savepoint.

        If that call raises, its savepoint is rolled back and each item is handled alone
        (``together(session, [item])``, in a savepoint of its own), so a failure stays
        with the item that caused it. An exception returned in an item's place is raised
        to that item's caller.
        """

        def alone(session: Session) -> Any:
            (result,) = together(session, [item])
            if isinstance(result, BaseException):
                raise result
            return result

        return await self._queued(alone, together, item)

    def _queued(
        self, work: Callable[[Session], T], together: Together | None = None, item: Any = None
    ) -> asyncio.Future[T]:
        """Queue a job (and start draining the queue); return its future."""
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(work, loop.create_future(), together, item)
        self._queue.append(job)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return job.future

    async def _drain(self) -> None:
        while self._queue:
            if self._gate is None:
                await self._drain_async()
                continue
            batch: list[_Job[Any]] = []
            try:
                async with writer_gate_held(self._gate):  # queued jobs pile up meanwhile
                    batch = self._take()
                    with self._engine.connect() as connection:
                        outcomes = self._run_batch(connection, batch)
            except Exception as exc:  # e.g. the gate timed out: these jobs wrote nothing
                if not batch:
                    batch = list(self._queue)
                    self._queue.clear()
                outcomes = [(job, None, exc) for job in batch]
            _deliver(outcomes)

    async def _drain_async(self) -> None:
        """PostgreSQL: run batches on one connection until the queue is empty.

        Before each batch the loop gets one turn, so that requests already received
        reach the queue and join it: under load, fewer and larger batches.
        """
        batch: list[_Job[Any]] = []
        try:
            with self._loop.batches().connect() as connection:
                while True:
                    await asyncio.sleep(0)
                    async with self.turns.turn(BATCH):  # new calls before other writes
                        batch = self._take()
                        if not batch:
                            return
                        outcomes = self._run_batch(connection, batch)
                    batch = []
                    _deliver(outcomes)
                    if connection.invalidated:  # lost: the next batch takes a new one
                        return
        except Exception as exc:  # the connection failed: these jobs wrote nothing
            if not batch:
                batch = list(self._queue)
                self._queue.clear()
            _deliver([(job, None, exc) for job in batch])

    def _take(self) -> list[_Job[Any]]:
        return [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]

    def _run_batch(
        self, connection: Connection, batch: list[_Job[Any]]
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        """Run ``batch`` in one transaction of ``connection`` (SQLite: the gate is ours);
        commit; report each job."""
        done: list[tuple[_Job[Any], Any, BaseException | None]] = []
        rows: list[Any] | None = None if self._finish is None else []
        transaction = connection.begin()  # SQLite: takes the gate held for us
        try:
            alone: list[_Job[Any]] = []
            together: dict[Together, list[_Job[Any]]] = {}
            for job in batch:
                if job.together is None:
                    alone.append(job)
                else:
                    together.setdefault(job.together, []).append(job)
            if self._gate is None and not alone and len(together) == 1 and len(batch) > 1:
                # PostgreSQL, one call for the whole batch (intakes under load): no
                # savepoint around it, two round trips fewer. If it fails, the
                # transaction is rolled back and its items are taken again one by one.
                outcomes = self._call_together(connection, batch, rows, savepoint=False)
                if outcomes is None:
                    transaction.rollback()
                    transaction = connection.begin()
                    outcomes = self._run_apart(connection, batch, rows)
                done.extend(outcomes)
            else:
                for job in alone:
                    done.append(self._run_job(connection, job, rows))
                for jobs in together.values():
                    done.extend(self._run_together(connection, jobs, rows))
            if rows:
                self._write_rows(connection, rows)
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
        self, connection: Connection, job: _Job[Any], rows: list[Any] | None
    ) -> tuple[_Job[Any], Any, BaseException | None]:
        """Run one job in a savepoint; an error rolls back that savepoint only."""
        session, own_rows = self._savepoint_session(connection, rows)
        try:
            result = job.work(session)
            session.commit()  # releases the savepoint
        except Exception as exc:
            session.rollback()  # to the savepoint; raises if the connection is unusable
            return job, None, exc
        finally:
            session.close()
        if rows is not None:
            rows.extend(own_rows)  # only once its savepoint is released
        return job, result, None

    def _savepoint_session(
        self, connection: Connection, rows: list[Any] | None, *, savepoint: bool = True
    ) -> tuple[Session, list[Any]]:
        """A session in a savepoint of the batch (or in the batch's transaction itself,
        committing nothing of it), and the list its set-aside rows go to."""
        join = "create_savepoint" if savepoint else "rollback_only"
        session = self._factory(bind=connection, join_transaction_mode=join)
        session.info[IN_SHARED_TRANSACTION] = True  # no read phases: the lock is ours
        own_rows: list[Any] = []
        if rows is not None:  # audit entries and live events wait for the batch's end
            session.info[BATCH_ROWS] = own_rows
        return session, own_rows

    def _run_together(
        self, connection: Connection, jobs: list[_Job[Any]], rows: list[Any] | None
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        """Handle the items of ``jobs`` in one call and one savepoint; if it raises, roll
        that savepoint back and run each job alone."""
        if len(jobs) == 1:
            return [self._run_job(connection, jobs[0], rows)]
        outcomes = self._call_together(connection, jobs, rows, savepoint=True)
        return self._run_apart(connection, jobs, rows) if outcomes is None else outcomes

    def _call_together(
        self,
        connection: Connection,
        jobs: list[_Job[Any]],
        rows: list[Any] | None,
        *,
        savepoint: bool,
    ) -> list[tuple[_Job[Any], Any, BaseException | None]] | None:
        """Handle the items of ``jobs`` in one call, in a savepoint of the batch or (without
        ``savepoint``) in its transaction itself; ``None`` if the call raised: its savepoint
        is rolled back, or the caller must roll the transaction back."""
        together = jobs[0].together
        assert together is not None
        session, own_rows = self._savepoint_session(connection, rows, savepoint=savepoint)
        try:
            results = together(session, [job.item for job in jobs])
            session.commit()  # releases the savepoint, or only flushes and sets rows aside
        except Exception:
            if savepoint:
                session.rollback()  # to the savepoint; raises if the connection is unusable
            return None
        finally:
            session.close()
        if rows is not None:
            rows.extend(own_rows)
        self.stats.together += len(jobs)
        return [
            (job, None, r) if isinstance(r, BaseException) else (job, r, None)
            for job, r in zip(jobs, results, strict=True)
        ]

    def _run_apart(
        self, connection: Connection, jobs: list[_Job[Any]], rows: list[Any] | None
    ) -> list[tuple[_Job[Any], Any, BaseException | None]]:
        """Run each of ``jobs`` alone, in a savepoint of its own (their call together failed)."""
        logger.info("%d jobs handled together failed; running them one by one", len(jobs))
        self.stats.apart += len(jobs)
        return [self._run_job(connection, job, rows) for job in jobs]

    def _write_rows(self, connection: Connection, rows: list[Any]) -> None:
        """Hand the jobs' set-aside rows to ``finish`` in a session of the batch."""
        assert self._finish is not None  # rows are only collected for it
        # No savepoint of its own: if this fails, the whole batch is rolled back anyway.
        session = self._factory(bind=connection, join_transaction_mode="rollback_only")
        session.info[IN_SHARED_TRANSACTION] = True
        try:
            self._finish(session, rows)
            session.commit()  # flushes; the batch's own commit follows
        finally:
            session.close()


def _deliver(outcomes: list[tuple[_Job[Any], Any, BaseException | None]]) -> None:
    """Hand each job's result or error to its caller."""
    for job, result, error in outcomes:
        if job.future.done():  # the request was cancelled (client gone)
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)


def _rollback_driver(connection: Connection) -> None:
    """Roll back what SQLite may still hold open: a COMMIT that failed (a deferred
    foreign key, a full disk) leaves its transaction, and the write lock, in place."""
    if connection.dialect.name != "sqlite":
        return
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
