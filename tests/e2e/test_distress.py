"""A distress call relayed from the console: two clicks in the unit's actions (the second
confirms) make a P1 incident, a red banner above the queue that stays until it is closed,
and the incident's panel opens on it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, run_axe, sign_in

pytestmark = pytest.mark.timeout(90)


def test_a_relayed_distress_call_raises_the_alarm(browser: Any, live_server: LiveServer) -> None:
    unit_id = live_server.units["PP-21"]
    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    incident_id = None
    try:
        page.goto("/console/dispatch")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#distress-banner").is_hidden()
        page.click(f"#unit-board li.unit[data-id='{unit_id}'] .unit-row")
        button = page.locator(f"[data-distress='{unit_id}']")
        button.click()
        assert button.inner_text() == "Confirmer l'appel de détresse de PP-21"
        opened = live_server.api("GET", "/api/v1/incidents?status=open").json()
        assert not [i for i in opened if i["type_code"] == "officer_distress"]  # not yet
        button.click()
        banner = page.locator("#distress-banner")
        banner.wait_for()
        assert "Appel de détresse de PP-21" in banner.inner_text()
        item = banner.locator(".distress-item")
        incident_id = int(item.get_attribute("data-id") or 0)
        page.wait_for_selector(f"#queue li.inc.distress[data-id='{incident_id}']")
        page.wait_for_selector("#side-panel:not([hidden])")
        view = live_server.api("GET", f"/api/v1/incidents/{incident_id}").json()
        assert (view["type_code"], view["priority"]) == ("officer_distress", 1)
        assert run_axe(page) == []
        closed = live_server.api(
            "POST", f"/api/v1/incidents/{incident_id}/close", json={"disposition": "no_offence"}
        )
        assert closed.status_code == 200, closed.text
        page.wait_for_selector("#distress-banner", state="hidden")
        incident_id = None
    finally:
        if incident_id:
            live_server.api(
                "POST", f"/api/v1/incidents/{incident_id}/close", json={"disposition": "no_offence"}
            )
        page.context.close()
