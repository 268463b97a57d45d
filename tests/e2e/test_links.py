"""Linking related incidents from the console: a robbery and the crash of the getaway car
stay two incidents, each shows the other. The dispatcher links an open one picked nearest
first, removes the link with a reason, and links a closed one by typing its number; a link
made elsewhere shows up live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, run_axe, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def _create(live_server: LiveServer, type_code: str, row: float, col: float) -> dict[str, Any]:
    lon, lat = grid_lonlat(row, col)
    made = live_server.api(
        "POST", "/api/v1/incidents", json={"type_code": type_code, "lon": lon, "lat": lat}
    )
    assert made.status_code == 201, made.text
    incident: dict[str, Any] = made.json()["incident"]
    return incident


def _links(live_server: LiveServer, incident_id: int, *, removed: bool = False) -> list[Any]:
    query = "?removed=true" if removed else ""
    answer = live_server.api("GET", f"/api/v1/incidents/{incident_id}/links{query}")
    assert answer.status_code == 200, answer.text
    links: list[Any] = answer.json()
    return links


def test_related_incidents_are_linked_and_unlinked_from_the_detail_panel(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    robbery = _create(live_server, "robbery", 0.5, 4.5)
    crash = _create(live_server, "traffic_damage", 0.5, 4.3)
    earlier = _create(live_server, "robbery", 0.6, 4.5)  # last week's, same shop: closed
    closed = live_server.api(
        "POST", f"/api/v1/incidents/{earlier['id']}/close", json={"disposition": "report_taken"}
    )
    assert closed.status_code == 200, closed.text

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/console/dispatch")
        page.wait_for_selector("body[data-ready='1']")
        page.click(f"#queue li[data-id='{robbery['id']}']")
        page.wait_for_selector("#d-links-note", state="visible")  # loaded: no link yet
        assert page.locator("#d-links-list li").count() == 0
        page.click("#d-link-details summary")
        page.wait_for_selector("#links-form", state="visible")
        # The nearest open incident is offered first.
        first_choice = page.eval_on_selector(
            "#d-link-other", "s => s.options[1] && Number(s.options[1].value)"
        )
        assert first_choice == crash["id"]
        # Nothing is sent without a reason; the form says what is missing.
        page.select_option("#d-link-other", str(crash["id"]))
        page.click("#link-submit")
        assert page.inner_text("#err-l-reason") != ""
        assert _links(live_server, robbery["id"]) == []
        page.fill("#d-link-reason", "véhicule des auteurs accidenté en fuite")
        page.click("#link-submit")
        row = page.wait_for_selector(f"#d-links-list li[data-id='{crash['id']}']")
        assert crash["number"] in row.inner_text()
        # The duty log line reaches the timeline live.
        page.wait_for_selector("#d-timeline-list li[data-kind='incident_linked']")
        (seen_from_robbery,) = _links(live_server, robbery["id"])
        assert (seen_from_robbery["incident_id"], seen_from_robbery["reason"]) == (
            crash["id"],
            "véhicule des auteurs accidenté en fuite",
        )
        assert seen_from_robbery["created_by"] == "operateur"
        (seen_from_crash,) = _links(live_server, crash["id"])
        assert seen_from_crash["incident_id"] == robbery["id"]
        # The linked incident is open: a click opens it, and it shows the link back.
        page.click(f"#d-links-list li[data-id='{crash['id']}'] .link-open")
        page.wait_for_function(
            "(n) => document.getElementById('side-title').textContent === n", arg=crash["number"]
        )
        page.wait_for_selector(f"#d-links-list li[data-id='{robbery['id']}']")
        page.click(f"#d-links-list li[data-id='{robbery['id']}'] .link-open")
        page.wait_for_function(
            "(n) => document.getElementById('side-title').textContent === n", arg=robbery["number"]
        )

        # Removing the link: an inline reason, required, never a browser prompt.
        page.click(f"#d-links-list li[data-id='{crash['id']}'] .link-remove")
        page.wait_for_selector(f"#d-unlink-{crash['id']}", state="visible")
        page.click(f"#unlink-submit-{crash['id']}")
        assert page.inner_text(f"#err-u-{crash['id']}-reason") != ""
        assert len(_links(live_server, robbery["id"])) == 1
        page.fill(f"#d-unlink-reason-{crash['id']}", "plaque mal relevée : autre véhicule")
        page.click(f"#unlink-submit-{crash['id']}")
        page.wait_for_selector(f"#d-links-list li[data-id='{crash['id']}']", state="detached")
        assert _links(live_server, robbery["id"]) == []
        assert _links(live_server, crash["id"]) == []
        (removed,) = _links(live_server, robbery["id"], removed=True)
        assert removed["incident_id"] == crash["id"]
        assert removed["removed_at"] is not None
        assert (removed["removed_by"], removed["removed_reason"]) == (
            "operateur",
            "plaque mal relevée : autre véhicule",
        )

        # A closed incident is linked by its number; a wrong year names no incident.
        page.click("#d-link-details summary")
        page.wait_for_selector("#links-form", state="visible")
        year, serial = earlier["number"].split("-")
        page.fill("#d-link-number", f"{int(year) - 1}-{serial}")
        page.fill("#d-link-reason", "même commerce, même mode opératoire")
        page.click("#link-submit")
        page.wait_for_function("() => document.getElementById('err-l-other').textContent !== ''")
        assert _links(live_server, robbery["id"]) == []
        page.fill("#d-link-number", earlier["number"])
        page.click("#link-submit")
        row = page.wait_for_selector(f"#d-links-list li[data-id='{earlier['id']}']")
        assert earlier["number"] in row.inner_text()
        assert row.eval_on_selector(".inc-status", "s => s.textContent") == "Clôturée"
        assert page.locator(f"#d-links-list li[data-id='{earlier['id']}'] .link-open").count() == 0
        (back,) = _links(live_server, earlier["id"])
        assert (back["incident_id"], back["reason"]) == (
            robbery["id"],
            "même commerce, même mode opératoire",
        )

        # A link made elsewhere (here by the supervisor, from the other side) shows up live.
        relinked = live_server.api(
            "POST",
            f"/api/v1/incidents/{crash['id']}/links",
            json={"other": robbery["id"], "reason": "finalement le bon véhicule"},
        )
        assert relinked.status_code == 201, relinked.text
        page.wait_for_selector(f"#d-links-list li[data-id='{crash['id']}']")
        rows = page.query_selector_all("#d-links-list li")
        assert [li.get_attribute("data-id") for li in rows] == [
            str(earlier["id"]),
            str(crash["id"]),
        ]
        # Both forms open: labelled fields, buttons with text.
        page.click("#d-link-details summary")
        page.click(f"#d-links-list li[data-id='{crash['id']}'] .link-remove")
        page.wait_for_selector(f"#d-unlink-{crash['id']}", state="visible")
        page.screenshot(path=str(artifacts / "incident-links.png"))
        assert run_axe(page) == []
        assert errors == []
    finally:
        page.context.close()
        # Closed even when the test fails: other tests expect no stray open incident here.
        for incident in (robbery["id"], crash["id"]):
            live_server.api(
                "POST", f"/api/v1/incidents/{incident}/close", json={"disposition": "report_taken"}
            )
    for incident in (robbery, crash):
        assert live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()["status"] == (
            "closed"
        )
