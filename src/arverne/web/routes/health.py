"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from arverne.store.migrate import current_revision, head_revision
from arverne.store.session import READ_ONLY
from arverne.web.problems import problem
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    """Answer 200 while the process runs; touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated")
def readyz(request: Request) -> JSONResponse:
    """Answer 200 when the database answers and its schema is at the newest migration."""
    engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True})
            connection.execute(text("SELECT 1"))
        current = current_revision(engine)
    except Exception as exc:
        return problem(request, 503, kind="not-ready", detail=f"database unreachable: {exc}")
    head = head_revision()
    if current != head:
        return problem(
            request,
            503,
            kind="not-ready",
            detail=f"database schema is at {current or 'nothing'} but this version needs {head}; "
            "run `arverne db upgrade`",
        )
    return JSONResponse({"status": "ready", "database": engine.dialect.name, "revision": current})
