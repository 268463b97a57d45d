"""The duty log (main courante) screen and its print view, filtered by date, shift, unit, kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from arverne.dispatch import dutylog, service
from arverne.dispatch.models import DutyLogEntry
from arverne.dispatch.publish import last_event_id
from arverne.dispatch.shifts import shift_window
from arverne.web.console.guard import PagePrincipal, check
from arverne.web.console.render import render
from arverne.web.deps import SessionDep, SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

KINDS = (
    "call_received",
    "incident_created",
    "incident_updated",
    "unit_dispatched",
    "unit_status",
    "unit_released",
    "preemption",
    "incident_closed",
    "incident_cancelled",
    "incident_reopened",
    "incident_merged",
    "incident_split",
    "incident_linked",
    "incident_unlinked",
    "unit_moved",
    "unit_distress",
    "initiative",
    "status_check_due",
    "status_check",
    "status_check_missed",
    "crew_sign_on",
    "crew_sign_off",
    "crew_changed",
    "shift_change",
    "eido_import",
    "eido_update",
    "eido_note",
    "eido_resource",
    "note",
    "correction",
)


def table_rows(
    rows: Sequence[DutyLogEntry],
    units: dict[int, str],
    zone: dt.tzinfo,
    time_format: str = "%H:%M:%S",
) -> list[dict[str, Any]]:
    """Duty-log lines as the rows of ``_dutylog_table.html``, times in ``zone``."""
    return [
        {
            "id": r.id,
            "time": r.at.astimezone(zone).strftime(time_format),
            "iso": r.at.astimezone(zone).isoformat(timespec="seconds"),
            "author": r.author,
            "kind": r.kind,
            "incident_id": r.incident_id,
            "unit": units.get(r.unit_id, str(r.unit_id)) if r.unit_id else "",
            "text": r.text,
            "corrects_id": r.corrects_id,
        }
        for r in rows
    ]


@router.get("/console/log")
def dutylog_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PagePrincipal,
    date: dt.date | None = None,
    shift: Annotated[str | None, Query(pattern="^(day|evening|night|)$")] = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    incident_id: Annotated[int | None, Query(ge=1)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    print_: Annotated[bool, Query(alias="print")] = False,
) -> Response:
    """Entries of one local day (and shift), oldest first, in the city's time zone."""
    refused = check(request, principal, settings, "dutylog:read")
    if refused is not None:
        return refused
    zone = settings.zone
    day = date or dt.datetime.now(zone).date()
    since, until = shift_window(day, shift or None, zone)
    # Read the event position first: entries written after it arrive through the stream.
    last_id = last_event_id(session)
    rows = dutylog.list_log(
        session,
        since=since,
        until=until,
        unit_id=unit_id,
        incident_id=incident_id,
        kinds=[kind] if kind else None,
        limit=5000,
    )
    units = {u.id: u.call_sign for u in service.list_units(session)}
    entries = table_rows(rows, units, zone)
    filters = {
        "date": day.isoformat(),
        "shift": shift or "",
        "unit_id": unit_id,
        "incident_id": incident_id,
        "kind": kind or "",
    }
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request,
        "dutylog_print.html" if print_ else "dutylog.html",
        settings=settings,
        principal=principal,
        page="dutylog",
        data={
            "filters": filters,
            # The screen follows the stream while its window is open (today, no past date).
            "live": not print_ and until > dt.datetime.now(dt.UTC),
            "last_event_id": last_id,
            "window": [since.isoformat(), until.isoformat()],
            "unit_names": {str(k): v for k, v in units.items()},
            "count": len(entries),
            "zone": settings.time_zone,
        },
        entries=entries,
        filters=filters,
        units=sorted(units.items(), key=lambda item: item[1]),
        kinds=KINDS,
        query=query,
        zone_name=settings.time_zone,
    )
