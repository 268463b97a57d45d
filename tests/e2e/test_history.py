"""Premise history in the console: a dispatcher placing a new call at a place where a
fight happened sees the warning before saving, and the detail panel lists the earlier
incidents there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_the_place_s_history_shows_in_the_form_and_the_detail(
    browser: Any, live_server: LiveServer
) -> None:
    lon, lat = grid_lonlat(4.0, 0.0)  # a corner of the town no other test uses
    earlier = []
    for type_code in ("fight", "theft"):
        made = live_server.api(
            "POST", "/api/v1/incidents", json={"type_code": type_code, "lon": lon, "lat": lat}
        )
        assert made.status_code == 201, made.text
        earlier.append(made.json()["incident"])
        closed = live_server.api(
            "POST",
            f"/api/v1/incidents/{earlier[-1]['id']}/close",
            json={"disposition": "report_taken"},
        )
        assert closed.status_code == 200, closed.text

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.keyboard.press("n")
    page.select_option("#f-type", "noise")
    page.evaluate("([lon, lat]) => Arverne.dispatch.form.place(lon, lat)", [lon, lat])
    page.wait_for_selector("#f-history .history-care")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "place-history-form.png"))
    warning = page.inner_text("#f-history")
    assert "2" in warning
    assert "risque" in warning
    page.click("#f-submit")
    page.wait_for_selector("#d-history-list li")
    items = page.locator("#d-history-list li")
    assert items.count() == 2
    assert [items.nth(i).get_attribute("data-id") for i in range(2)] == [
        str(earlier[1]["id"]),
        str(earlier[0]["id"]),
    ]  # newest first
    assert page.locator("#d-history-list li.history-care").count() == 1
    assert "Rixe" in page.inner_text("#d-history-list li.history-care")
    assert page.locator("#d-history-body .history-care[role='alert']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "place-history-detail.png"))
    number = page.inner_text("#side-title")
    created = live_server.api("GET", "/api/v1/incidents").json()
    (mine,) = [i for i in created if i["number"] == number]
    closed = live_server.api(
        "POST", f"/api/v1/incidents/{mine['id']}/close", json={"disposition": "report_taken"}
    )
    assert closed.status_code == 200, closed.text
    page.context.close()
