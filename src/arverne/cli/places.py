"""``arverne incident history``: earlier incidents at an incident's place."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from arverne.cli._common import console, db_session, domain_errors, load_settings
from arverne.dispatch import service
from arverne.dispatch.place_history import place_history
from arverne.dispatch.taxonomy import TYPES_BY_CODE


def history(
    incident_id: int,
    radius: Annotated[
        float, typer.Option(min=5, max=1000, help="Metres around the incident.")
    ] = 50.0,
    days: Annotated[int, typer.Option(min=1, max=3650, help="How far back.")] = 365,
    limit: Annotated[int, typer.Option(min=1, max=200, help="Incidents listed.")] = 20,
) -> None:
    """Premise history: what happened at this incident's place before (and since)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        incident = service.get_incident(session, incident_id, related=False)
        out = place_history(
            session, lon=incident.lon, lat=incident.lat, radius_m=radius, days=days,
            exclude={incident.id}, limit=limit,
        )  # fmt: skip
        zone = settings.zone
    care = f", {out.safety} calling for care" if out.safety else ""
    console.print(
        f"{out.total} incident(s) within {radius:.0f} m over {days} days{care}",
        highlight=False,
    )
    if not out.incidents:
        return
    table = Table("when", "number", "type", "P", "status", "m", "")
    for item in out.incidents:
        table.add_row(
            f"{item.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
            item.number,
            TYPES_BY_CODE[item.type_code].label_fr,
            str(item.priority),
            item.disposition or item.status,
            f"{item.distance_m:.0f}",
            "[bold red]⚠[/]" if item.safety else "",
        )
    console.print(table)
