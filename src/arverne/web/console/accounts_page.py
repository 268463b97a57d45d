"""The accounts page (comptes): who may sign in, with which roles; administrators add
accounts, change roles, disable them, set passwords, lift lockouts, remove a lost second
factor and revoke API tokens.

A shell like the other pages: its script reads ``GET /api/v1/users`` (an audited read, with
the page's reason) and acts through the account API, where the rules (the last active
administrator is kept, nobody disables their own account) and the audit trail are.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arverne.security.policy import Role
from arverne.web.console.guard import PagePrincipal, check
from arverne.web.console.render import render
from arverne.web.deps import SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/console/accounts")
def accounts_page(request: Request, settings: SettingsDep, principal: PagePrincipal) -> Response:
    """The platform's accounts; editable with ``user:manage``."""
    refused = check(request, principal, settings, "user:read")
    if refused is not None:
        return refused
    return render(
        request,
        "accounts.html",
        settings=settings,
        principal=principal,
        page="accounts",
        data={"roles": [role.value for role in Role]},
        roles=list(Role),
    )
