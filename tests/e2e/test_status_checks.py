"""Status checks in the console: a unit on scene too long turns amber and joins the alert
list above the board; "Sans réponse" turns it red, "Contrôle OK" clears it and restarts
its timer; both answers reach the duty log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from arverne.dispatch.models import Unit
from arverne.store.session import make_engine, make_sessionmaker, session_scope
from tests.e2e.conftest import LiveServer, crew_on_scene, run_axe, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def _age(server: LiveServer, unit_id: int, minutes: float) -> None:
    """Move the unit's status change ``minutes`` back, as if time had passed."""
    engine = make_engine(server.database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            unit = session.get(Unit, unit_id)
            assert unit is not None
            unit.status_changed_at -= dt.timedelta(minutes=minutes)
    finally:
        engine.dispose()


def test_an_overdue_unit_is_flagged_and_answered(browser: Any, live_server: LiveServer) -> None:
    incident, unit_id = crew_on_scene(live_server, "fight", grid_lonlat(4.0, 4.0), "PS-12")
    _age(live_server, unit_id, 25)

    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    try:
        page.goto("/console/dispatch")
        page.wait_for_selector("body[data-ready='1']")
        alert = page.locator(f"#check-list li[data-unit='{unit_id}']")
        alert.wait_for()
        assert page.locator("#check-alerts").is_visible()
        assert "PS-12" in alert.inner_text()
        assert re.fullmatch(r"contrôle \+\d+:\d\d", alert.locator(".check-time").inner_text())
        row = page.locator(f"#unit-board li.unit[data-id='{unit_id}']")
        assert "check-due" in (row.get_attribute("class") or "")
        assert run_axe(page) == []

        alert.get_by_role("button", name="Sans réponse").click()
        page.wait_for_selector(f"#unit-board li.unit.check-missed[data-id='{unit_id}']")
        page.wait_for_selector(f"#check-list li.check-missed[data-unit='{unit_id}']")
        assert alert.locator(".check-time").inner_text() == "SANS RÉPONSE"
        assert live_server.api("GET", f"/api/v1/units/{unit_id}").json()["check_missed_at"]
        # The supervisor's dashboard says so too.
        board = page.context.new_page()
        board.goto("/console/dashboard")
        board.wait_for_selector("body[data-ready='1']")
        safety = board.locator("#c-safety-text")
        assert "1 sans réponse" in safety.inner_text()
        assert "kpi-alert" in (safety.get_attribute("class") or "")
        board.close()

        page.locator(f"#check-list li[data-unit='{unit_id}']").get_by_role(
            "button", name="Contrôle OK"
        ).click()
        page.wait_for_selector("#check-alerts", state="hidden")
        page.wait_for_function(
            "(id) => !document.querySelector(`#unit-board li.unit[data-id='${id}']`)"
            ".className.includes('check-')",
            arg=unit_id,
        )
        unit = live_server.api("GET", f"/api/v1/units/{unit_id}").json()
        assert unit["check_missed_at"] is None
        due = dt.datetime.fromisoformat(unit["check_due_at"])
        assert due - dt.datetime.fromisoformat(unit["checked_at"]) == dt.timedelta(minutes=20)
        log = live_server.api("GET", f"/api/v1/dutylog?incident_id={incident['id']}").json()
        kinds = [line["kind"] for line in log]
        assert "status_check_missed" in kinds
        assert "status_check" in kinds
    finally:
        closed = live_server.api(
            "POST", f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "arrest"}
        )
        assert closed.status_code == 200, closed.text
        page.context.close()
