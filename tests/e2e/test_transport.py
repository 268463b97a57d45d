"""A unit goes "transporting" from the console: the first click asks where to, the second
sends it; the destination reaches the incident's assignment and the duty log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, crew_on_scene, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_transporting_asks_for_the_destination(browser: Any, live_server: LiveServer) -> None:
    incident, unit_id = crew_on_scene(live_server, "assault", grid_lonlat(1.0, 3.0), "PS-11")

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.click(f"#queue li[data-id='{incident['id']}']")
    button = f".assigned-unit[data-unit='{unit_id}'] [data-status='transporting']"
    page.click(button)
    page.wait_for_selector(f"#dest-{unit_id}")
    page.click(button)  # empty: nothing is sent
    assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["status"] == "on_scene"
    page.fill(f"#dest-{unit_id}", "CHU Gabriel-Montpied")
    page.click(button)
    page.wait_for_function(
        "(id) => Arverne.dispatch.units.get(id).status === 'transporting'", arg=unit_id
    )
    view = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
    assert view["assignments"][0]["transport_to"] == "CHU Gabriel-Montpied"
    page.wait_for_selector("#d-timeline-list li:has-text('vers CHU Gabriel-Montpied')")
    closed = live_server.api(
        "POST", f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "arrest"}
    )
    assert closed.status_code == 200, closed.text
    page.context.close()
