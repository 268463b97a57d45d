"""Whose database work runs next on a process's event loop (PostgreSQL).

A process runs its short database work on the event loop, blocking it until the
database has answered: reads, short writes, batches of intakes. Without an order, such
work ran as its requests came up in the loop's queue, so under load a recommendation
waited behind every status change and position report queued before it. Here each job
takes a turn first: the lowest priority number goes next, in arrival order within one
number. A job never waits for more than the one running, plus those of a better
priority that arrive meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator

__all__ = ["BATCH", "READ", "WRITE", "Turns"]

READ = 0  # a read on the loop: a recommendation, an incident's view (short, and awaited
# by somebody looking at a screen)
BATCH = 1  # a batch of intakes: new calls
WRITE = 2  # a short write: dispatch, status change, position, closure


class Turns:
    """One job at a time, the best priority first (one instance per event loop)."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.waited = 0  # jobs that did not find the loop free (for tests and benchmarks)

    @contextlib.asynccontextmanager
    async def turn(self, priority: int) -> AsyncIterator[None]:
        """Wait for this job's turn, hold it inside the block (which must not await)."""
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if not self._busy and not self._waiting:
            self._busy = True
            return
        self.waited += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # given the turn as the request was cancelled: pass it on
            raise

    def _release(self) -> None:
        # The next job is chosen once the loop has read what came in while this one ran
        # (a timer runs after the loop's next look at its sockets) and the requests that
        # brought have run up to their turn (one more pass): a better one among them goes
        # first. While a job runs the loop is blocked and nobody else can ask for a turn:
        # chosen at once, the order would be the loop's. A read already waiting is the
        # best there can be (a read that came in since would be behind it): it goes at
        # once, two passes of the loop's other work sooner.
        while self._waiting and self._waiting[0][2].done():  # cancelled while waiting
            heapq.heappop(self._waiting)
        if self._waiting and self._waiting[0][0] == READ:
            self._next()
            return
        loop = asyncio.get_running_loop()
        loop.call_later(0, loop.call_soon, self._next)

    def _next(self) -> None:
        while self._waiting:
            *_, future = heapq.heappop(self._waiting)
            if not future.done():  # not cancelled meanwhile
                future.set_result(None)
                return
        self._busy = False
