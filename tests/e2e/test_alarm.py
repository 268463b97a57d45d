"""Audible alarms of the dispatch screen: a new P1 taken by someone else beeps, an open
distress call sounds a siren until a dispatcher acknowledges it, the sound can be turned
off (and stays off), and the visual alarms never depend on it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, crew_on_scene, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)
WHERE = grid_lonlat(2.5, 3.5)


def _sounded(page: Any) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = page.evaluate("() => window.Arverne.alarm.log")
    return log


def _wait_for(page: Any, kind: str, count: int = 1) -> list[dict[str, Any]]:
    for _ in range(100):
        entries = [e for e in _sounded(page) if e["kind"] == kind]
        if len(entries) >= count:
            return entries
        time.sleep(0.1)
    pytest.fail(f"no {kind!r} alarm; log: {_sounded(page)}")


def test_distress_siren_until_acknowledged(browser: Any, live_server: LiveServer) -> None:
    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    opened: list[int] = []
    try:
        page.goto("/console/dispatch")
        page.wait_for_selector("body[data-ready='1']")
        toggle = page.locator("#sound-toggle")
        assert toggle.get_attribute("aria-pressed") == "true"
        assert toggle.inner_text() == "🔔 Son activé"
        toggle.click()  # a click unlocks the page's sound, as a dispatcher's first click does
        assert toggle.get_attribute("aria-pressed") == "false"
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "true"
        assert _sounded(page) == []

        # A P1 taken by the supervisor beeps on this dispatcher's screen.
        made = live_server.api(
            "POST",
            "/api/v1/incidents",
            json={"type_code": "armed_person", "lon": WHERE[0], "lat": WHERE[1]},
        )
        assert made.status_code == 201, made.text
        opened.append(made.json()["incident"]["id"])
        (beep,) = _wait_for(page, "p1")
        assert (beep["sound"], beep["audible"]) == (True, True)  # the audio context runs

        # A distress call: the siren repeats and the button says so, until acknowledged.
        unit_id = live_server.units["PS-11"]
        alarm = live_server.api("POST", f"/api/v1/units/{unit_id}/distress", json={})
        assert alarm.status_code == 201, alarm.text
        opened.append(alarm.json()["incident"]["id"])
        page.wait_for_selector("#sound-toggle[data-ringing='distress']")
        page.wait_for_selector("#distress-banner:not([hidden])")
        _wait_for(page, "distress", count=2)  # every 4 s
        page.click("#alarm-ack")
        page.wait_for_selector("#sound-toggle:not([data-ringing])")
        assert page.locator("#alarm-ack").is_hidden()
        assert not page.locator("#distress-banner").is_hidden()  # the visual alarm stays
        before = len(_wait_for(page, "distress"))
        time.sleep(4.5)
        assert len([e for e in _sounded(page) if e["kind"] == "distress"]) == before

        # Sound off is remembered; the log notes what would have sounded.
        toggle.click()
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#sound-toggle").get_attribute("aria-pressed") == "false"
        assert page.locator("#sound-toggle").inner_text() == "🔕 Son coupé"
        page.wait_for_selector(
            "#sound-toggle[data-ringing='distress']"
        )  # acknowledged in the other page only
        (muted, *_) = _wait_for(page, "distress")
        assert (muted["sound"], muted["audible"]) == (False, False)
    finally:
        for incident_id in opened:
            live_server.api(
                "POST", f"/api/v1/incidents/{incident_id}/close", json={"disposition": "no_offence"}
            )
        page.context.close()


def test_the_supervisor_hears_an_unanswered_check(browser: Any, live_server: LiveServer) -> None:
    incident, unit_id = crew_on_scene(live_server, "noise", grid_lonlat(1.0, 3.0), "PP-21")
    page = sign_in(browser, live_server, "superviseur", viewport={"width": 1366, "height": 768})
    try:
        page.goto("/console/dashboard")
        page.wait_for_selector("body[data-ready='1']")
        page.click("#sound-toggle")  # off, then on again: the click unlocks the sound
        page.click("#sound-toggle")
        assert page.locator("#sound-toggle").get_attribute("aria-pressed") == "true"
        missed = live_server.api(
            "POST", f"/api/v1/units/{unit_id}/check", json={"outcome": "no_answer"}
        )
        assert missed.status_code == 200, missed.text
        (beep,) = _wait_for(page, "check")
        assert (beep["sound"], beep["audible"]) == (True, True)
        safety = page.locator("#c-safety-text")
        assert safety.inner_text().endswith("— sans réponse : PP-21")
        assert "kpi-alert" in (safety.get_attribute("class") or "")
        assert [e["kind"] for e in _sounded(page)] == ["check"]  # no P1 beeps here
    finally:
        live_server.api(
            "POST", f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "no_offence"}
        )
        page.context.close()
