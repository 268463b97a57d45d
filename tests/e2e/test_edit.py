"""Correcting an incident from the console: a noise complaint turns into a fight at
another address; the dispatcher raises it to P1 and moves it, and the detail panel, the
queue and the duty log show the change. Lowering it again asks for a reason. Once
closed, it can be reopened with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, LiveServer, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_an_incident_is_reclassified_and_moved_from_the_detail_panel(
    browser: Any, live_server: LiveServer
) -> None:
    lon, lat = grid_lonlat(0.0, 0.5)
    made = live_server.api(
        "POST",
        "/api/v1/incidents",
        json={"type_code": "noise", "lon": lon, "lat": lat, "description": "musique forte"},
    )
    assert made.status_code == 201, made.text
    incident = made.json()["incident"]
    assert incident["priority"] == 3

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.click(f"#queue li[data-id='{incident['id']}']")
    page.click("#d-edit-details summary")
    page.wait_for_selector("#edit-form", state="visible")
    assert page.input_value("#d-edit-type") == "noise"
    assert page.input_value("#d-edit-priority") == "3"
    assert page.input_value("#d-edit-description") == "musique forte"
    # Nothing changed: nothing is sent.
    page.click("#edit-submit")
    page.wait_for_function(
        "() => document.querySelector('#edit-form .form-error').textContent !== ''"
    )
    page.select_option("#d-edit-type", "assault")
    assert page.input_value("#d-edit-priority") == "2"  # the new type's default
    assert page.inner_text("#edit-form .form-error") == ""
    page.select_option("#d-edit-priority", "1")
    page.fill("#d-edit-description", "bagarre, un blessé")
    page.fill("#d-edit-address", "Avenue Julien")
    page.fill("#d-edit-reason", "2e appel : coups")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "incident-edit.png"))
    page.click("#edit-submit")
    page.wait_for_function("() => document.querySelector('#d-summary .prio').textContent === 'P1'")
    assert "Julien" in page.inner_text("#d-place")
    assert page.locator("#d-edit-details[open]").count() == 0
    page.wait_for_selector("#d-timeline-list li[data-kind='incident_updated']")
    line = page.inner_text("#d-timeline-list li[data-kind='incident_updated']")
    assert "P3 → P1" in line
    assert "2e appel : coups" in line
    stored = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
    assert (stored["type_code"], stored["priority"], stored["street"]) == (
        "assault", 1, "Avenue Julien"
    )  # fmt: skip
    assert stored["description"] == "bagarre, un blessé"

    # Lowering the priority without a reason: the form says so and sends nothing.
    page.click("#d-edit-details summary")
    page.select_option("#d-edit-priority", "4")
    page.click("#edit-submit")
    assert page.inner_text("#err-e-reason") != ""
    assert live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()["priority"] == 1
    page.fill("#d-edit-reason", "calme revenu, plainte à venir")
    page.click("#edit-submit")
    page.wait_for_function("() => document.querySelector('#d-summary .prio').textContent === 'P4'")
    closed = live_server.api(
        "POST", f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "report_taken"}
    )
    assert closed.status_code == 200, closed.text
    page.wait_for_function("() => !document.getElementById('d-edit-details')")

    # Closed (here by another dispatcher): the panel offers to reopen it, with a reason.
    page.click("#d-reopen-details summary")
    page.click("#reopen-submit")
    assert page.inner_text("#err-r-reason") != ""
    page.fill("#d-reopen-reason", "les voisins rappellent : ça reprend")
    page.click("#reopen-submit")
    page.wait_for_selector("#d-edit-details")  # open again: the correction form is back
    page.wait_for_selector(f"#queue li[data-id='{incident['id']}']")
    assert page.text_content("#d-status") == page.evaluate("Arverne.t('incident.status.queued')")
    stored = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
    assert (stored["status"], stored["disposition"]) == ("queued", None)
    closed = live_server.api(
        "POST", f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "report_taken"}
    )
    assert closed.status_code == 200, closed.text
    page.context.close()


def test_an_incident_to_qualify_stands_out_and_opens_its_form(
    browser: Any, live_server: LiveServer
) -> None:
    """A call whose nature is not known yet (a partner's transfer with a type Arverne
    cannot map) is marked in the queue, and its detail opens on the form to qualify it."""
    lon, lat = grid_lonlat(0.5, 0.0)
    made = live_server.api(
        "POST", "/api/v1/incidents", json={"type_code": "to_qualify", "lon": lon, "lat": lat}
    )
    assert made.status_code == 201, made.text
    incident = made.json()["incident"]
    assert incident["priority"] == 2
    row = f"#queue li[data-id='{incident['id']}']"

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    assert "to-qualify" in (page.get_attribute(row, "class") or "")
    assert page.inner_text(f"{row} .inc-type") == "Nature à préciser"
    page.click(row)
    page.wait_for_selector("#d-edit-details[open] #edit-form", state="visible")
    assert "qualifier" in page.inner_text("#d-edit-details summary")
    page.select_option("#d-edit-type", "theft")  # P3 by default: lowering needs a reason
    page.select_option("#d-edit-priority", "2")
    page.click("#edit-submit")
    page.wait_for_function(
        f"() => !document.querySelector(\"{row}\").classList.contains('to-qualify')"
    )
    assert page.locator("#d-edit-details[open]").count() == 0
    stored = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
    assert (stored["type_code"], stored["priority"]) == ("theft", 2)
