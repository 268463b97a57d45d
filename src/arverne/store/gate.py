"""The SQLite writer gate, and writing on the event loop without stalling it.

SQLite lets one transaction write at a time. :class:`WriterGate` queues writers on a
thread lock and an advisory file lock beside the database, so the next writer starts the
moment the previous one commits, in this process or another.

Short requests can run on the server's event loop instead of a worker thread
(:func:`bounded_writer_wait`): with one thread per process there is no hand-over between
threads and no contention for the interpreter lock while the write lock is held, which
is what limits SQLite's write rate. A request on the event loop must never wait long for
the gate (every other request of the process would wait with it), so its first write
transaction gives up after a few milliseconds with :class:`WriterBusy`, before anything
is written, and the caller runs the request again in a worker thread. A gate that made
someone give up counts as congested for a moment (:func:`writes_inline`), so a long
writer elsewhere (an import, a purge) sends requests straight to worker threads.
"""

from __future__ import annotations

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
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

logger = logging.getLogger("arverne.store")
# After a bounded wait gave up, the gate counts as congested for this long.
CONGESTED_S = 0.5


class WriterBusy(Exception):  # noqa: N818 - a condition, not a failure
    """The write lock was not free within the caller's bound; nothing was written."""


@dataclasses.dataclass(slots=True)
class _Bound:
    seconds: float
    acquired: bool = False  # the first write transaction got the gate: later ones wait


_BOUND: contextvars.ContextVar[_Bound | None] = contextvars.ContextVar(
    "arverne_writer_bound", default=None
)


@contextlib.contextmanager
def bounded_writer_wait(seconds: float) -> Iterator[None]:
    """Within this block, the first write transaction waits at most ``seconds``.

    If the gate is not free by then, :class:`WriterBusy` is raised from the statement
    that began the transaction, before it wrote anything; roll the session back and run
    the work again where waiting is harmless (a worker thread). Later write
    transactions in the block wait as usual, as an earlier one may have committed.
    Only gated SQLite engines are bounded (:func:`writes_inline`).
    """
    token = _BOUND.set(_Bound(seconds))
    try:
        yield
    finally:
        _BOUND.reset(token)


class WriterGate:
    """One SQLite writer at a time across threads and processes, handed over at once.

    SQLite lets one transaction write at a time; others wait in a busy handler that
    sleeps with growing back-off (up to 100 ms), so the lock often sits free while
    writers sleep. The gate queues writers on a thread lock (one waiter per process
    polls the file lock, every 0.2-1 ms) and is released when the transaction ends.

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
        self.congested_until = 0.0  # time.monotonic() until which bounded waits are avoided
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = os.getpid()

    def _file(self) -> int | None:
        if self._fd is None:
            try:  # group-writable like the database beside it (the umask applies)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
            except OSError as exc:  # e.g. a read-only folder: SQLite's own lock remains
                logger.warning(
                    "writer gate %s unavailable (%s); using SQLite's lock", self.path, exc
                )
                self._fd = -1
        return None if self._fd < 0 else self._fd

    def congested(self) -> bool:
        """Tell whether a bounded wait gave up less than :data:`CONGESTED_S` ago."""
        return time.monotonic() < self.congested_until

    def _give_up(self, bounded: bool) -> Exception:
        if bounded:
            self.congested_until = time.monotonic() + CONGESTED_S
            return WriterBusy(f"the write lock of {self.path.name} is taken")
        return sqlite3.OperationalError("database is locked (writer gate timeout)")

    def acquire(self) -> None:
        """Wait for the gate.

        Raises :class:`sqlite3.OperationalError` after the timeout, or
        :class:`WriterBusy` after the bound of :func:`bounded_writer_wait`.
        """
        if self._pid != os.getpid():  # a child process after fork: nothing is held here
            self._thread_lock, self._fd, self._pid = threading.Lock(), None, os.getpid()
        bound = _BOUND.get()
        bounded = bound is not None and not bound.acquired
        wait_s = min(bound.seconds, self.timeout_s) if bound is not None and bounded else None
        timeout_s = self.timeout_s if wait_s is None else wait_s
        deadline = time.monotonic() + timeout_s
        if not self._thread_lock.acquire(timeout=timeout_s):
            raise self._give_up(bounded)
        try:
            fd, pause = self._file(), 0.0002
            while fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise self._give_up(bounded) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
        except BaseException:
            self._thread_lock.release()
            raise
        if bound is not None:
            bound.acquired = True

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


def writes_inline(session: Session) -> bool:
    """Tell whether ``session`` may write from the event loop right now.

    True for a gated SQLite database whose gate is not congested: its writes wait for
    the gate, which :func:`bounded_writer_wait` bounds. Other databases wait inside the
    driver (row locks, network), where no bound applies.
    """
    bind = session.get_bind()
    gate = gate_of(bind) if isinstance(bind, Engine | Connection) else None
    return gate is not None and not gate.congested()
