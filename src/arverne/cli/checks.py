"""``arverne unit check | checks | distress | initiative``: a crew's reports from a terminal.

The same flows as ``POST /api/v1/units/{id}/check`` (the answer goes to the duty log, and
``ok`` restarts the unit's timer), ``POST /api/v1/units/{id}/distress`` and
``POST /api/v1/units/{id}/initiative``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, domain_errors, load_settings
from arverne.cli.dispatch import parse_point, unit_by_ref
from arverne.dispatch import checks
from arverne.dispatch.citypack import load_city
from arverne.dispatch.crew_schemas import CheckIn, DistressIn, InitiativeIn
from arverne.dispatch.distress import raise_distress
from arverne.dispatch.initiative import take_initiative


def check(
    unit: Annotated[str, typer.Argument(help="Unit id or call sign.")],
    no_answer: Annotated[
        bool, typer.Option("--no-answer", help="The crew did not answer (escalates).")
    ] = False,
    note: Annotated[str | None, typer.Option(help="What the crew said (duty log).")] = None,
) -> None:
    """Record a status check of a committed unit: answered (the timer restarts) or not."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        row = checks.record_check(
            session=session,
            ctx=cli_context(),
            settings=settings,
            unit_id=unit_by_ref(session, unit).id,
            check_in=CheckIn(outcome="no_answer" if no_answer else "ok", note=note),
        )
        answer = "no answer, logged" if no_answer else "ok, timer restarted"
        console.print(f"{row.call_sign}: status check {answer}", highlight=False)


def list_checks(
    due: Annotated[bool, typer.Option("--due", help="Only the checks already due.")] = False,
) -> None:
    """Status-check timers of committed units, the most overdue first."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        rows = checks.list_checks(session, settings, due_only=due)
        table = Table("unit", "status", "incident", "due at", "overdue", "last check")
        for row in rows:
            table.add_row(
                row.call_sign,
                row.status,
                str(row.incident_id or ""),
                row.due_at.astimezone(settings.zone).strftime("%H:%M:%S"),
                _overdue(row.overdue_s),
                "NO ANSWER" if row.missed else "",
            )
        console.print(table)
        if not rows:
            console.print("no unit in a status with a timer" + (" is due" if due else ""))


def _overdue(seconds: float) -> str:
    if seconds < 0:
        return f"in {dt.timedelta(seconds=round(-seconds))}"
    return f"+{dt.timedelta(seconds=round(seconds))}"


def distress(
    unit: Annotated[str, typer.Argument(help="Unit id or call sign.")],
    note: Annotated[str | None, typer.Option(help="What the crew said.")] = None,
    at: Annotated[
        str | None, typer.Option(help="Where the crew is, LON,LAT (default: its last position).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Where the crew is, as an address.")] = None,
) -> None:
    """Raise a crew's distress call: a P1 incident where it is (once while open)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(at, "--at") if at else (None, None)
        incident, created = raise_distress(
            session=session,
            ctx=cli_context(),
            settings=settings,
            city=load_city(settings),
            unit_id=unit_by_ref(session, unit).id,
            distress_in=DistressIn(note=note, lon=lon, lat=lat, address=address),
        )
        what = "created" if created else "already open"
        console.print(
            f"distress incident {incident.number} {what} (P{incident.priority}); "
            f"next: arverne incident recommend {incident.id}",
            highlight=False,
        )


def initiative(
    unit: Annotated[str, typer.Argument(help="Unit id or call sign.")],
    type_code: Annotated[str, typer.Option("--type", help="Incident type code.")],
    at: Annotated[
        str | None, typer.Option(help="Where, LON,LAT (default: the unit's last position).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Where, as an address.")] = None,
    description: Annotated[str | None, typer.Option(help="What the crew found.")] = None,
    priority: Annotated[int | None, typer.Option(min=1, max=4, help="Override.")] = None,
) -> None:
    """A crew handles an event it came upon: the incident, the unit on scene, at once."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(at, "--at") if at else (None, None)
        incident = take_initiative(
            session=session,
            ctx=cli_context(),
            settings=settings,
            city=load_city(settings),
            unit_id=unit_by_ref(session, unit).id,
            initiative_in=InitiativeIn(
                type_code=type_code,
                priority=priority,
                description=description,
                address=address,
                lon=lon,
                lat=lat,
            ),
        )
        console.print(
            f"incident {incident.number} (P{incident.priority}) created, "
            f"{unit} on scene on its own initiative",
            highlight=False,
        )
