"""The dispatcher and supervisor web console: server-rendered pages and their assets.

Pages live outside the API's ``ROUTERS`` and outside the OpenAPI schema; they call the
same service functions as the API, and their scripts use the API and its event stream.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from arverne.web.console import (
    accounts_page,
    analysis_page,
    crew_page,
    dutylog_page,
    incident_print,
    officers_page,
    pages,
)
from arverne.web.console.render import STATIC_DIR

CONSOLE_ROUTERS = (
    pages.router,
    dutylog_page.router,
    analysis_page.router,
    incident_print.router,
    crew_page.router,
    officers_page.router,
    accounts_page.router,
)


def mount_console(app: FastAPI) -> None:
    """Add the console's pages and its static files (``/static``) to ``app``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in CONSOLE_ROUTERS:
        app.include_router(router)
