"""Routes that commit their transaction in the thread that ran them, or on the event loop.

FastAPI runs a synchronous endpoint in one worker thread and the teardown of its
dependencies (here: the commit of the request's session) in another, after a trip
through the event loop. On SQLite the write lock is held from the first write until the
commit, so that trip, queued behind other requests, lengthened every write transaction
several times over. :class:`TransactionalRoute` commits the session as the endpoint
returns, in the endpoint's own thread; the dependency's commit then finds nothing to do.

Short endpoints marked with :func:`on_event_loop` run on the event loop itself when the
database is a gated SQLite file (:func:`arverne.store.gate.inline_gate`). Those that
write (POST, PATCH, ...) run in the process's group commit (:mod:`arverne.store.batch`):
queued while another writer holds the lock, then written with the other queued requests
in one transaction, a savepoint each. The others (reads that may audit) follow: each server
process then writes from one thread, so the write lock is never held by a thread waiting
for the interpreter lock behind the process's other requests. Their first write
transaction waits at most :data:`INLINE_WRITER_WAIT_S` for the write lock; past that the
request is rolled back (nothing was written), waits for the lock without blocking the
event loop, and runs again on the loop holding it. So a long writer in another process
never stalls the event loop, and no request falls back to a worker thread, where it
would hold the lock while sharing the interpreter lock with the others.

On PostgreSQL those endpoints run on the event loop too, each in a transaction of its
own, sending their few statements while the loop waits, as on SQLite, on connections
kept for them, when their turn comes (:mod:`arverne.store.turns`: reads first, then
batches of intakes, then the other writes). Awaited instead, each statement sent the
request to the back of the loop's queue again, and the asyncio driver cost a quarter
more CPU. A write that meets a row lock held elsewhere gives way after a moment and
runs again awaited (:meth:`arverne.store.batch.GroupCommit.write_on_loop`); so does an
audit-log search (:func:`reads_awaited`). The requests of a route marked
:func:`reads_together` that wait for a turn at the same moment are answered by one call
(:mod:`arverne.store.together`). Only apps built on a caller's session factory (tests)
run them in worker threads.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from arverne.store.batch import group_commit_of
from arverne.store.gate import WriterBusy, bounded_writer_wait, inline_gate, writer_gate_held
from arverne.store.session import begin_read_phase
from arverne.store.together import Together
from arverne.web.deps import SAFE_METHODS

F = TypeVar("F", bound=Callable[..., Any])
_ON_EVENT_LOOP = "__arverne_on_event_loop__"
_READS_AWAITED = "__arverne_reads_awaited__"
_READS_TOGETHER = "__arverne_reads_together__"
# How long a request on the event loop waits for the write lock (blocking the loop) before
# it rolls back and waits with the loop free: a few of the other process's transactions.
INLINE_WRITER_WAIT_S = 0.05


def on_event_loop(endpoint: F) -> F:
    """Mark a synchronous endpoint to run on the event loop.

    For endpoints whose work is a few milliseconds of database statements (intake,
    status changes, dispatch) or a short computation (recommendations, 10-20 ms): the
    worker-thread hop and the sharing of the interpreter lock cost them more than the
    work. Never for endpoints that compute for long (reports, exports, analytics): every
    request of the process waits for them. The endpoint must write in one transaction
    (the usual case: the route commits once): only the first write can give way.
    Place it under the route decorator.
    """
    setattr(endpoint, _ON_EVENT_LOOP, True)
    return endpoint


def reads_awaited(endpoint: F) -> F:
    """Mark a read route on the event loop whose query may take long (a search over a
    table that grows without bound, such as the audit log's).

    On PostgreSQL its statements are then awaited in a transaction of its own
    (:meth:`arverne.store.batch.GroupCommit.run_alone`) instead of being sent while the
    loop waits (:meth:`~arverne.store.batch.GroupCommit.run_read`, whose time limit is
    meant for short reads). Place it under :func:`on_event_loop`.
    """
    setattr(endpoint, _READS_AWAITED, True)
    return endpoint


def reads_together(handler: Together) -> Callable[[F], F]:
    """Mark a read route on the event loop whose requests may be answered together.

    On PostgreSQL the requests waiting for a turn at the same moment are answered by one
    call, ``handler(session, calls)``, where each call is a request's keyword arguments
    without its session; it returns an answer (or an exception to raise) per call, in
    order (:mod:`arverne.store.together`). Elsewhere the endpoint runs as usual. The
    handler must only read. Place it under :func:`on_event_loop`.
    """

    def mark(endpoint: F) -> F:
        setattr(endpoint, _READS_TOGETHER, handler)
        return endpoint

    return mark


def commit_on_return(endpoint: Callable[..., Any], *, read_only: bool) -> Callable[..., Any]:
    """Wrap a synchronous endpoint so it commits its sessions before returning.

    With ``read_only`` (GET/HEAD routes) a session not yet in a transaction begins a
    deferred one. Coroutine endpoints are returned unchanged (they run on the event loop,
    where no database work happens). An exception skips the commit: the dependency rolls
    back.
    """
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if read_only:
            for value in kwargs.values():
                if isinstance(value, Session):
                    begin_read_phase(value)
        result = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.in_transaction():
                value.commit()
        return result

    if getattr(endpoint, _ON_EVENT_LOOP, False):
        return _inline(wrapper, read_only=read_only)
    return wrapper


def _inline(wrapper: Callable[..., Any], *, read_only: bool) -> Callable[..., Any]:
    """Run ``wrapper`` on the event loop when its session allows it, else in a thread.

    A write route of an app whose group commit takes every write (gated SQLite) runs
    in the process's next shared transaction; on PostgreSQL every such route runs in a
    transaction of its own (:func:`_own_session`), whose statements are awaited, or,
    for a read-only route not marked :func:`reads_awaited`, sent while the loop waits.
    """

    @functools.wraps(wrapper)
    async def run(*args: Any, **kwargs: Any) -> Any:
        sessions = [value for value in kwargs.values() if isinstance(value, Session)]
        group = group_commit_of(sessions[0]) if len(sessions) == 1 else None
        if group is not None and group.for_every_write and not read_only:
            return await _own_session(sessions[0], wrapper, args, kwargs, group.run)
        gates = {inline_gate(session) for session in sessions}
        gate = gates.pop() if len(gates) == 1 else None
        awaited = getattr(wrapper, _READS_AWAITED, False)
        together = getattr(wrapper, _READS_TOGETHER, None)
        if gate is None and group is not None and read_only and together is not None:
            _end_caller_read(sessions[0])
            call = {k: v for k, v in kwargs.items() if v is not sessions[0]}
            return await group.read_together(together, call)
        if gate is None and group is not None and read_only and not awaited:  # PostgreSQL
            return await _own_session(sessions[0], wrapper, args, kwargs, group.read_on_loop)
        if gate is None and group is not None and not read_only:  # PostgreSQL writes
            return await _own_session(sessions[0], wrapper, args, kwargs, group.write_on_loop)
        if gate is None and group is not None:  # PostgreSQL: awaited on the loop
            return await _own_session(sessions[0], wrapper, args, kwargs, group.run_alone)
        if gate is None:  # no group commit (a caller's session factory): in a thread
            return await run_in_threadpool(wrapper, *args, **kwargs)
        # While the gate is congested (a wait gave up lately) take it only if free now.
        wait_s = 0.0 if gate.congested() else INLINE_WRITER_WAIT_S
        try:
            with bounded_writer_wait(wait_s):
                return wrapper(*args, **kwargs)
        except WriterBusy:  # raised as the first write began: nothing was written
            for session in sessions:
                session.rollback()
        async with writer_gate_held(gate):
            return wrapper(*args, **kwargs)

    return run


def _own_session(
    session: Session,
    wrapper: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run: Callable[[Callable[[Session], Any]], Any],
) -> Any:
    """``run(work)``, where ``work`` calls the endpoint with the session ``run`` gives in
    place of the request's: :meth:`GroupCommit.run` (a savepoint of the process's next
    shared transaction: its commit releases the savepoint, an error rolls back its own
    writes only, the answer goes out once the shared transaction has committed),
    :meth:`GroupCommit.read_on_loop` or :meth:`GroupCommit.write_on_loop` (a transaction
    of its own, sent while the loop waits, when the job's turn comes) or
    :meth:`GroupCommit.run_alone` (a transaction of its own, awaited on the loop). Each
    returns an awaitable.
    """
    _end_caller_read(session)

    def work(own: Session) -> Any:
        return wrapper(*args, **{k: own if v is session else v for k, v in kwargs.items()})

    return run(work)


def _end_caller_read(session: Session) -> None:
    """End the request's own read phase (identifying the caller): nothing was written in
    it, and the route's work runs in a session of its own."""
    if session.in_transaction():
        session.commit()


class TransactionalRoute(APIRoute):
    """An API route whose synchronous endpoint commits in its own thread (or inline)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ("GET",)}
        read_only = methods <= SAFE_METHODS
        super().__init__(path, commit_on_return(endpoint, read_only=read_only), **kwargs)
