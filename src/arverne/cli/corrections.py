"""``arverne incident update | reopen``: correcting incidents from a terminal.

The same flows as ``PATCH /api/v1/incidents/{id}`` and ``POST .../reopen``: the duty log
says what changed from what and why, and the audit log records it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from arverne.cli._common import cli_context, db_session, domain_errors, load_settings
from arverne.cli.dispatch import parse_point, show_incident
from arverne.dispatch import flows
from arverne.dispatch.citypack import load_city
from arverne.dispatch.reopen import reopen_incident
from arverne.dispatch.schemas import IncidentUpdate, ReopenIn


def update(
    incident_id: int,
    type_code: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="New incident type code (reclassify; the priority stays unless --priority).",
        ),
    ] = None,
    priority: Annotated[int | None, typer.Option(min=1, max=4, help="New priority.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    address: Annotated[str | None, typer.Option(help="New address (geocoded).")] = None,
    at: Annotated[str | None, typer.Option(help="New map point LON,LAT.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the duty log).")] = None,
) -> None:
    """Correct an open incident: type, priority, description or place."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(at, "--at") if at else (None, None)
        given = {
            "type_code": type_code,
            "priority": priority,
            "description": description,
            "address": address,
            "lon": lon,
            "lat": lat,
        }
        body = IncidentUpdate(reason=reason, **{k: v for k, v in given.items() if v is not None})
        city = load_city(settings) if address is not None or at is not None else None
        flows.update_incident(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            update=body,
            city=city,
        )
        show_incident(session, incident_id)


def reopen(
    incident_id: int,
    reason: Annotated[str, typer.Option(help="Why it is reopened (kept in the duty log).")],
) -> None:
    """Reopen a closed or cancelled incident (within ARVERNE_REOPEN_WINDOW_HOURS)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        reopen_incident(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            reopen_in=ReopenIn(reason=reason),
        )
        show_incident(session, incident_id)
