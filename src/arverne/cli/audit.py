"""``arverne audit``: check the audit log's hash chain."""

from __future__ import annotations

import typer

from arverne.cli._common import console, db_session, err_console, load_settings
from arverne.security.audit import verify_chain

app = typer.Typer(help="Audit log: verify the hash chain.", no_args_is_help=True)


@app.command()
def verify() -> None:
    """Walk the whole audit chain; exit 1 naming the first altered or removed entry."""
    settings = load_settings()
    with db_session(settings) as session:
        report = verify_chain(session)
    if report.ok:
        console.print(f"audit chain intact: {report.entries} entries")
        return
    err_console.print(
        f"[bold red]audit chain broken:[/] {report.problem}", highlight=False, soft_wrap=True
    )
    raise typer.Exit(1)
