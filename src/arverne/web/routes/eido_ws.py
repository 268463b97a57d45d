"""``/api/v1/eido/ws``: EIDO conveyance over a WebSocket (NENA-STA-024).

A partner system authenticates with an API token (``Authorization: Bearer``, permission
``incident:read``; checked again every 30 s: a revoked token ends the subscriptions),
and may ask for the standard's sub-protocol. On one socket it holds one or several
subscriptions, each to one incident or to every incident, and receives the incidents'
EIDO (without callers' identities) each time they change, coalesced to each
subscription's ``maxRate``, with empty keep-alive events at its ``minRate``; a
subscription ends when it expires unless renewed, and the socket closes with the last
one. Messages and rules: :mod:`arverne.dispatch.eido_conveyance`. Subscriptions and
their end are audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocketState

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch import eido_conveyance as conv
from arverne.dispatch.eido_apply import followed_incident
from arverne.dispatch.eido_export import NOTE_KINDS, AgencyInfo, export_incident
from arverne.errors import NotFoundError
from arverne.security import audit, auth
from arverne.security.audit import AuditContext
from arverne.security.principal import Principal
from arverne.store.session import session_scope
from arverne.web.events import EventHub
from arverne.web.routes.eido import this_agency

router = APIRouter(prefix="/api/v1", tags=["eido"])
logger = logging.getLogger("arverne.eido")
TICK_S = 1.0  # how often expiry and keep-alives are checked
CREDENTIALS_CHECK_S = 30.0  # how often the token is checked again (revoked: terminated)
INITIAL_LIMIT = 200  # open incidents sent to a new "new" subscription
INCIDENT_EVENTS = ("incident.created", "incident.updated")


def _principal(factory: sessionmaker[Session], settings: Settings, token: str) -> Principal | None:
    with session_scope(factory) as session:
        return auth.resolve_api_token(session=session, settings=settings, token=token)


@router.websocket("/eido/ws")
async def eido_conveyance(websocket: WebSocket) -> None:
    """Subscribe/notify of EIDO documents; refused (403) without a token with
    ``incident:read``."""
    state = websocket.app.state
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        principal = await anyio.to_thread.run_sync(
            _principal, state.sessionmaker, state.settings, token.strip()
        )
    if principal is None or "incident:read" not in principal.permissions:
        await websocket.close(
            code=status.WS_1008_POLICY_VIOLATION,
            reason="send 'Authorization: Bearer <token>' of an account with incident:read",
        )
        return
    await websocket.accept(subprotocol=conv.choose_subprotocol(websocket.scope["subprotocols"]))
    settings: Settings = state.settings
    agency = this_agency(websocket, settings, state.city)
    ctx = principal.audit_context(client_addr=websocket.client.host if websocket.client else None)
    conveyance = _Conveyance(
        websocket, state.sessionmaker, state.hub, agency, ctx,
        still_allowed=lambda: _allowed(state.sessionmaker, settings, token.strip()),
    )  # fmt: skip
    with contextlib.suppress(WebSocketDisconnect):
        await conveyance.run()


def _allowed(factory: sessionmaker[Session], settings: Settings, token: str) -> bool:
    principal = _principal(factory, settings, token)
    return principal is not None and "incident:read" in principal.permissions


class _Conveyance:
    """One WebSocket: its subscriptions, and the incidents waiting to be notified to each."""

    def __init__(
        self,
        websocket: WebSocket,
        factory: sessionmaker[Session],
        hub: EventHub,
        agency: AgencyInfo,
        ctx: AuditContext,
        *,
        still_allowed: Callable[[], bool],
    ) -> None:
        self.websocket, self.factory, self.hub = websocket, factory, hub
        self.agency, self.ctx = agency, ctx
        self.subs: dict[str, conv.Subscription] = {}
        self.pending: dict[str, set[int]] = {}  # by subscription
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.still_allowed = still_allowed  # the token is still valid (a worker thread)
        self.checked_at = self.loop.time()

    async def send(self, message: conv.Message) -> None:
        async with self.lock:  # the receiver and the notifier both send
            if self.websocket.application_state == WebSocketState.DISCONNECTED:
                return  # closed after the last subscription or a bad frame, meanwhile
            await self.websocket.send_text(json.dumps(message, ensure_ascii=False))

    async def close(self, code: int = status.WS_1000_NORMAL_CLOSURE, reason: str = "") -> None:
        """Close the socket, unless the other task (receiver or notifier) just did."""
        async with self.lock:
            if self.websocket.application_state != WebSocketState.DISCONNECTED:
                await self.websocket.close(code=code, reason=reason)

    async def run(self) -> None:
        async with self.hub.listen() as queue:
            receiver = asyncio.create_task(self.receive())
            try:
                while not receiver.done():
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=TICK_S)
                    except TimeoutError:
                        event = None
                    if await self.step(event):
                        break
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await receiver
                for sub in self.subs.values():  # flushed without a word, as the standard says
                    await anyio.to_thread.run_sync(
                        self.record, "eido.subscription_end", sub, "connection closed"
                    )

    async def step(self, event: dict[str, Any] | None) -> bool:
        """Note a changed incident, then send what is due (notifications, keep-alives,
        ends); ``True`` once the socket was closed (credentials revoked, or the last
        subscription expired)."""
        now = self.loop.time()
        if now - self.checked_at >= CREDENTIALS_CHECK_S:
            self.checked_at = now
            if not await anyio.to_thread.run_sync(self.still_allowed):
                await self.revoked()
                return True
        if not self.subs:
            return False
        if event is not None and event["kind"] in INCIDENT_EVENTS:
            incident_id = int(event["payload"]["id"])
            for sub in self.subs.values():
                if sub.wants(incident_id):
                    self.pending[sub.id].add(incident_id)
        for sub in [s for s in self.subs.values() if s.expired(now)]:
            await self.end(sub, "expired", terminate=True)
        if not self.subs:  # the last one expired: the standard closes the socket
            await self.close(reason="subscription expired")
            return True
        due = {i for i, sub in self.subs.items() if self.pending[i] and sub.may_send(now)}
        wanted = sorted(set().union(*(self.pending[i] for i in due)))
        documents = await anyio.to_thread.run_sync(self.documents, wanted) if due else []
        by_id = dict(zip(wanted, documents, strict=True))
        for sub in list(self.subs.values()):  # the receiver may change them meanwhile
            if sub.id not in self.subs:
                continue  # unsubscribed while this step was sending
            if sub.id in due:  # only this task adds to ``pending``: all are in ``by_id``
                ids, self.pending[sub.id] = sorted(self.pending[sub.id]), set()
                found = [doc for i in ids if (doc := by_id[i]) is not None]
                await self.send(conv.event(sub, found, now))
            elif sub.due_keep_alive(now):
                await self.send(conv.event(sub, [], now))
        return False

    async def end(self, sub: conv.Subscription, why: str, *, terminate: bool) -> None:
        """Forget ``sub`` (``terminate``: telling the subscriber) and audit why it ended."""
        self.subs.pop(sub.id, None)
        self.pending.pop(sub.id, None)
        if terminate:
            await self.send(conv.terminate(sub))
        await anyio.to_thread.run_sync(self.record, "eido.subscription_end", sub, why)

    async def revoked(self) -> None:
        """The token was revoked, expired or lost its permission: end everything."""
        for sub in list(self.subs.values()):
            await self.end(sub, "credentials revoked", terminate=True)
        await self.close(status.WS_1008_POLICY_VIOLATION, "credentials revoked")

    async def receive(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            try:
                kind, body = conv.parse(text)
            except conv.ProtocolError as exc:
                await self.close(status.WS_1007_INVALID_FRAME_PAYLOAD_DATA, str(exc)[:120])
                return
            if kind == "subscribe":
                await self.subscribe(body)
            elif kind == "unsubscribe":
                answer, ending = conv.answer_unsubscribe(body, subscriptions=self.subs)
                await self.send(answer)
                if ending is not None:
                    await self.end(ending, "unsubscribed", terminate=False)
                    if not self.subs:  # the last one: the socket has no more use
                        await self.close()
                        return
            elif kind in ("eventResponse", "terminateResponse"):
                if body.get("statusCode") not in (200, None):
                    logger.warning("EIDO subscriber answered %s with %s", kind, body)
            else:  # a request this notifier does not offer: "Not implemented"
                logger.warning("EIDO subscriber sent an unknown message %r", kind)
                request_id = body.get("requestId")
                if isinstance(request_id, str):
                    await self.send(conv.not_implemented(request_id))

    async def subscribe(self, body: dict[str, Any]) -> None:
        known = await anyio.to_thread.run_sync(self.resolver, body)
        answer, sub = conv.answer_subscribe(
            body, subscriptions=self.subs, resolve=lambda _tracking: known, now=self.loop.time()
        )
        await self.send(answer)
        if sub is None or sub.id in self.subs:
            return  # refused, or renewed
        self.subs[sub.id], self.pending[sub.id] = sub, set()
        await anyio.to_thread.run_sync(self.record, "eido.subscribe", sub, sub.sub_type)
        ids = [sub.incident_id] if sub.incident_id is not None else None
        documents = await anyio.to_thread.run_sync(self.documents, ids)
        await self.send(conv.event(sub, [d for d in documents if d is not None], self.loop.time()))

    # -- database work, in worker threads --------------------------------------------
    def resolver(self, body: dict[str, Any]) -> conv.KnownIncident | None:
        """The incident a ``single`` subscription names (this system's or imported), and
        how long ago it was closed."""
        tracking = body.get("incidentId")
        if body.get("subscriptionId") or not isinstance(tracking, str) or not tracking:
            return None  # a renewal names its subscription: nothing to look up
        with session_scope(self.factory) as session:
            return followed_incident(session, tracking, self.agency.identifier)

    def documents(self, ids: list[int] | None) -> list[dict[str, Any] | None]:
        """The EIDO of each incident (``None`` where it is gone; ``ids`` ``None``: the
        open incidents), without identities."""
        out: list[dict[str, Any] | None] = []
        with session_scope(self.factory) as session:
            if ids is None:
                incidents = service.list_incidents(
                    session, status=service.OPEN_STATUSES, limit=INITIAL_LIMIT
                )
                ids = [i.id for i in incidents]
            for incident_id in ids:
                try:
                    incident = service.get_incident(session, incident_id)
                except NotFoundError:
                    out.append(None)
                    continue
                log = dutylog.list_log(session, incident_id=incident_id, kinds=NOTE_KINDS)
                doc = export_incident(incident, agency=self.agency, include_personal=False, log=log)
                out.append(doc.model_dump(mode="json", by_alias=True, exclude_none=True))
        return out

    def record(self, action: str, sub: conv.Subscription, detail: str) -> None:
        """Audit a subscription made or ended (who, which incidents, why it ended)."""
        with session_scope(self.factory) as session:
            audit.record(
                session,
                self.ctx,
                action=action,
                object_type="eido_subscription",
                object_id=sub.id,
                details={"detail": detail, "type": sub.sub_type, "incident_id": sub.incident_id},
            )
