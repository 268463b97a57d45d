"""The SQLite writer gate, and writing on the event loop without stalling it.

SQLite lets one transaction write at a time. :class:`WriterGate` queues writers on a
thread lock and an advisory file lock beside the database, so the next writer starts the
moment the previous one commits, in this process or another.

Short requests can run on the server's event loop instead of a worker thread: with one
thread per process there is no hand-over between threads and no contention for the
interpreter lock while the write lock is held, which is what limits SQLite's write rate.
A request on the event loop must never wait long for the gate (every other request of
the process would wait with it), so its first write transaction gives up after a few
milliseconds (:func:`bounded_writer_wait`, :class:`WriterBusy`), before anything is
written. The caller then rolls back, waits for the gate without blocking the loop
(:meth:`WriterGate.acquire_async`, first come first served) and runs the request again
holding it (:func:`writer_gate_held`). A gate that made someone give up counts as congested for a
moment, so while a long writer works elsewhere (an import, a purge) requests take the
gate only if it is free at once (a bound of 0) instead of stalling the loop again and
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

logger = logging.getLogger("arverne.store")
# After a bounded wait gave up, the gate counts as congested for this long.
CONGESTED_S = 0.25


class WriterBusy(Exception):  # noqa: N818 - a condition, not a failure
    """The write lock was not free within the caller's bound; nothing was written."""


@dataclasses.dataclass(slots=True)
class _Bound:
    seconds: float
    acquired: bool = False  # a write transaction got the gate: later ones wait as usual
    held: WriterGate | None = None  # acquired beforehand, for the first write transaction


_BOUND: contextvars.ContextVar[_Bound | None] = contextvars.ContextVar(
    "arverne_writer_bound", default=None
)


@contextlib.contextmanager
def bounded_writer_wait(seconds: float) -> Iterator[None]:
    """Within this block, the first write transaction waits at most ``seconds``.

    If the gate is not free by then, :class:`WriterBusy` is raised from the statement
    that began the transaction, before it wrote anything; roll the session back and run
    the work again once the gate is yours (:func:`writer_gate_held`). Later write
    transactions in the block wait as usual, as an earlier one may have committed.
    Only gated SQLite engines are bounded (:func:`inline_gate`).
    """
    token = _BOUND.set(_Bound(seconds))
    try:
        yield
    finally:
        _BOUND.reset(token)


@contextlib.asynccontextmanager
async def writer_gate_held(gate: WriterGate) -> AsyncIterator[None]:
    """Wait for ``gate`` without blocking the event loop; give it to the block's first write.

    The first write transaction begun in the block (in this context) takes the gate
    without waiting and releases it when it ends, as usual. If the block never writes,
    the gate is released when it exits. Later write transactions wait as usual.
    """
    await gate.acquire_async()
    bound = _Bound(0.0, acquired=True, held=gate)  # no bound: other writes wait as usual
    token = _BOUND.set(bound)
    try:
        yield
    finally:
        _BOUND.reset(token)
        if bound.held is not None:  # no write transaction took it
            gate.release()


