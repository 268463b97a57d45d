"""The crew terminal (terminal embarqué), a patrol officer's own unit on a phone or tablet,
and the supervisor's crews page (composition des patrouilles).

The page is a shell: its script reads ``/api/v1/units/mine``, the unit's incident and its
duty log through the API and follows the event stream, and acts through the same routes
as any client (status, status check, position, distress, notes, sign on and off), where
the crew rule of :mod:`arverne.dispatch.crew` applies. Without network, status changes,
notes and positions wait on the device and are sent late with their time and an
``Idempotency-Key`` (``static/js/outbox.js``). The crews page reads the units and
the officers (``GET /api/v1/officers``, an audited read) and sets crews by badge
(``PUT /api/v1/units/{id}/crew``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from arverne.dispatch.publish import last_event_id
from arverne.dispatch.status import UnavailableReason, UnitStatus, allowed_next
from arverne.dispatch.taxonomy import INCIDENT_TYPES
from arverne.web.console.guard import PagePrincipal, check
from arverne.web.console.render import STATIC_DIR, city_bbox, language, render
from arverne.web.deps import CityDep, SessionDep, SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)


@router.get("/console/crew")
def crew_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    principal: PagePrincipal,
) -> Response:
    """The unit the signed-in officer crews: its status, its incident, its alarms."""
    refused = check(request, principal, settings, "unit:status")
    if refused is not None:
        return refused
    # Read the event position first: the script replays what happens after it.
    last_id = last_event_id(session)
    english = language(request, settings) == "en"
    data = {
        "last_event_id": last_id,
        "types": {t.code: t.label_en if english else t.label_fr for t in INCIDENT_TYPES},
        "reasons": [r.value for r in UnavailableReason],
        # The state machine, to show a change waiting in the outbox as made.
        "transitions": {s.value: allowed_next(s) for s in UnitStatus},
        "bbox": city_bbox(city, settings.city_bbox),
        "tile_url": settings.console_tile_url,
        "tile_attribution": settings.console_tile_attribution,
    }
    return render(
        request, "crew.html", settings=settings, principal=principal, page="crew", data=data
    )


@router.get("/console/crew-sw.js")
def crew_service_worker() -> Response:
    """The crew terminal's service worker (``static/js/crew-sw.js``), served under
    ``/console/`` so that its scope can be the terminal's page."""
    return FileResponse(
        STATIC_DIR / "js" / "crew-sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/console/crews")
def crews_page(
    request: Request, session: SessionDep, settings: SettingsDep, principal: PagePrincipal
) -> Response:
    """The supervisor's composition of patrols: every unit's crew, edited by badge."""
    refused = check(request, principal, settings, "unit:manage")
    if refused is not None:
        return refused
    last_id = last_event_id(session)
    return render(
        request,
        "crews.html",
        settings=settings,
        principal=principal,
        page="crews",
        data={"last_event_id": last_id},
    )
