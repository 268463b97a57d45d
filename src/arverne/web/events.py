"""Server-sent events: one poller per process reads the event outbox and fans out.

The outbox table is shared by every server process, so events reach all clients whatever
process served the write (SQLite or PostgreSQL alike); event ids grow in commit order, so
a client reconnecting with ``Last-Event-ID`` gets exactly what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arverne.dispatch.models import Event
from arverne.dispatch.publish import last_event_id as newest_event_id

logger = logging.getLogger("arverne.events")
POLL_S = 0.1
HEARTBEAT_S = 15.0
REPLAY_LIMIT = 5000


def _fetch(factory: sessionmaker[Session], after: int, limit: int) -> list[dict[str, Any]]:
    with factory() as session:
        rows = session.scalars(
            select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
        ).all()
        return [
            {"id": r.id, "kind": r.kind, "permission": r.permission, "payload": r.payload}
            for r in rows
        ]


def _last_id(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return newest_event_id(session)


class EventHub:
    """Polls the outbox once per process and hands new events to every subscriber."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self.position = -1
        self._task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            if self.subscribers:
                try:
                    batch = await anyio.to_thread.run_sync(
                        _fetch, self.factory, self.position, 1000
                    )
                except Exception:  # the stream must survive a database hiccup
                    logger.exception("event poll failed; retrying")
                    await asyncio.sleep(1.0)
                    continue
                for event in batch:
                    self.position = event["id"]
                    for queue in list(self.subscribers):
                        queue.put_nowait(event)
                if len(batch) == 1000:
                    continue
            await asyncio.sleep(POLL_S)

    async def _subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        if not self.subscribers:  # the poller idles without subscribers: catch up first
            self.position = await anyio.to_thread.run_sync(_last_id, self.factory)
        self.subscribers.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return queue

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of the events committed from now on (``id``, ``kind``, ``permission``,
        ``payload``), for as long as the context lasts (the EIDO WebSocket uses it)."""
        queue = await self._subscribe()
        try:
            yield queue
        finally:
            self.subscribers.discard(queue)

    async def stream(
        self,
        *,
        last_event_id: int | None,
        permissions: frozenset[str],
        max_seconds: float = 300.0,
    ) -> AsyncIterator[str]:
        """Yield SSE frames for one client, replaying from ``last_event_id`` first.

        The stream ends after ``max_seconds`` so proxies and workers recycle connections;
        browsers' ``EventSource`` reconnects by itself with ``Last-Event-ID``. With
        ``max_seconds=0`` only the replay is sent (a catch-up request).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        queue = await self._subscribe() if max_seconds > 0 else None
        try:
            if last_event_id is not None:
                delivered = last_event_id
            elif queue is not None:
                delivered = self.position
            else:
                delivered = await anyio.to_thread.run_sync(_last_id, self.factory)
            yield f"retry: 2000\nevent: hello\ndata: {json.dumps({'last_event_id': delivered})}\n\n"
            if last_event_id is not None:
                for event in await anyio.to_thread.run_sync(
                    _fetch, self.factory, last_event_id, REPLAY_LIMIT
                ):
                    if event["permission"] in permissions:
                        yield _frame(event)
                    delivered = event["id"]
            while queue is not None and (left := deadline - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=min(HEARTBEAT_S, left))
                except TimeoutError:
                    if deadline - loop.time() > 0:
                        yield ": keep-alive\n\n"
                    continue
                if event["id"] <= delivered:
                    continue  # already sent during replay
                delivered = event["id"]
                if event["permission"] in permissions:
                    yield _frame(event)
        finally:
            if queue is not None:
                self.subscribers.discard(queue)


def _frame(event: dict[str, Any]) -> str:
    data = json.dumps(event["payload"], separators=(",", ":"), ensure_ascii=False)
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n"