class WriterGate:
    """One SQLite writer at a time across threads and processes, handed over at once.

    SQLite lets one transaction write at a time; others wait in a busy handler that
    sleeps with growing back-off (up to 100 ms), so the lock often sits free while
    writers sleep. The gate queues writers on a thread lock, then on a queue file lock
    (``<path>.queue``): the one writer of all processes that holds it is next, and polls
    the gate's file lock every 0.2-1 ms, so newcomers cannot overtake a writer that has
    waited. The gate is released when the transaction ends.

    Parameters
    ----------
    path
        The lock file (created if missing), e.g. ``<database>-writer.lock``.
    timeout_s
        How long a writer waits before giving up with "database is locked".
    """

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.congested_until = 0.0  # time.monotonic() until which inline waits are 0 s
        self._thread_lock = threading.Lock()
        # Waiters on an event loop queue here first (FIFO): one of them polls at a time.
        self._loop_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._loop_queues = weakref.WeakKeyDictionary()
        self._fd: int | None = None
        self._queue_fd: int | None = None
        self._loop_waiting = False  # an event-loop waiter holds the thread lock meanwhile
        self._pid = os.getpid()

    def _open(self, path: Path) -> int:
        try:  # group-writable like the database beside it (the umask applies)
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o660)
        except OSError as exc:  # e.g. a read-only folder: SQLite's own lock remains
            logger.warning("writer gate %s unavailable (%s); using SQLite's lock", path, exc)
            return -1

    def _files(self) -> tuple[int, int] | None:
        if self._fd is None or self._queue_fd is None:
            self._fd = self._open(self.path)
            self._queue_fd = self._open(self.path.with_name(self.path.name + ".queue"))
        if self._fd < 0 or self._queue_fd < 0:
            return None
        return self._queue_fd, self._fd

    def congested(self) -> bool:
        """Tell whether a bounded wait gave up less than :data:`CONGESTED_S` ago."""
        return time.monotonic() < self.congested_until

    def _give_up(self, bounded: bool) -> Exception:
        if bounded:
            self.congested_until = time.monotonic() + CONGESTED_S
            return WriterBusy(f"the write lock of {self.path.name} is taken")
        return sqlite3.OperationalError("database is locked (writer gate timeout)")

    def _reset_after_fork(self) -> None:
        if self._pid != os.getpid():  # a child process after fork: nothing is held here
            self._thread_lock, self._pid = threading.Lock(), os.getpid()
            self._fd = self._queue_fd = None

    def _try_file_lock(self) -> bool:
        """One step with the thread lock held: take the queue, then the gate (non-blocking).

        Returns True once the gate is taken (the queue is then left for the next writer).
        The queue, once taken, is kept between steps: this writer is next.
        """
        files = self._files()
        if files is None:
            return True  # no lock files: the thread lock (and SQLite's own lock) remain
        queue_fd, fd = files
        try:
            fcntl.flock(queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # already ours: a no-op
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(queue_fd, fcntl.LOCK_UN)
        return True

    def _leave_queue(self) -> None:
        if self._queue_fd is not None and self._queue_fd >= 0:
            fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    def acquire(self) -> None:
        """Wait for the gate.

        Raises :class:`sqlite3.OperationalError` after the timeout, or
        :class:`WriterBusy` after the bound of :func:`bounded_writer_wait`.
        """
        self._reset_after_fork()
        bound = _BOUND.get()
        if bound is not None and bound.held is self:  # acquired for us beforehand
            bound.held, bound.acquired = None, True
            return
        bounded = bound is not None and not bound.acquired
        timeout_s = min(bound.seconds, self.timeout_s) if bound and bounded else self.timeout_s
        if bound is not None and self._loop_waiting:  # a waiter of our loop is next
            if bounded:  # queue behind it
                raise WriterBusy(f"the write lock of {self.path.name} is awaited on this loop")
            # Waiting here would block the loop that waiter needs: a deadlock.
            msg = "an event-loop route began a second write transaction; make it one"
            raise RuntimeError(msg)
        deadline = time.monotonic() + timeout_s
        if not self._thread_lock.acquire(timeout=timeout_s):
            raise self._give_up(bounded)
        try:
            pause = 0.0002
            while not self._try_file_lock():
                if time.monotonic() > deadline:
                    raise self._give_up(bounded)
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
        except BaseException:
            self._leave_queue()
            self._thread_lock.release()
            raise
        if bound is not None:
            bound.acquired = True

    async def acquire_async(self) -> None:
        """Wait for the gate on the event loop, without blocking it.

        Waiters of one event loop are served in arrival order; the first polls the gate
        every 0.2-1 ms. Raises :class:`sqlite3.OperationalError` after the timeout.
        """
        self._reset_after_fork()
        loop = asyncio.get_running_loop()
        queue = self._loop_queues.get(loop)
        if queue is None:
            queue = self._loop_queues[loop] = asyncio.Lock()
        deadline = time.monotonic() + self.timeout_s
        async with queue:
            while not self._thread_lock.acquire(blocking=False):  # a thread of ours writes
                if time.monotonic() > deadline:
                    raise self._give_up(bounded=False)
                await asyncio.sleep(0.0005)
            self._loop_waiting = True  # the thread lock is kept: we are this process's next
            try:
                pause = 0.0002
                while not self._try_file_lock():
                    if time.monotonic() > deadline:
                        raise self._give_up(bounded=False)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.001)
            except BaseException:
                self._leave_queue()
                self._thread_lock.release()
                raise
            finally:
                self._loop_waiting = False

    def release(self) -> None:
        """Let the next writer in."""
        try:
            if self._fd is not None and self._fd >= 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


# The gate of each gated engine (SQLite files); PostgreSQL engines have none.
_GATES: weakref.WeakKeyDictionary[Engine, WriterGate] = weakref.WeakKeyDictionary()


def attach_gate(engine: Engine, gate: WriterGate) -> None:
    """Record ``gate`` as the writer gate of ``engine``."""
    _GATES[engine] = gate


def gate_of(bind: Engine | Connection) -> WriterGate | None:
    """Return the writer gate of an engine (or of a connection's engine), if any."""
    return _GATES.get(bind if isinstance(bind, Engine) else bind.engine)


def inline_gate(session: Session) -> WriterGate | None:
    """Return the gate through which ``session`` may write from the event loop, if any.

    Only gated SQLite databases have one: their writes wait for the gate, which can be
    bounded or awaited. Other databases wait inside the driver (row locks, network),
    where neither applies, so their requests stay in worker threads.
    """
    return gate_of(session.get_bind())
