"""The dispatcher's journey in a real browser, watched live by a second dispatcher."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.timeout(120)
ADDRESS = "Place de Jaude"
WHERE = (3.0832, 45.7771)  # Place de Jaude, Clermont-Ferrand


def _ready(page: Any) -> None:
    page.wait_for_selector("body[data-ready='1']")


def _place_incident(page: Any, server: LiveServer) -> str:
    """Type the address when the city has a geocoder, else click the map; return how."""
    answer = server.api("GET", "/api/v1/geo/geocode", params={"q": ADDRESS})
    if answer.status_code == 200 and answer.json().get("candidates"):
        page.fill("#f-address", ADDRESS)
        page.wait_for_selector("#f-address-list li.suggestion")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_selector("#f-point:has-text('45.')")
        return "address"
    point = page.evaluate(
        "([lon, lat]) => { const p = Arverne.dispatch.map.map.latLngToContainerPoint([lat, lon]);"
        " return {x: p.x, y: p.y}; }",
        list(WHERE),
    )
    page.click("#map", position=point)
    page.wait_for_selector("#f-point:has-text('45.77')")
    return "map"


def _journey(browser: Any, server: LiveServer, artifacts: Path) -> None:
    viewport = {"width": 1366, "height": 768}
    page = sign_in(browser, server, "operateur", viewport=viewport)
    watcher = sign_in(browser, server, "operateur2", viewport=viewport)
    for p in (page, watcher):
        p.goto("/console/dispatch")
        _ready(p)
    assert page.locator("#live-status").is_hidden()  # the stream is up

    # New incident (N), type with its priority shown, placed by address or on the map.
    page.keyboard.press("n")
    page.select_option("#f-type", "assault")
    assert "P2" in page.inner_text("#f-type-prio")
    how = _place_incident(page, server)
    page.fill("#f-description", f"E2E {server.backend}: altercation devant la fontaine ({how})")
    page.click("#f-submit")
    page.wait_for_selector("#incident-detail:not([hidden]) #d-status")
    number = page.inner_text("#side-title")
    assert re.fullmatch(r"\d{4}-\d{6}", number), number
    incident_id = int(number.split("-")[1])

    # The other dispatcher sees it appear without reloading.
    row = f"#queue li[data-id='{incident_id}']"
    watcher.wait_for_selector(row, timeout=5000)
    assert "Violences" in watcher.inner_text(row)

    # Recommend (R): candidates with ETAs; assign the first with a double click (once only).
    page.keyboard.press("r")
    page.wait_for_selector(".rec-table tbody tr")
    first = page.locator(".rec-table tbody tr").first
    assert re.fullmatch(r"\d+:\d{2}", first.locator(".eta").inner_text())
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
    page.context.close()
    watcher.context.close()


def test_dispatch_journey_sqlite(browser: Any, live_server: LiveServer, artifacts: Path) -> None:
    _journey(browser, live_server, artifacts)


@pytest.mark.postgres
def test_dispatch_journey_postgresql(
    browser: Any, pg_live_server: LiveServer, artifacts: Path
) -> None:
    _journey(browser, pg_live_server, artifacts)
