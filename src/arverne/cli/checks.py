"""``arverne unit check | checks``: status checks (contrôle de situation) from a terminal.

The same flow as ``POST /api/v1/units/{id}/check``: the answer goes to the duty log, and
``ok`` restarts the unit's timer.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, domain_errors, load_settings
from arverne.cli.dispatch import unit_by_ref
from arverne.dispatch import checks
from arverne.dispatch.schemas import CheckIn


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
