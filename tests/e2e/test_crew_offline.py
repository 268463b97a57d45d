"""The crew terminal without network (tunnel, car park, dead zone): a status change and a
note made offline are shown as waiting, kept on the phone, and sent when the network is
back with the time they were made; a distress call is never queued; a change the control
room overtook meanwhile is refused on arrival and stays on screen until read; a reload
without network brings the terminal back from the device, which forgets it at sign-out."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, agent_badge, run_axe, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(120)
PHONE = {"width": 390, "height": 844}


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _agent_sent_to_an_incident(
    server: LiveServer, call_sign: str, here: tuple[float, float]
) -> tuple[int, dict[str, Any]]:
    """A motorbike crewed by the "agent" account, dispatched to a new incident at ``here``;
    its id and the incident."""
    made = server.api(
        "POST",
        "/api/v1/units",
        json={
            "call_sign": call_sign,
            "unit_type": "motorbike",
            "station_lon": here[0],
            "station_lat": here[1],
        },
    )
    assert made.status_code == 201, made.text
    unit_id = int(made.json()["id"])
    badges = {"badges": [agent_badge(server)]}
    crewed = server.api("PUT", f"/api/v1/units/{unit_id}/crew", json=badges)
    assert crewed.status_code == 200, crewed.text
    ready = server.api("POST", f"/api/v1/units/{unit_id}/status", json={"status": "available"})
    assert ready.status_code == 200, ready.text
    intake = server.api(
        "POST",
        "/api/v1/incidents",
        json={"type_code": "burglary_report", "lon": here[0], "lat": here[1]},
    )
    incident: dict[str, Any] = intake.json()["incident"]
    sent = server.api(
        "POST", f"/api/v1/incidents/{incident['id']}/dispatch", json={"unit_ids": [unit_id]}
    )
    assert sent.status_code == 200, sent.text
    return unit_id, incident


def _stand_down(server: LiveServer, unit_id: int, incident: dict[str, Any]) -> None:
    """Close the incident, take the unit off duty and free the agent for the next test."""
    close = {"disposition": "no_offence"}
    server.api("POST", f"/api/v1/incidents/{incident['id']}/close", json=close)
    server.api("POST", f"/api/v1/units/{unit_id}/status", json={"status": "off_duty"})
    server.api("PUT", f"/api/v1/units/{unit_id}/crew", json={"badges": []})


def test_reports_made_offline_are_sent_late_with_their_time(
    browser: Any, live_server: LiveServer
) -> None:
    here = grid_lonlat(2.5, 1.5)
    unit_id, incident = _agent_sent_to_an_incident(live_server, "MO-41", here)

    page = sign_in(browser, live_server, "agent", viewport=PHONE, is_mobile=True, has_touch=True)
    ctx = page.context
    try:
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#crew-inc-type")
        assert page.inner_text("#crew-call-sign") == "MO-41"

        # The network goes: what the crew does is kept and shown as waiting.
        ctx.set_offline(True)
        pressed = dt.datetime.now(dt.UTC)
        page.click("button[data-status='en_route']")
        page.wait_for_selector("#crew-status.st-en_route")
        assert "en attente d'envoi" in page.inner_text("#crew-status")
        page.wait_for_selector(".toast:has-text('Hors réseau : « En route » est gardé')")
        page.fill("#crew-note", "Suspect parti vers la gare")
        page.click("#crew-note-form button[type=submit]")
        page.wait_for_selector(".crew-note-waiting:has-text('Suspect parti vers la gare')")
        assert page.input_value("#crew-note") == ""
        assert "2 envoi(s) en attente" in page.inner_text("#crew-outbox-waiting")
        queue = "JSON.parse(localStorage.getItem('arverne.outbox.agent'))"
        stored = page.evaluate(f"() => {queue}.items.map((i) => i.kind)")
        assert stored == ["status", "note"]
        # A distress call is never queued: the crew is told to use the radio.
        page.click("#crew-distress")
        page.click("#crew-distress")
        page.wait_for_selector("#crew-alert:has-text('DÉTRESSE NON TRANSMISE')")
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["status"] == "dispatched"
        page.wait_for_timeout(1500)

        # The network is back: everything goes, at the time it was made.
        back = dt.datetime.now(dt.UTC)
        ctx.set_offline(False)
        page.wait_for_selector(".toast:has-text('Réseau revenu')")
        page.wait_for_selector("#crew-outbox", state="hidden")
        assert "en attente" not in page.inner_text("#crew-status")
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["status"] == "en_route"
        view = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
        (assignment,) = [a for a in view["assignments"] if a["unit_id"] == unit_id]
        assert pressed - dt.timedelta(seconds=1) <= _when(assignment["en_route_at"]) < back
        log = live_server.api(
            "GET", f"/api/v1/dutylog?incident_id={incident['id']}&kind=note"
        ).json()
        assert [e["text"] for e in log] == ["Suspect parti vers la gare"]
        page.wait_for_selector("#crew-notes li:not(.crew-note-waiting):has-text('Suspect parti')")
        open_now = live_server.api("GET", "/api/v1/incidents?status=open").json()
        assert not [
            i for i in open_now if i["type_code"] == "officer_distress" and i["lon"] == here[0]
        ]

        # Offline again; meanwhile the control room records the arrival given by radio:
        # the terminal's own "on scene" is refused when it arrives, and stays on screen.
        ctx.set_offline(True)
        page.click("button[data-status='on_scene']")
        page.wait_for_selector("#crew-status-waiting")
        radio = live_server.api(
            "POST", f"/api/v1/units/{unit_id}/status", json={"status": "on_scene"}
        )
        assert radio.status_code == 200, radio.text
        ctx.set_offline(False)
        page.wait_for_selector("#crew-outbox-failed li:has-text('Sur place')")
        assert "refusé" in page.inner_text("#crew-outbox").lower()
        page.wait_for_selector("#crew-status.st-on_scene")
        assert run_axe(page) == []
        page.click("#crew-outbox-dismiss")
        page.wait_for_selector("#crew-outbox", state="hidden")
        assert (
            page.evaluate(
                "() => JSON.parse(localStorage.getItem('arverne.outbox.agent')).failed.length"
            )
            == 0
        )

        # The phone's browser reloads the tab in a dead zone: the terminal comes back from
        # what the device kept, and the crew can still report.
        for _ in range(100):
            if page.evaluate("() => !!navigator.serviceWorker.controller"):
                break
            page.wait_for_timeout(100)
        page.reload()  # online: the page and its reads are kept from now on
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#crew-inc-type")
        kept_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        page.wait_for_timeout(2100)
        ctx.set_offline(True)
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert page.inner_text("#crew-call-sign") == "MO-41"
        page.wait_for_selector("#crew-inc-type")
        answered = page.evaluate(
            "async () => (await fetch('/api/v1/units/mine')).headers.get('date')"
        )  # the kept answer, not a fresh one: the network is really off
        assert parsedate_to_datetime(answered) <= kept_at + dt.timedelta(seconds=1)
        page.click("button[data-status='available']")
        page.wait_for_selector("#crew-status-waiting")
        ctx.set_offline(False)
        page.wait_for_selector(".toast:has-text('Réseau revenu')")
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["status"] == "available"
        # Signing out forgets what the device kept.
        page.click("#logout-button")
        page.wait_for_url("**/login**")
        assert page.evaluate("async () => (await caches.keys()).length") == 0
    finally:
        _stand_down(live_server, unit_id, incident)
        ctx.close()


def test_a_phone_clock_that_is_off_is_corrected(browser: Any, live_server: LiveServer) -> None:
    """A phone 10 minutes fast: what it reports offline is stamped with the server's time
    (from the Date header of the answers it got), not refused as coming from the future."""
    unit_id, incident = _agent_sent_to_an_incident(live_server, "MO-43", grid_lonlat(1.5, 2.5))

    page = sign_in(browser, live_server, "agent", viewport=PHONE, is_mobile=True, has_touch=True)
    ctx = page.context
    try:
        page.clock.install(time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
        page.goto("/console/crew")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#crew-inc-type")
        assert page.inner_text("#crew-call-sign") == "MO-43"
        offset_ms = page.evaluate("() => window.Arverne.clockOffset")
        assert -600_000 <= offset_ms < -597_000  # ten minutes, within the Date header's slack

        ctx.set_offline(True)
        pressed = dt.datetime.now(dt.UTC)
        page.click("button[data-status='en_route']")
        page.wait_for_selector("#crew-status-waiting")
        page.wait_for_timeout(5000)  # longer than the correction's slack (2.5 s at most)
        back = dt.datetime.now(dt.UTC)
        ctx.set_offline(False)
        page.wait_for_selector(".toast:has-text('Réseau revenu')")
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["status"] == "en_route"
        view = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
        (assignment,) = [a for a in view["assignments"] if a["unit_id"] == unit_id]
        assert pressed - dt.timedelta(seconds=2) <= _when(assignment["en_route_at"]) < back
    finally:
        _stand_down(live_server, unit_id, incident)
        ctx.close()
