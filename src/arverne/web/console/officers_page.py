"""The officers page (agents): who the force's officers are, the login account each uses
on the crew terminal and the unit they crew; administrators add, rename, link and
disable them.

A shell like the other pages: its script reads ``GET /api/v1/officers`` (an audited read,
with the page's reason) and acts through ``POST`` / ``PATCH /api/v1/officers``, where the
rules and the audit trail are.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arverne.web.console.guard import PagePrincipal, check
from arverne.web.console.render import render
from arverne.web.deps import SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/console/officers")
def officers_page(request: Request, settings: SettingsDep, principal: PagePrincipal) -> Response:
    """The force's officers; editable with ``officer:manage``."""
    refused = check(request, principal, settings, "officer:read")
    if refused is not None:
        return refused
    return render(
        request, "officers.html", settings=settings, principal=principal, page="officers", data={}
    )
