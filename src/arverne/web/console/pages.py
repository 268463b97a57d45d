"""Console pages: sign-in, two-factor enrolment, dispatch screen, supervisor dashboard."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from arverne.dispatch import flows, service
from arverne.dispatch.publish import last_event_id
from arverne.dispatch.schemas import Channel, Disposition
from arverne.dispatch.status import UnavailableReason, UnitStatus, UnitType
from arverne.dispatch.taxonomy import INCIDENT_TYPES
from arverne.web.console.guard import PagePrincipal, check, safe_next, signed_in
from arverne.web.console.i18n import LANG_COOKIE, LANGUAGES
from arverne.web.console.render import city_bbox, city_info, render
from arverne.web.deps import CityDep, SessionDep, SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/")
def home(principal: PagePrincipal) -> RedirectResponse:
    """The dispatch screen for dispatchers, the crew terminal for patrol officers, else the
    first page the user may open."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    for permission, target in (
        ("incident:dispatch", "/console/dispatch"),
        ("unit:status", "/console/crew"),  # a patrol officer: the crew terminal
        ("incident:read", "/console/dispatch"),
        ("kpi:read", "/console/dashboard"),
        ("dutylog:read", "/console/log"),
    ):
        if permission in principal.permissions:
            return RedirectResponse(target, status_code=303)
    return RedirectResponse("/console/dispatch", status_code=303)


@router.get("/login")
def login_page(
    request: Request,
    settings: SettingsDep,
    principal: PagePrincipal,
    next_: Annotated[str | None, Query(alias="next", max_length=500)] = None,
    expired: bool = False,
    changed: bool = False,
) -> Response:
    """Sign-in form (password, then the one-time code when the account uses TOTP)."""
    target = safe_next(next_)
    if principal is not None and not (expired or changed):
        return RedirectResponse(target, status_code=303)
    return render(
        request,
        "login.html",
        settings=settings,
        principal=None,
        page="login",
        data={"next": target},
        expired=expired,
        changed=changed,
    )


@router.get("/console/account")
def account_page(request: Request, settings: SettingsDep, principal: PagePrincipal) -> Response:
    """One's own account (every signed-in user): password, second factor, API tokens.

    Where a session whose password an administrator set is sent (``guard.check``): it
    may do nothing else until it has chosen its own.
    """
    refused = signed_in(request, principal)
    if refused is not None:
        return refused
    assert principal is not None  # signed_in sends the signed-out to the sign-in page
    return render(
        request,
        "account.html",
        settings=settings,
        principal=principal,
        page="account",
        must_change=principal.password_change_required,
    )


@router.get("/mfa")
def mfa_page(request: Request, settings: SettingsDep, principal: PagePrincipal) -> Response:
    """Two-factor enrolment for accounts whose role requires it."""
    if principal is None:
        return RedirectResponse("/login?next=/mfa", status_code=303)
    return render(request, "mfa.html", settings=settings, principal=principal, page="mfa")


@router.get("/lang/{code}")
def set_language(
    code: str, next_: Annotated[str | None, Query(alias="next", max_length=500)] = None
) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back."""
    response = RedirectResponse(safe_next(next_), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", httponly=True, path="/"
        )
    return response


@router.get("/console/dispatch")
def dispatch_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    principal: PagePrincipal,
) -> Response:
    """The dispatcher's screen: map, incident queue, unit board, forms."""
    refused = check(request, principal, settings, "incident:read")
    if refused is not None:
        return refused
    assert principal is not None
    # Read the event position first: events after it are replayed, so nothing is missed.
    last_id = last_event_id(session)
    targets = flows.targets_for(settings)
    checks = flows.checks_for(settings)
    incidents = [
        service.incident_out(i, targets=targets).model_dump(mode="json")
        for i in service.list_incidents(session, status=list(service.OPEN_STATUSES), limit=2000)
    ]
    units = (
        [service.unit_out(u, checks).model_dump(mode="json") for u in service.list_units(session)]
        if "unit:read" in principal.permissions
        else []
    )
    data = {
        "last_event_id": last_id,
        "incidents": incidents,
        "units": units,
        "types": [
            {
                "code": t.code,
                "group": t.group,
                "label_fr": t.label_fr,
                "label_en": t.label_en,
                "priority": int(t.priority),
            }
            for t in INCIDENT_TYPES
        ],
        "targets": {str(int(p)): s for p, s in targets.items()},
        "bbox": city_bbox(city, settings.city_bbox),
        # Only a city pack has addresses; without one, incidents are placed on the map.
        "geocoder": city_info(city).get("method") == "road_network",
        "tile_url": settings.console_tile_url,
        "tile_attribution": settings.console_tile_attribution,
        "duplicate_radius_m": settings.duplicate_radius_m,
        "duplicate_window_minutes": settings.duplicate_window_minutes,
        "reopen_window_hours": settings.reopen_window_hours,
        "dispositions": [d.value for d in Disposition if d is not Disposition.CANCELLED],
        "reasons": [r.value for r in UnavailableReason],
        "statuses": [s.value for s in UnitStatus],
        "unit_types": [u.value for u in UnitType],
        "channels": [c.value for c in Channel],
    }
    return render(
        request,
        "dispatch.html",
        settings=settings,
        principal=principal,
        page="dispatch",
        data=data,
        statuses=[s.value for s in UnitStatus],
    )


@router.get("/console/dashboard")
def dashboard_page(request: Request, settings: SettingsDep, principal: PagePrincipal) -> Response:
    """Supervisor dashboard: open incidents, unit availability, response times (charts)."""
    refused = check(request, principal, settings, "kpi:read")
    if refused is not None:
        return refused
    midnight = dt.datetime.now(settings.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    data = {
        "targets": {str(int(p)): s for p, s in flows.targets_for(settings).items()},
        "today_since": midnight.isoformat(),
    }
    return render(
        request,
        "dashboard.html",
        settings=settings,
        principal=principal,
        page="dashboard",
        data=data,
    )
