"""Merging a duplicate incident from the console: pick the incident that stays (nearest
first), say why; the duplicate leaves the queue, its call and unit move over."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_a_duplicate_is_merged_from_the_detail_panel(browser: Any, live_server: LiveServer) -> None:
    made = []
    for row, col, type_code in ((3.0, 2.0, "fight"), (3.0, 2.2, "assault")):
        lon, lat = grid_lonlat(row, col)
        answer = live_server.api(
            "POST", "/api/v1/incidents", json={"type_code": type_code, "lon": lon, "lat": lat}
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["incident"])
    kept, extra = made
    unit_id = live_server.units["PS-12"]
    sent = live_server.api(
        "POST", f"/api/v1/incidents/{extra['id']}/dispatch", json={"unit_ids": [unit_id]}
    )
    assert sent.status_code == 200, sent.text

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.click(f"#queue li[data-id='{extra['id']}']")
    page.wait_for_selector("#merge-form")
    # The nearest open incident is offered first.
    first_choice = page.eval_on_selector(
        "#d-merge-into", "s => s.options[1] && Number(s.options[1].value)"
    )
    assert first_choice == kept["id"]
    # Nothing is sent without a reason; the form says what is missing.
    page.select_option("#d-merge-into", str(kept["id"]))
    page.click("#merge-submit")
    assert page.inner_text("#err-m-reason") != ""
    assert live_server.api("GET", f"/api/v1/incidents/{extra['id']}").json()["status"] == (
        "dispatched"
    )
    page.fill("#d-merge-reason", "même rixe, deux appelants")
    page.click("#merge-submit")
    # The duplicate leaves the queue; the panel shows the incident that stays.
    page.wait_for_selector(f"#queue li[data-id='{extra['id']}']", state="detached")
    page.wait_for_function(
        "(n) => document.getElementById('side-title').textContent === n", arg=kept["number"]
    )
    page.wait_for_selector(f".assigned-unit[data-unit='{unit_id}']")
    assert "(2)" in page.inner_text("#d-calls h3")
    gone = live_server.api("GET", f"/api/v1/incidents/{extra['id']}").json()
    assert (gone["status"], gone["merged_into"]) == ("cancelled", kept["id"])
    stays = live_server.api("GET", f"/api/v1/incidents/{kept['id']}").json()
    assert stays["priority"] == 1
    assert len(stays["calls"]) == 2
    closed = live_server.api(
        "POST", f"/api/v1/incidents/{kept['id']}/close", json={"disposition": "arrest"}
    )
    assert closed.status_code == 200, closed.text
    page.context.close()
