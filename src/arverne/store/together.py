"""Reads asked at the same moment, answered by one call (PostgreSQL).

Intakes come in bursts, and so do the reads that follow them: a batch of a dozen new
calls is answered at once, and a dozen dispatchers' screens ask for recommendations in
the same millisecond. Run one after another, each waits for all those before it (under
load the last waited 50 ms for its 4). A read route marked with
:func:`arverne.web.routing.reads_together` instead queues its request; when the queue's
turn comes (:mod:`arverne.store.turns`, reads first) every request waiting then is
answered by one call of the route's handler, from the same statements. Nothing is older
than it would have been one by one: the statements run after every request of the batch
has arrived.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from arverne.store.turns import READ, Turns

__all__ = ["ReadsTogether", "Together"]

# Takes a session and the items of jobs queued together; returns a result (or an
# exception: that item's refusal) per item, in order.
Together = Callable[[Session, list[Any]], list[Any]]
_Waiting = list[tuple[Any, "asyncio.Future[Any]"]]


class ReadsTogether:
    """The read requests of one event loop waiting for the same handler.

    Parameters
    ----------
    turns
        The loop's order of blocking database work; a batch takes a read's turn.
    run_read
        Runs ``work(session)`` in a read of its own on the loop
        (:meth:`arverne.store.batch.GroupCommit.run_read`).
    """

    def __init__(self, turns: Turns, run_read: Callable[[Callable[[Session], Any]], Any]) -> None:
        self._turns = turns
        self._run_read = run_read
        self._waiting: dict[Together, _Waiting] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = 0  # handler calls (for tests and benchmarks)
        self.items = 0  # items answered by them
        self.largest = 0

    async def read(self, together: Together, item: Any) -> Any:
        """Queue ``item`` for ``together``; return its answer once the batch has run.

        The first request of a batch waits for a read's turn and answers every request
        that has joined it by then (in its own coroutine: a task of its own would cost a
        pass of the loop). If it is cancelled while it waits (its client gone), a task
        takes over for the others.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        waiting = self._waiting.setdefault(together, [])
        waiting.append((item, future))
        if len(waiting) > 1:
            return await future  # answered by the batch's first request
        try:
            async with self._turns.turn(READ):
                self._run(together)
        except asyncio.CancelledError:
            future.cancel()  # left out of the batch
            others = [(i, f) for i, f in self._waiting.pop(together, []) if not f.done()]
            if others:  # they wait for this batch: a task answers them
                self._waiting[together] = others
                task = loop.create_task(self._answer(together))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            raise
        return future.result()

    def _run(self, together: Together) -> None:
        """Answer every request waiting for ``together`` (with the turn held)."""
        batch = [(i, f) for i, f in self._waiting.pop(together, []) if not f.done()]
        try:
            if batch:
                _deliver(batch, self._call(together, [item for item, _ in batch]))
        finally:  # a handler that broke its contract (one answer per item) fails them all
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("the read gave no answer for it"))

    async def _answer(self, together: Together) -> None:
        """Lead the requests left by a cancelled first one."""
        try:
            async with self._turns.turn(READ):
                self._run(together)
        except asyncio.CancelledError:  # the server stopping: nobody waits for ever
            for _, future in self._waiting.pop(together, []):
                if not future.done():
                    future.set_exception(RuntimeError("the server stopped before answering"))
            raise

    def _call(self, together: Together, items: list[Any]) -> list[Any]:
        """``together`` over ``items``; if it raises, each item again on its own, so an
        error stays with the item that caused it."""
        self.calls += 1
        self.items += len(items)
        self.largest = max(self.largest, len(items))
        try:
            results: list[Any] = self._run_read(lambda session: together(session, items))
            return results
        except Exception as exc:
            if len(items) == 1:
                return [exc]
        answers: list[Any] = []
        for item in items:
            try:
                answers.extend(self._run_read(functools.partial(_alone, together, item)))
            except Exception as exc:
                answers.append(exc)
        return answers


def _alone(together: Together, item: Any, session: Session) -> list[Any]:
    return together(session, [item])


def _deliver(batch: _Waiting, results: list[Any]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # the request was cancelled meanwhile
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
