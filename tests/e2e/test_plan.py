"""The response plan in the console: a fight proposes two crews, one click sends both."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_one_click_sends_the_crews_the_plan_proposes(browser: Any, live_server: LiveServer) -> None:
    lon, lat = grid_lonlat(2.0, 2.0)
    made = live_server.api(
        "POST", "/api/v1/incidents", json={"type_code": "fight", "lon": lon, "lat": lat}
    )
    assert made.status_code == 201, made.text
    incident = made.json()["incident"]
    rec = live_server.api("GET", f"/api/v1/incidents/{incident['id']}/recommendations").json()
    proposed = rec["plan"]["proposed_call_signs"]
    assert len(proposed) == 2

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    try:
        page.goto("/console/dispatch")
        page.wait_for_selector("body[data-ready='1']")
        page.click(f"#queue li[data-id='{incident['id']}']")
        page.click("#recommend")
        line = page.locator("#rec-plan")
        line.wait_for()
        assert "Plan de réponse : 2 équipages, 0 déjà engagé(s)." in line.inner_text()
        page.keyboard.press("p")  # the shortcut of the plan's button
        page.wait_for_function(
            "(id) => Arverne.dispatch.incidents.get(id).assignments"
            ".filter((a) => !a.released_at).length === 2",
            arg=incident["id"],
        )
        view = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
        assert sorted(a["call_sign"] for a in view["assignments"]) == sorted(proposed)
        assert all(a["eta_s"] is not None for a in view["assignments"])
    finally:
        closed = live_server.api(
            "POST", f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "warning"}
        )
        assert closed.status_code == 200, closed.text
        page.context.close()
