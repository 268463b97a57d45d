"""The analyst's screen: hot spots and forecasts on the map, trends, heatmap, backtests.

The page is a shell: its script reads ``/api/v1/analysis/*`` (the same endpoints an
outside tool would use), so the page and the API can never disagree.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arverne.analysis import backtests
from arverne.analysis.flows import METHODS, default_cell_m
from arverne.analytics.categories import TAXONOMY
from arverne.analytics.responsible import ENFORCEMENT_DRIVEN
from arverne.web.console.guard import PagePrincipal, check
from arverne.web.console.render import city_bbox, render
from arverne.web.deps import CityDep, SettingsDep
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

#: Look-back periods offered by the page, in days.
PERIODS = (90, 180, 365, 730)


@router.get("/console/analysis")
def analysis_page(
    request: Request, settings: SettingsDep, city: CityDep, principal: PagePrincipal
) -> Response:
    """Hot-spot and forecast map, trend and heatmap, backtest table, forecast log.

    Parameters
    ----------
    request, settings, city, principal
        The request, the settings, the loaded city model and the signed-in user.

    Returns
    -------
    Response
        The page, or a sign-in redirect or a 403 page for roles without ``analytics:read``.
    """
    refused = check(request, principal, settings, "analytics:read")
    if refused is not None:
        return refused
    area, crs = city.study_area()
    data = {
        "bbox": city_bbox(city, settings.city_bbox),
        "tile_url": settings.console_tile_url,
        "tile_attribution": settings.console_tile_attribution,
        "methods": list(METHODS),
        "coverages": list(backtests.COVERAGES),
        "max_windows": backtests.MAX_WINDOWS,
        "max_train_days": backtests.MAX_TRAIN_DAYS,
    }
    return render(
        request,
        "analysis.html",
        settings=settings,
        principal=principal,
        page="analysis",
        data=data,
        methods=list(METHODS),
        coverages=[(c, f"{c * 100:g}") for c in backtests.COVERAGES],
        categories=list(TAXONOMY),
        enforcement=sorted(ENFORCEMENT_DRIVEN),
        periods=PERIODS,
        default_cell_m=int(default_cell_m(area, crs)),
    )
