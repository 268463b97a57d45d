"""Live updates beyond the journey: the duty-log page follows the stream, and a dropped
stream shows "Reconnexion…" then catches up (Last-Event-ID replay) without duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)


def test_duty_log_page_appends_new_entries_live(browser: Any, live_server: LiveServer) -> None:
    log = sign_in(browser, live_server, "superviseur")
    log.goto("/console/log")
    log.wait_for_selector("#log-table")
    notes_only = log.context.new_page()
    notes_only.goto("/console/log?kind=note")
    notes_only.wait_for_selector("#log-table")
    past = log.context.new_page()
    past.goto("/console/log?date=2020-01-02")
    assert past.evaluate("Arverne.data.live") is False  # a closed day does not listen
    past.close()
    before = log.locator("#log-table tbody tr[data-kind]").count()
    for p in (log, notes_only):
        p.evaluate("window.__notReloaded = true")

    # Another dispatcher, in another browser context, writes a note; a unit changes status.
    other = sign_in(browser, live_server, "operateur2")
    other.goto("/console/dispatch")
    other.wait_for_selector("body[data-ready='1']")
    note = "E2E : ronde effectuée place de Jaude, RAS"
    other.evaluate("(text) => Arverne.api('POST', '/api/v1/dutylog', {text: text})", note)
    unit_id = live_server.units["PP-21"]
    for status in ("at_station", "available"):
        moved = live_server.api("POST", f"/api/v1/units/{unit_id}/status", json={"status": status})
        assert moved.status_code == 200, moved.text

    log.wait_for_selector(f"#log-table tbody tr[data-kind='note']:has-text('{note}')")
    log.wait_for_selector(
        "#log-table tbody tr[data-kind='unit_status']:has-text('au poste → disponible')"
    )
    rows = log.locator("#log-table tbody tr[data-kind]")
    assert rows.count() == before + 3
    assert f"{before + 3} entrée(s)" in log.inner_text("#log-count")
    last = rows.last
    assert last.locator("td").nth(3).inner_text() == "PP-21"
    assert last.locator("td").nth(1).inner_text() == "Statut d'équipage"
    notes_only.wait_for_selector(f"#log-table tbody tr[data-kind='note']:has-text('{note}')")
    assert notes_only.locator("#log-table tbody tr[data-kind='unit_status']").count() == 0
    for p in (log, notes_only):
        assert p.evaluate("window.__notReloaded") is True
    ids = log.eval_on_selector_all(
        "#log-table tbody tr[data-id]", "rows => rows.map(r => r.dataset.id)"
    )
    assert len(ids) == len(set(ids))
    log.context.close()
    other.context.close()


def test_lost_stream_shows_reconnecting_then_replays_what_was_missed(
    browser: Any, live_server: LiveServer
) -> None:
    page = sign_in(browser, live_server, "operateur")
    blocked = {"on": False}

    def stream(route: Any) -> None:
        if blocked["on"]:
            route.abort()
        else:
            route.continue_()

    page.route("**/api/v1/events?**", stream)
    # The server ends each stream after 2 s: the console must reconnect by itself.
    page.goto("/console/dispatch?stream_seconds=2")
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate("window.__notReloaded = true")
    page.wait_for_timeout(4500)  # two normal stream ends: no badge for a routine reconnect
    assert page.locator("#live-status").is_hidden()

    blocked["on"] = True  # the network drops: the next reconnection fails
    page.wait_for_selector("#live-status:has-text('Reconnexion')", timeout=15_000)
    lon, lat = grid_lonlat(2.5, 3.0)
    made = live_server.api(
        "POST", "/api/v1/incidents", json={"type_code": "noise", "lon": lon, "lat": lat}
    )
    assert made.status_code == 201, made.text
    incident_id = made.json()["incident"]["id"]
    row = f"#queue li[data-id='{incident_id}']"
    page.wait_for_timeout(800)
    assert page.locator(row).count() == 0  # not connected: nothing arrives

    blocked["on"] = False
    page.wait_for_selector(row, timeout=15_000)
    page.wait_for_selector("#live-status", state="hidden", timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    # It came through the stream's replay (not only the resync), once.
    replayed = page.evaluate(
        "(id) => Arverne.metrics.filter(m => m.kind === 'incident' && m.id === id).length",
        incident_id,
    )
    assert replayed >= 1
    page.wait_for_timeout(2500)  # one more stream end and replay: still no duplicates
    assert page.locator(row).count() == 1
    ids = page.eval_on_selector_all("#queue li", "rows => rows.map(r => r.dataset.id)")
    assert len(ids) == len(set(ids))
    assert page.inner_text("#queue-count") == str(len(ids))
    page.context.close()
