"""Splitting a second event out of an incident from the console: the dispatcher picks
the new type, ticks the call and the unit that belong to it, says why; the new incident
joins the queue with them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_a_second_event_is_split_out_from_the_detail_panel(
    browser: Any, live_server: LiveServer
) -> None:
    lon, lat = grid_lonlat(3.0, 2.0)
    made = live_server.api(
        "POST", "/api/v1/incidents", json={"type_code": "noise", "lon": lon, "lat": lat}
    )
    assert made.status_code == 201, made.text
    first = made.json()["incident"]
    linked = live_server.api(
        "POST",
        f"/api/v1/incidents/{first['id']}/calls",
        json={"channel": "phone", "description": "la porte du voisin est forcée"},
    )
    assert linked.status_code in (200, 201), linked.text
    calls = live_server.api("GET", f"/api/v1/incidents/{first['id']}").json()["calls"]
    moved_call = calls[1]
    unit_id = live_server.units["PS-12"]
    sent = live_server.api(
        "POST", f"/api/v1/incidents/{first['id']}/dispatch", json={"unit_ids": [unit_id]}
    )
    assert sent.status_code == 200, sent.text

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.click(f"#queue li[data-id='{first['id']}']")
    page.click("#d-split-details summary")
    page.wait_for_selector("#split-form", state="visible")
    # Nothing is sent without a type and a reason; the form says what is missing.
    page.click("#split-submit")
    assert page.inner_text("#err-s-type_code") != ""
    assert page.inner_text("#err-s-reason") != ""
    page.select_option("#d-split-type", "burglary_report")
    page.check(f"#d-split-calls input[value='{moved_call['id']}']")
    page.check(f"#d-split-units input[value='{unit_id}']")
    page.fill("#d-split-reason", "le 2e appel concerne un cambriolage")
    page.click("#split-submit")
    # The new incident is selected; it holds the call and the unit.
    page.wait_for_function(
        "(n) => document.getElementById('side-title').textContent !== n", arg=first["number"]
    )
    page.wait_for_selector(f".assigned-unit[data-unit='{unit_id}']")
    listed = live_server.api("GET", "/api/v1/incidents").json()
    (created,) = [i for i in listed if i.get("split_from") == first["id"]]
    assert page.inner_text("#side-title") == created["number"]
    assert page.locator(f"#queue li[data-id='{created['id']}']").count() == 1
    assert created["type_code"] == "burglary_report"
    assert [c["id"] for c in created["calls"]] == [moved_call["id"]]
    assert [a["unit_id"] for a in created["assignments"] if a["released_at"] is None] == [unit_id]
    source = live_server.api("GET", f"/api/v1/incidents/{first['id']}").json()
    assert (source["status"], len(source["calls"])) == ("queued", 1)
    for incident in (first["id"], created["id"]):
        closed = live_server.api(
            "POST", f"/api/v1/incidents/{incident}/close", json={"disposition": "report_taken"}
        )
        assert closed.status_code == 200, closed.text
    page.context.close()
