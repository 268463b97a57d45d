"""``arverne unit check | checks | distress``: crew safety from a terminal.

The same flows as ``POST /api/v1/units/{id}/check`` (the answer goes to the duty log, and
``ok`` restarts the unit's timer) and ``POST /api/v1/units/{id}/distress``.
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
from arverne.dispatch.crew_schemas import CheckIn, DistressIn
from arverne.dispatch.distress import raise_distress


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
