"""``arverne demo``: set up the demo world on the embedded database and serve it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, engine_for, load_settings
from arverne.cli.serve import serve
from arverne.demo.service import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_accounts
from arverne.store.migrate import upgrade

app = typer.Typer(help="The demo: fictional accounts on the embedded database.")


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up, then exit.")] = False,
) -> None:
    """Migrate the database, seed the demo world, print the logins and serve."""
    if ctx.invoked_subcommand is not None:
        return
    seed()
    if not no_serve:
        serve(host=host, port=port, workers=1)


@app.command()
def seed() -> None:
    """Migrate the database and create the demo accounts (safe to run again)."""
    settings = load_settings()
    engine = engine_for(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    with db_session(settings) as session:
        created = seed_accounts(session=session, ctx=cli_context())
    console.print(
        f"demo accounts: {len(created)} created, {len(DEMO_ACCOUNTS) - len(created)} already there"
    )
    table = Table("login", "password", "role", "name", title="Demo logins (fictional people)")
    for account in DEMO_ACCOUNTS:
        table.add_row(account.username, DEMO_PASSWORD, ", ".join(account.roles), account.full_name)
    console.print(table)
