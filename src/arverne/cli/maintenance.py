"""``arverne maintenance``: retention purges (also scheduled while the server runs)."""

from __future__ import annotations

import typer
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, load_settings
from arverne.maintenance import service

app = typer.Typer(help="Housekeeping: retention purges.", no_args_is_help=True)


@app.command("purge")
def purge() -> None:
    """Delete AVL positions, live events and idempotency keys older than their retention."""
    settings = load_settings()
    with db_session(settings) as session:
        report = service.purge(session, settings, cli_context())
    table = Table("purged", "rows", "kept for", title="Retention purge")
    table.add_row(
        "unit positions (AVL)", str(report.positions), f"{settings.position_retention_days} days"
    )
    table.add_row("live events", str(report.events), f"{settings.event_retention_days} days")
    table.add_row(
        "idempotency keys", str(report.idempotency_keys), f"{service.IDEMPOTENCY_DAYS} days"
    )
    console.print(table)
