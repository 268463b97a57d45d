"""``GET /api/v1/events``: the live stream of incident, unit and duty-log events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from arverne.errors import InvalidInputError
from arverne.web.deps import CurrentPrincipal
from arverne.web.events import EventHub
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["events"])


@router.get("/events", summary="Live events (server-sent events)", response_class=StreamingResponse)
async def events(
    request: Request,
    principal: CurrentPrincipal,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(ge=0, description="Same as Last-Event-ID")] = None,
    max_seconds: Annotated[
        float, Query(ge=0, le=3600, description="Close the stream after this many seconds")
    ] = 300.0,
) -> StreamingResponse:
    """Stream events the caller may see; reconnect with ``Last-Event-ID`` to miss nothing."""
    start = after
    if last_event_id:
        if not last_event_id.isdigit():
            raise InvalidInputError("Last-Event-ID", "must be the id of the last event received")
        start = int(last_event_id)
    hub: EventHub = request.app.state.hub
    return StreamingResponse(
        hub.stream(last_event_id=start, permissions=principal.permissions, max_seconds=max_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
