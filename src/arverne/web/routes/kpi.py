"""Response-time indicators."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from arverne.dispatch import flows
from arverne.dispatch.kpi import response_times as compute
from arverne.errors import InvalidInputError
from arverne.security.principal import Principal
from arverne.store.types import utcnow
from arverne.web.deps import SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/kpi", tags=["kpi"])


@router.get("/response-times", summary="Response times vs targets")
def response_times(
    session: SessionDep,
    settings: SettingsDep,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    group_by: Annotated[str, Query(pattern="^(priority|district|hour)$")] = "priority",
    _: Principal = require("kpi:read"),
) -> dict[str, Any]:
    """Percentiles of call-to-creation, creation-to-dispatch, dispatch-to-arrival and total
    response, by priority, district or hour, with the share within the priority's target.
    Defaults to the last 30 days."""
    until = until or utcnow()
    since = since or until - dt.timedelta(days=30)
    if since.tzinfo is None or until.tzinfo is None:
        raise InvalidInputError("since", "give times with a zone, e.g. 2026-11-01T00:00:00+01:00")
    if since >= until:
        raise InvalidInputError("since", "must be before until")
    return compute(
        session,
        since=since,
        until=until,
        targets=flows.targets_for(settings),
        zone=settings.zone,
        group_by=group_by,
    )
