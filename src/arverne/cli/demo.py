"""``arverne demo``: the Clermont-Ferrand demo world on the embedded database, served live."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arverne.cli._common import cli_context, console, db_session, engine_for, load_settings
from arverne.cli.serve import serve
from arverne.demo.service import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    seed_accounts,
    seed_agent_officer,
)
from arverne.dispatch.check_rules import DEFAULT_CHECK_MINUTES
from arverne.store.migrate import upgrade

app = typer.Typer(help="The demo: a fictional Clermont-Ferrand shift in progress.")
DEFAULT_PACK = Path("var/demo-city")


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    speed: Annotated[
        float, typer.Option(min=0.1, max=600, help="Simulated clock speed (x real time).")
    ] = 5.0,
    rate: Annotated[
        float, typer.Option(min=0, max=10_000, help="Simulated calls per simulated hour.")
    ] = 12.0,
    auto_dispatch: Annotated[
        float,
        typer.Option(min=0, max=3600, help="Seconds before the simulator dispatches by itself."),
    ] = 45.0,
    live: Annotated[bool, typer.Option(help="Run the live shift (simulated calls).")] = True,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up, then exit.")] = False,
) -> None:
    """Set up the demo world (first run only), print the logins and serve a live shift."""
    if ctx.invoked_subcommand is not None:
        return
    pack = seed()
    if no_serve:
        return
    os.environ["ARVERNE_CITY_PACK"] = str(pack)
    os.environ["ARVERNE_DEMO_LIVE"] = "true" if live else "false"
    os.environ["ARVERNE_DEMO_SPEED"] = str(speed)
    os.environ["ARVERNE_DEMO_RATE_PER_HOUR"] = str(rate)
    os.environ["ARVERNE_DEMO_AUTO_DISPATCH_S"] = str(auto_dispatch)
    if live and "ARVERNE_STATUS_CHECK_MINUTES" not in os.environ:
        os.environ["ARVERNE_STATUS_CHECK_MINUTES"] = demo_check_minutes(speed)
    console.print(
        f"[bold]Live shift[/]: clock x{speed}, {rate:g} calls per simulated hour, "
        f"automatic dispatch after {auto_dispatch:g} s, status checks on the simulated "
        f"clock ({os.environ.get('ARVERNE_STATUS_CHECK_MINUTES')} real minutes); "
        "everything shown is fictional."
    )
    serve(host=host, port=port, workers=1)


def demo_check_minutes(speed: float) -> str:
    """Status-check timers on the live shift's simulated clock, as the JSON of
    ``ARVERNE_STATUS_CHECK_MINUTES``: 20 simulated minutes on scene are 4 real minutes at
    ``speed`` 5 (never less than one real minute)."""
    return json.dumps(
        {
            status.value: max(1, math.ceil(minutes / speed))
            for status, minutes in DEFAULT_CHECK_MINUTES.items()
        }
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )


@app.command()
def seed(
    history_years: Annotated[
        float, typer.Option(min=0, max=10, help="Years of synthetic history to generate.")
    ] = 3.0,
) -> Path:
    """Migrate, build the demo city, create accounts, units and history (safe to rerun)."""
    from arverne.demo.world import seed_world
    from arverne.geo.demo_city import build_demo_pack
    from arverne.geo.pack import load_pack

    settings = load_settings()
    engine = engine_for(settings)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    pack_dir = settings.city_pack or DEFAULT_PACK
    if not (pack_dir / "meta.json").exists():
        pack_dir.parent.mkdir(parents=True, exist_ok=True)
        with _progress() as bar:
            task = bar.add_task("building the demo city", total=1.0)
            build_demo_pack(
                pack_dir,
                progress=lambda stage, done: bar.update(task, completed=done, description=stage),
            )
    pack = load_pack(pack_dir)
    with db_session(settings) as session:
        created = seed_accounts(session=session, ctx=cli_context())
        seed_agent_officer(session=session, ctx=cli_context())
    with db_session(settings) as session, _progress() as bar:
        task = bar.add_task("demo world", total=1.0)
        report = seed_world(
            session,
            settings,
            cli_context(),
            pack,
            history_years=history_years,
            progress=lambda stage, done: bar.update(task, completed=done, description=stage),
        )
        bar.update(task, completed=1.0, description="demo world ready")
    console.print(
        f"demo accounts: {len(created)} created; officers: {report.officers} created; "
        f"units: {report.units} created; past incidents: {report.incidents} generated "
        "(0 means they were already there)"
    )
    table = Table("login", "password", "role", "name", title="Demo logins (fictional people)")
    for account in DEMO_ACCOUNTS:
        table.add_row(account.username, DEMO_PASSWORD, ", ".join(account.roles), account.full_name)
    console.print(table)
    console.print(
        "agent is a patrol officer: on a phone or tablet, /console/crew signs them on to a "
        "unit, which the simulation then leaves to them (dispatches still reach it)."
    )
    return pack_dir
