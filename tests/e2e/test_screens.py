"""Screens at 1366x768 and 1920x1080: a busy shift on screen, screenshots, axe-core checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, run_axe, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(120)
VIEWPORTS = ({"width": 1366, "height": 768}, {"width": 1920, "height": 1080})
# Spread over the test town's 5 x 5 grid of streets (row, column).
SCENE = (
    ("robbery_armed", *grid_lonlat(1.5, 1.0)),
    ("domestic_violence_now", *grid_lonlat(3.0, 3.5)),
    ("burglary_in_progress", *grid_lonlat(0.0, 2.5)),
    ("traffic_damage", *grid_lonlat(2.0, 4.0)),
    ("theft_from_vehicle", *grid_lonlat(4.0, 0.5)),
    ("threats", *grid_lonlat(1.0, 3.5)),
    ("intrusion_alarm", *grid_lonlat(3.5, 2.0)),
    ("pickpocketing", *grid_lonlat(2.5, 0.0)),
)
EXTRA_UNITS = (
    ("PS-13", "car"),
    ("PS-14", "car"),
    ("MOTO-3", "motorbike"),
    ("CYNO-1", "dog"),
    ("BAC-2", "bac"),
    ("PP-22", "foot_patrol"),
)


@pytest.fixture(scope="module")
def busy(live_server: LiveServer) -> dict[str, int]:
    """A shift in progress: incidents of every priority, units in several states."""
    ids: dict[str, int] = {}
    for i, (call_sign, unit_type) in enumerate(EXTRA_UNITS):
        lon, lat = grid_lonlat(i % 5, (2 * i + 1) % 5)
        made = live_server.api(
            "POST",
            "/api/v1/units",
            json={"call_sign": call_sign, "unit_type": unit_type, "home_station": "Poste Nord"},
        )
        assert made.status_code == 201, made.text
        ids[call_sign] = made.json()["id"]
        live_server.api(
            "POST", f"/api/v1/units/{ids[call_sign]}/status", json={"status": "available"}
        )
        live_server.api(
            "POST", f"/api/v1/units/{ids[call_sign]}/positions", json={"lon": lon, "lat": lat}
        )
    incidents = []
    for type_code, lon, lat in SCENE:
        made = live_server.api(
            "POST", "/api/v1/incidents", json={"type_code": type_code, "lon": lon, "lat": lat}
        )
        assert made.status_code == 201, made.text
        incidents.append(made.json()["incident"]["id"])
    for incident_id, call_sign in ((incidents[0], "BAC-2"), (incidents[1], "PS-13")):
        sent = live_server.api(
            "POST", f"/api/v1/incidents/{incident_id}/dispatch", json={"unit_ids": [ids[call_sign]]}
        )
        assert sent.status_code == 200, sent.text
    live_server.api("POST", f"/api/v1/units/{ids['PS-13']}/status", json={"status": "on_scene"})
    live_server.api(
        "POST",
        f"/api/v1/units/{ids['CYNO-1']}/status",
        json={"status": "unavailable", "reason": "meal"},
    )
    return {"incident": incidents[2]}


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v['width']}x{v['height']}")
def test_screens_fit_and_pass_axe(
    browser: Any,
    live_server: LiveServer,
    busy: dict[str, int],
    artifacts: Path,
    viewport: dict[str, int],
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    check_axe = viewport["width"] == 1366
    login = browser.new_context(base_url=live_server.url, viewport=viewport).new_page()
    login.goto("/login")
    if check_axe:
        assert run_axe(login) == []
    login.context.close()

    page = sign_in(browser, live_server, "superviseur", viewport=viewport)
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#queue li").count() >= len(SCENE)
    # Nothing spills over: the screen holds in the window without page scrolling.
    overflow = page.evaluate("document.documentElement.scrollHeight - window.innerHeight")
    assert overflow <= 0, f"the dispatch screen scrolls by {overflow}px at {size}"
    if check_axe:
        assert run_axe(page) == []
    page.click(f"#queue li[data-id='{busy['incident']}'] button")
    page.click("#recommend")
    page.wait_for_selector(".rec-table tbody tr")
    page.screenshot(path=str(artifacts / f"dispatch-{size}.png"))
    if check_axe:
        assert run_axe(page) == []
        page.keyboard.press("Escape")
        page.keyboard.press("n")
        page.wait_for_selector("#incident-form:not([hidden])")
        assert run_axe(page) == []
        page.keyboard.press("Escape")
        page.keyboard.press("?")
        page.wait_for_selector("#help-dialog[open]")
        page.screenshot(path=str(artifacts / f"shortcuts-{size}.png"))
        page.keyboard.press("Escape")

    page.goto("/console/log")
    page.wait_for_selector("#log-table tbody tr[data-kind]")
    page.screenshot(path=str(artifacts / f"dutylog-{size}.png"))
    if check_axe:
        assert run_axe(page) == []
        page.goto("/console/log?print=1")
        assert page.locator("nav.mainnav").count() == 0
        assert page.locator("#log-table tbody tr[data-kind]").count() > 0

    page.goto("/console/dashboard")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#kpi-table tbody tr").count() == 4
    page.screenshot(path=str(artifacts / f"dashboard-{size}.png"))
    if check_axe:
        assert run_axe(page) == []
    page.context.close()
