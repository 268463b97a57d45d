"""The crew terminal on a phone: a patrol officer signs on to a unit, shares the phone's
position, is sent to an incident (seen live), reports en route and on scene, answers the
status check, adds a note, and raises a distress call with two presses; a new dispatch
sounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, agent_badge, run_axe, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(120)
PHONE = {"width": 390, "height": 844}


def _unit(server: LiveServer, call_sign: str, at: tuple[float, float]) -> int:
    made = server.api(
        "POST",
        "/api/v1/units",
        json={
            "call_sign": call_sign,
            "unit_type": "motorbike",
            "station_lon": at[0],
            "station_lat": at[1],
        },
    )
    assert made.status_code == 201, made.text
    unit_id = int(made.json()["id"])
    assert (
        server.api(
            "POST", f"/api/v1/units/{unit_id}/status", json={"status": "available"}
        ).status_code
        == 200
    )
    return unit_id


def test_a_crew_works_its_incident_from_the_phone(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    agent_badge(live_server)
    here = grid_lonlat(3.5, 2.5)
    unit_id = _unit(live_server, "MO-31", grid_lonlat(0.5, 0.5))
    page = sign_in(
        browser,
        live_server,
        "agent",
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"longitude": here[0], "latitude": here[1]},
        permissions=["geolocation"],
    )
    opened: list[int] = []
    try:
        assert page.url.endswith("/console/crew")  # a patrol officer lands on the terminal
        page.wait_for_selector("body[data-ready='1']")
        assert "vous n'êtes sur aucun équipage" in page.inner_text("#crew-unit")
        page.select_option("#crew-sign-on-unit", str(unit_id))
        page.click("#crew-sign-on")
        page.wait_for_selector("#crew-call-sign")
        assert page.inner_text("#crew-call-sign") == "MO-31"
        assert "Camille Salers" in page.inner_text("#crew-members")
        assert page.inner_text("#crew-no-incident") == "Aucune intervention en cours."

        # The phone's position becomes the unit's AVL position.
        page.check("#crew-share-position")
        page.wait_for_selector("#crew-share-status:has-text('Position envoyée à')")
        unit = live_server.api("GET", f"/api/v1/units/{unit_id}").json()
        assert (round(unit["lon"], 6), round(unit["lat"], 6)) == (
            round(here[0], 6),
            round(here[1], 6),
        )

        # The dispatcher sends the unit: the terminal shows it at once.
        made = live_server.api(
            "POST",
            "/api/v1/incidents",
            json={
                "type_code": "fight",
                "lon": here[0],
                "lat": here[1],
                "description": "Rixe devant le bar",
            },
        )
        incident = made.json()["incident"]
        opened.append(incident["id"])
        sent = live_server.api(
            "POST", f"/api/v1/incidents/{incident['id']}/dispatch", json={"unit_ids": [unit_id]}
        )
        assert sent.status_code == 200, sent.text
        page.wait_for_selector("#crew-inc-type")
        assert page.inner_text("#crew-alert").startswith("Nouvelle intervention : Rixe")
        # ...and sounds (the page was clicked, so the browser lets it).
        tones = page.evaluate("() => window.Arverne.tones.log")
        assert [(t["kind"], t["audible"]) for t in tones] == [("dispatch", True)]
        assert page.inner_text("#crew-inc-description") == "Rixe devant le bar"
        assert "Engagé" in page.inner_text("#crew-status")
        nav = page.get_attribute("#crew-navigate", "href") or ""
        assert nav.startswith(f"geo:{here[1]:.6f},{here[0]:.6f}?q=")  # the phone's GPS app
        # Another crew sent to the same incident shows live.
        other = live_server.units["PS-11"]
        second = live_server.api(
            "POST", f"/api/v1/incidents/{incident['id']}/dispatch", json={"unit_ids": [other]}
        )
        assert second.status_code == 200, second.text
        page.wait_for_selector("#crew-others:has-text('Avec vous : PS-11 (engagé)')")
        # The map shows the incident (a circle) and the unit (a square), both in view.
        page.wait_for_selector("#map .leaflet-interactive")
        page.wait_for_selector("#map .unit-marker .st-dispatched")

        page.click("button[data-status='en_route']")
        page.wait_for_selector("#crew-status.st-en_route")
        page.click("button[data-status='on_scene']")
        page.wait_for_selector("#crew-status.st-on_scene")
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["status"] == "on_scene"
        assert page.inner_text("#crew-check-text").startswith("Contrôle de situation dans 19:")
        # The control room records that the crew did not answer: red, and a tone.
        missed = live_server.api(
            "POST", f"/api/v1/units/{unit_id}/check", json={"outcome": "no_answer"}
        )
        assert missed.status_code == 200, missed.text
        page.wait_for_selector("#crew-check.crew-check-missed")
        tones = page.evaluate("() => window.Arverne.tones.log")
        assert [t["kind"] for t in tones] == ["dispatch", "check"]
        page.click("#crew-check-ok")
        page.wait_for_selector(".toast:has-text('Contrôle transmis')")
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["checked_at"] is not None

        page.fill("#crew-note", "Deux individus interpellés")
        page.click("#crew-note-form button[type=submit]")
        page.wait_for_selector("#crew-notes li:has-text('Deux individus interpellés')")
        log = live_server.api(
            "GET", f"/api/v1/dutylog?incident_id={incident['id']}&kind=note"
        ).json()
        assert [e["text"] for e in log] == ["Deux individus interpellés"]
        assert run_axe(page) == []
        page.screenshot(path=str(artifacts / "crew-phone.png"), full_page=True)

        # Distress: the first press only arms the button.
        page.click("#crew-distress")
        assert page.inner_text("#crew-distress") == "Appuyez encore pour confirmer"
        open_now = live_server.api("GET", "/api/v1/incidents?status=open").json()
        assert not [i for i in open_now if i["type_code"] == "officer_distress"]
        page.click("#crew-distress")
        page.wait_for_selector("#crew-alert:has-text('Appel de détresse transmis')")
        open_now = live_server.api("GET", "/api/v1/incidents?status=open").json()
        (alarm,) = [i for i in open_now if i["type_code"] == "officer_distress"]
        opened.append(alarm["id"])
        assert (alarm["priority"], round(alarm["lon"], 6)) == (1, round(here[0], 6))

        # Clear, then report an event the crew comes upon: the unit is on scene at once.
        page.click("button[data-status='available']")
        page.wait_for_selector("#crew-status.st-available")
        page.click(".crew-initiative summary")
        page.select_option("#crew-initiative-type", "noise")
        page.fill("#crew-initiative-description", "Musique très forte, fenêtres ouvertes")
        page.click("#crew-initiative")
        page.wait_for_selector("#crew-status.st-on_scene")
        assert page.inner_text("#crew-inc-description") == "Musique très forte, fenêtres ouvertes"
        unit = live_server.api("GET", f"/api/v1/units/{unit_id}").json()
        opened.append(unit["current_incident_id"])
        mine = live_server.api("GET", f"/api/v1/incidents/{unit['current_incident_id']}").json()
        assert (mine["type_code"], mine["calls"][0]["channel"]) == ("noise", "officer")
    finally:
        for incident_id in opened:
            live_server.api(
                "POST", f"/api/v1/incidents/{incident_id}/close", json={"disposition": "no_offence"}
            )
        live_server.api("POST", f"/api/v1/units/{unit_id}/status", json={"status": "off_duty"})
        page.context.close()
