"""``/api/v1/eido/ws``: EIDO conveyance over a WebSocket (NENA-STA-024).

A partner system authenticates with an API token (``Authorization: Bearer``, permission
``incident:read``; checked again every 30 s: a revoked token ends the subscription),
subscribes to one incident or to every incident, and receives the
incident's EIDO (without callers' identities) each time it changes, coalesced to the
agreed ``maxRate``, with empty keep-alive events at ``minRate``; the subscription ends
when it expires unless renewed. Messages: :mod:`arverne.dispatch.eido_conveyance`.
Subscriptions and their end are audited.
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
from arverne.dispatch import eido_conveyance as conv
from arverne.dispatch import service
from arverne.dispatch.eido_apply import known_incident
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
    await websocket.accept()
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
    """One WebSocket: its subscription, the incidents waiting to be notified."""

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
        self.sub: conv.Subscription | None = None
        self.pending: set[int] = set()
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self.still_allowed = still_allowed  # the token is still valid (a worker thread)
        self.checked_at = self.loop.time()

    async def send(self, message: conv.Message) -> None:
        async with self.lock:  # the receiver and the notifier both send
            if self.websocket.application_state == WebSocketState.DISCONNECTED:
                return  # closed after an unsubscribe or a bad frame, meanwhile
            await self.websocket.send_text(json.dumps(message, ensure_ascii=False))

    async def run(self) -> None:
        async with self.hub.listen() as queue:
            receiver = asyncio.create_task(self.receive())
            try:
                while not receiver.done():
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=TICK_S)
                    except TimeoutError:
                        event = None
                    await self.step(event)
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await receiver
                if self.sub is not None:
                    await anyio.to_thread.run_sync(
                        self.record, "eido.subscription_end", self.sub, "connection closed"
                    )

    async def step(self, event: dict[str, Any] | None) -> None:
        """Note a changed incident, then send what is due (notification, keep-alive, end)."""
        sub, now = self.sub, self.loop.time()
        if now - self.checked_at >= CREDENTIALS_CHECK_S:
            self.checked_at = now
            if not await anyio.to_thread.run_sync(self.still_allowed):
                await self.revoked()
                return
        if sub is None:
            return
        if event is not None and event["kind"] in INCIDENT_EVENTS:
            incident_id = int(event["payload"]["id"])
            if sub.wants(incident_id):
                self.pending.add(incident_id)
        if sub.expired(now):
            self.sub, self.pending = None, set()
            await self.send(conv.terminate(sub))
            await anyio.to_thread.run_sync(self.record, "eido.subscription_end", sub, "expired")
        elif self.pending and sub.may_send(now):
            ids, self.pending = sorted(self.pending), set()
            documents = await anyio.to_thread.run_sync(self.documents, ids)
            await self.send(conv.event(sub, documents, now))
        elif sub.due_keep_alive(now):
            await self.send(conv.event(sub, [], now))

    async def revoked(self) -> None:
        """The token was revoked, expired or lost its permission: end everything."""
        if self.sub is not None:
            ending, self.sub = self.sub, None
            await self.send(conv.terminate(ending))
            await anyio.to_thread.run_sync(
                self.record, "eido.subscription_end", ending, "credentials revoked"
            )
        await self.websocket.close(
            code=status.WS_1008_POLICY_VIOLATION, reason="credentials revoked"
        )

    async def receive(self) -> None:
        while True:
            text = await self.websocket.receive_text()
            try:
                kind, body = conv.parse(text)
            except conv.ProtocolError as exc:
                await self.websocket.close(code=status.WS_1007_INVALID_FRAME_PAYLOAD_DATA,
                                           reason=str(exc)[:120])  # fmt: skip
                return
            if kind == "subscribe":
                await self.subscribe(body)
            elif kind == "unsubscribe":
                ending = self.sub
                answer, self.sub = conv.answer_unsubscribe(body, current=ending)
                await self.send(answer)
                if ending is not None and self.sub is None:
                    await anyio.to_thread.run_sync(
                        self.record, "eido.subscription_end", ending, "unsubscribed"
                    )
                    await self.websocket.close()
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
        before = self.sub
        resolve = await anyio.to_thread.run_sync(self.resolver, body)
        answer, self.sub = conv.answer_subscribe(
            body, current=before, resolve=lambda _tracking: resolve, now=self.loop.time()
        )
        new = self.sub is not None and self.sub is not before
        if new and before is not None:
            await self.send(conv.terminate(before))
            await anyio.to_thread.run_sync(self.record, "eido.subscription_end", before, "replaced")
        await self.send(answer)
        if new and self.sub is not None:
            sub = self.sub
            await anyio.to_thread.run_sync(self.record, "eido.subscribe", sub, sub.sub_type)
            ids = [sub.incident_id] if sub.incident_id is not None else None
            documents = await anyio.to_thread.run_sync(self.documents, ids)
            await self.send(conv.event(sub, documents, self.loop.time()))

    # -- database work, in worker threads --------------------------------------------
    def resolver(self, body: dict[str, Any]) -> int | None:
        """The incident a ``single`` subscription names (this system's or imported)."""
        tracking = body.get("incidentId")
        if not isinstance(tracking, str) or not tracking:
            return None
        with session_scope(self.factory) as session:
            return known_incident(session, tracking, self.agency.identifier)

    def documents(self, ids: list[int] | None) -> list[dict[str, Any]]:
        """The EIDO of each incident (``None``: the open incidents), without identities."""
        out = []
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
                    continue
                log = service.list_log(session, incident_id=incident_id, kinds=NOTE_KINDS)
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
