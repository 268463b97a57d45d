"""``arverne db``: schema migrations (Alembic is the only way the schema changes)."""

from __future__ import annotations

from typing import Annotated

import typer

from arverne.cli._common import console, engine_for, load_settings
from arverne.store import migrate

app = typer.Typer(help="Database schema: upgrade and inspect migrations.", no_args_is_help=True)


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the database to the newest schema (or REVISION)."""
    settings = load_settings()
    engine = engine_for(settings)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    console.print(
        f"database {engine.url.render_as_string(hide_password=True)}: "
        f"{before or 'empty'} -> {after}"
    )


@app.command()
def current() -> None:
    """Show the database's revision and the newest one this version ships."""
    settings = load_settings()
    engine = engine_for(settings)
    try:
        rev = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    state = "up to date" if rev == head else "needs `arverne db upgrade`"
    console.print(f"current: {rev or 'none'}  head: {head}  ({state})")
