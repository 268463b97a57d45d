"""``arverne serve``: run the web platform with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from arverne.cli._common import (
    console,
    domain_errors,
    engine_for,
    load_settings,
    require_migrated,
)
from arverne.dispatch.publish import checks_for, plans_for, targets_for


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the platform (API under /api/v1, docs at /api/docs)."""
    settings = load_settings()
    with domain_errors():  # a city's JSON settings are checked before serving, not per request
        targets_for(settings)
        checks_for(settings)
        plans_for(settings)
    engine = engine_for(settings)
    try:
        require_migrated(engine)
    finally:
        engine.dispose()
    console.print(f"Arverne on http://{host}:{port}  (database: {engine.dialect.name})")
    uvicorn.run(
        "arverne.web.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
