"""The dispatcher's journey in a real browser, watched live by a second dispatcher.

The live server has the test town's city pack: the incident is created from a typed address
(autocomplete), gets its street and district, and units are ranked by road travel time. A
server without a city pack covers the map-click intake with straight-line ETAs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.timeout(120)
ADDRESS = "3 rue Blatin"  # a house number of the test town, west district
WHERE = (3.0832, 45.7771)  # Place de Jaude, Clermont-Ferrand (for the server without a pack)


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']")


def _type_address(page: Any) -> None:
    """Type the address, pick the first suggestion with the keyboard."""
    page.locator("#f-address").press_sequentially(ADDRESS, delay=20)
    page.wait_for_selector("#f-address-list li.suggestion:has-text('Blatin')")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#f-point:has-text('45.7')")
    assert "Blatin" in page.input_value("#f-address")


def _journey(browser: Any, server: LiveServer, artifacts: Path) -> None:
    viewport = {"width": 1366, "height": 768}
    page = sign_in(browser, server, "operateur", viewport=viewport)
    watcher = sign_in(browser, server, "operateur2", viewport=viewport)
    for p in (page, watcher):
        p.goto("/console/dispatch")
        _ready(p)
    assert page.locator("#live-status").is_hidden()  # the stream is up

    # The map draws the city pack's streets, main roads wider (OSM `highway` class).
    page.wait_for_function("Arverne.dispatch.map.drawn.streets > 0")
    drawn = page.evaluate("Arverne.dispatch.map.drawn")
    assert drawn["districts"] >= 2, drawn
    assert 0 < drawn["major"] < drawn["streets"], drawn

    # New incident (N), type with its priority shown, placed by typing its address.
    page.keyboard.press("n")
    page.select_option("#f-type", "assault")
    assert "P2" in page.inner_text("#f-type-prio")
    _type_address(page)
    page.fill("#f-description", f"E2E {server.backend}: altercation devant le n° 3")
    page.click("#f-submit")
    page.wait_for_selector("#incident-detail:not([hidden]) #d-status")
    number = page.inner_text("#side-title")
    assert re.fullmatch(r"\d{4}-\d{6}", number), number
    incident_id = int(number.split("-")[1])
    # Geocoded, snapped to its street and placed in its district.
    assert "Blatin" in page.inner_text("#d-place")
    assert page.inner_text("#d-district") == "Ouest"
    created = server.api("GET", f"/api/v1/incidents/{incident_id}").json()
    assert created["street"] == "Rue Blatin", created
    assert created["district"] == "Ouest", created

    # The other dispatcher sees it appear without reloading.
    row = f"#queue li[data-id='{incident_id}']"
    watcher.wait_for_selector(row, timeout=5000)
    assert "Violences" in watcher.inner_text(row)

    # Recommend (R): candidates with ETAs; assign the first with a double click (once only).
    page.keyboard.press("r")
    page.wait_for_selector(".rec-table tbody tr")
    first = page.locator(".rec-table tbody tr").first
    assert re.fullmatch(r"\d+:\d{2}", first.locator(".eta").inner_text())
    # ETAs by road on the city pack's network, and the screen says so.
    assert page.get_attribute("#rec-method", "data-method") == "road_network"
    ranked = server.api("GET", f"/api/v1/incidents/{incident_id}/recommendations").json()
    assert ranked["method"] == "road_network"
    unit_sign = first.locator(".call-sign").inner_text()
    unit_id = server.units[unit_sign]
    first.locator("[data-assign]").dblclick()
    page.wait_for_selector(f".assigned-unit[data-unit='{unit_id}']")
    incident = server.api("GET", f"/api/v1/incidents/{incident_id}").json()
    assert len(incident["assignments"]) == 1
    assert incident["status"] == "dispatched"

    # Watcher: incident status and unit board follow live.
    watcher.wait_for_selector(f"{row} .status-dispatched", timeout=5000)
    watcher.wait_for_selector(
        f"section[data-status='dispatched'] li[data-id='{unit_id}']", timeout=5000
    )

    # The unit reports on scene from the detail panel.
    page.click(f".assigned-unit[data-unit='{unit_id}'] [data-status='on_scene']")
    watcher.wait_for_selector(
        f"section[data-status='on_scene'] li[data-id='{unit_id}']", timeout=5000
    )
    watcher.wait_for_selector(f"{row} .status-on_scene", timeout=5000)

    # Close with a disposition: it leaves both queues; the unit is free again.
    page.select_option("#d-disposition", "advice_given")
    page.fill("#d-close-note", "Parties séparées, conseils donnés")
    page.click("#close-submit")
    page.wait_for_selector(f"{row}", state="detached")
    watcher.wait_for_selector(row, state="detached", timeout=5000)
    watcher.wait_for_selector(
        f"section[data-status='available'] li[data-id='{unit_id}']", timeout=5000
    )

    # The duty log shows every step of the incident.
    page.goto(f"/console/log?incident_id={incident_id}")
    kinds = page.eval_on_selector_all(
        "#log-table tbody tr", "rows => rows.map(r => r.dataset.kind)"
    )
    for kind in ("incident_created", "unit_dispatched", "unit_status", "incident_closed"):
        assert kind in kinds, kinds
    assert kinds.index("incident_created") < kinds.index("unit_dispatched")
    assert kinds.index("unit_dispatched") < kinds.index("incident_closed")
    # Written in French, as the legal record it is (the codes stay in the entry's data).
    text = page.inner_text("#log-table tbody")
    moves = page.eval_on_selector_all(
        "#log-table tbody tr[data-kind='unit_status']", "rows => rows.map(r => r.innerText)"
    )
    assert any(f"{unit_sign} : engagé → sur les lieux" in m for m in moves), (unit_sign, moves)
    assert "Rue Blatin" in text
    assert "conseils donnés" in text
    assert "on_scene" not in text
    assert "advice_given" not in text
    page.context.close()
    watcher.context.close()


def test_dispatch_journey_sqlite(browser: Any, live_server: LiveServer, artifacts: Path) -> None:
    _journey(browser, live_server, artifacts)


def test_map_click_intake_without_city_pack(
    browser: Any, bare_server: LiveServer, artifacts: Path
) -> None:
    """No city pack: the form says so, the incident is placed by a click, ETAs are straight."""
    page = sign_in(browser, bare_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    _ready(page)
    page.keyboard.press("n")
    page.wait_for_selector("#f-where:has-text('géocodeur')")
    page.select_option("#f-type", "theft")
    point = page.evaluate(
        "([lon, lat]) => { const p = Arverne.dispatch.map.map.latLngToContainerPoint([lat, lon]);"
        " return {x: p.x, y: p.y}; }",
        list(WHERE),
    )
    page.click("#map", position=point)
    page.wait_for_selector("#f-point:has-text('45.77')")
    page.click("#f-submit")
    page.wait_for_selector("#incident-detail:not([hidden]) #d-status")
    page.click("#recommend")
    page.wait_for_selector(".rec-table tbody tr[data-unit]")
    assert page.get_attribute("#rec-method", "data-method") == "straight_line"
    page.context.close()


@pytest.mark.postgres
def test_dispatch_journey_postgresql(
    browser: Any, pg_live_server: LiveServer, artifacts: Path
) -> None:
    _journey(browser, pg_live_server, artifacts)
