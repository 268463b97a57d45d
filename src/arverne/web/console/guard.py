"""Who is looking at a page: the session cookie, without raising, and page-level checks."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from arverne.config import Settings
from arverne.errors import AuthenticationError
from arverne.security.principal import Principal
from arverne.web.console.render import render
from arverne.web.deps import SESSION_COOKIE, SessionDep, SettingsDep, resolve_caller


def page_principal(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Principal | None:
    """The signed-in user of a page request, or ``None`` (pages redirect, never 401)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:  # pages read in a deferred transaction; the bookkeeping gets its own short one
        return resolve_caller(request, session, settings, cookie, "session")
    except AuthenticationError:
        return None


PagePrincipal = Annotated[Principal | None, Depends(page_principal)]


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after signing in (never another site); by default the
    home page, which opens the first screen of the user's role."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: Request) -> RedirectResponse:
    """Send the browser to the sign-in page, saying whether the session expired."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    expired = "&expired=1" if request.cookies.get(SESSION_COOKIE) else ""
    return RedirectResponse(f"/login?next={quote(here, safe='')}{expired}", status_code=303)


def signed_in(request: Request, principal: Principal | None) -> Response | None:
    """Where to send a caller who cannot use the console yet (sign in, enrol MFA), or None."""
    if principal is None:
        return login_redirect(request)
    if principal.mfa_setup_required:
        return RedirectResponse("/mfa", status_code=303)
    return None


def check(
    request: Request,
    principal: Principal | None,
    settings: Settings,
    permission: str,
) -> Response | None:
    """Return the response to send instead of the page (sign in, enrol MFA, choose one's
    own password, 403), or None."""
    refused = signed_in(request, principal)
    if refused is not None:
        return refused
    assert principal is not None  # signed_in sends the signed-out to the sign-in page
    if principal.password_change_required:  # a password somebody else set: choose one
        return RedirectResponse("/console/account", status_code=303)
    if permission not in principal.permissions:
        return render(
            request,
            "forbidden.html",
            settings=settings,
            principal=principal,
            page="forbidden",
            status_code=403,
            permission=permission,
        )
    return None
