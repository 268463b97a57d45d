"""Print view of one incident: facts, response times, calls, units, linked incidents and
its duty log.

For a handover or the paper file. Callers' names and numbers are never printed (the
page says so): they stay behind the audited ``include_personal`` read of the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from arverne.dispatch import dutylog, flows, service
from arverne.dispatch.links import links_of
from arverne.dispatch.taxonomy import TYPES_BY_CODE
from arverne.web.console.dutylog_page import table_rows
from arverne.web.console.guard import PagePrincipal, check
from arverne.web.console.render import language, render
from arverne.web.deps import SessionDep, SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


def _local(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    return value.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S") if value else ""


def _span(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """``m:ss`` from ``start`` to ``end`` (empty when either is unknown)."""
    if start is None or end is None:
        return ""
    seconds = max(0, round((end - start).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _type_label(code: str, lang: str) -> str:
    itype = TYPES_BY_CODE[code]
    return itype.label_en if lang == "en" else itype.label_fr


@router.get("/console/incidents/{incident_id}/print")
def incident_print(
    request: Request,
    incident_id: Annotated[int, Path(ge=1)],
    session: SessionDep,
    settings: SettingsDep,
    principal: PagePrincipal,
) -> Response:
    """One incident on paper, in the city's time zone."""
    refused = check(request, principal, settings, "incident:read")
    if refused is not None:
        return refused
    zone = settings.zone
    view = service.incident_out(
        service.get_incident(session, incident_id), targets=flows.targets_for(settings)
    )
    times = {
        "call_to_dispatch": _span(view.first_call_at, view.first_dispatch_at),
        "dispatch_to_arrival": _span(view.first_dispatch_at, view.first_arrival_at),
        "call_to_arrival": _span(view.first_call_at, view.first_arrival_at),
    }
    lang = language(request, settings)
    links = [
        {
            "number": link.number,
            "type_label": _type_label(link.type_code, lang),
            "status": link.status,
            "reason": link.reason,
        }
        for link in links_of(session, incident_id)
    ]
    entries: list[dict[str, Any]] = []
    if principal is not None and "dutylog:read" in principal.permissions:
        units = {u.id: u.call_sign for u in service.list_units(session)}
        rows = dutylog.list_log(session, incident_id=incident_id, limit=5000)
        entries = table_rows(rows, units, zone, "%d/%m %H:%M:%S")
    return render(
        request,
        "incident_print.html",
        settings=settings,
        principal=principal,
        page="incident_print",
        incident=view,
        local=lambda value: _local(value, zone),
        times=times,
        links=links,
        entries=entries,
        filters={"date": view.created_at.astimezone(zone).date().isoformat()},
        zone_name=settings.time_zone,
    )
