"""Closing an incident with offence codes picked in the console: typed by number or by
words (accents ignored), chosen with the keyboard or the mouse, removed with the chip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from arverne.cli._common import cli_context
from arverne.dispatch.offences import import_offences
from arverne.store.session import make_engine, make_sessionmaker
from tests.e2e.conftest import LiveServer, crew_on_scene, sign_in
from tests.unit.geo.town import grid_lonlat

pytestmark = pytest.mark.timeout(90)
NATINF = (
    "Numéro NATINF;Nature de l'infraction;Qualification de l'infraction;"
    "Définie par;Réprimée par\r\n"
    "7;Délit;RETRAIT DE LA PROVISION D'UN CHÈQUE;ART.L.163-2 C.M.F.;ART.L.163-2 C.M.F.\r\n"
    "8;Délit;OPPOSITION AU PAIEMENT D'UN CHÈQUE;ART.L.163-2 C.M.F.;ART.L.163-6 C.M.F.\r\n"
    "180;Délit;USAGE ILLICITE DE STUPÉFIANTS;ART.L.3421-1 C.S.P.;ART.L.3421-1 C.S.P.\r\n"
).encode("cp1252")


def _load_reference(server: LiveServer) -> None:
    engine = make_engine(server.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            import_offences(
                session, cli_context(), NATINF, source="natinf.csv", as_of=dt.date(2026, 1, 1)
            )
            session.commit()
    finally:
        engine.dispose()


def test_close_with_offence_codes(browser: Any, live_server: LiveServer, artifacts: Path) -> None:
    _load_reference(live_server)
    incident, _ = crew_on_scene(live_server, "drug_use", grid_lonlat(2.0, 2.0), "PP-21")
    page = sign_in(browser, live_server, "operateur", viewport={"width": 1366, "height": 768})
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.click(f"#queue li[data-id='{incident['id']}']")
    page.wait_for_selector("#close-form #d-offence-q")
    page.select_option("#d-disposition", "arrest")

    # By words, accents left out: the code in force comes up; Enter adds it.
    page.locator("#d-offence-q").press_sequentially("stupefiants", delay=10)
    page.wait_for_selector("#d-offence-list li[data-code='180']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#d-offences li[data-code='180']")
    assert page.input_value("#d-offence-q") == ""
    assert page.locator("#d-offence-list").is_hidden()
    # Enter in the search field never closed the incident.
    assert live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()["closed_at"] is None

    # Two cheque offences: the arrow picks the second; then it is removed again.
    page.locator("#d-offence-q").press_sequentially("cheque", delay=10)
    page.wait_for_selector("#d-offence-list li[data-code='8']")
    codes = page.locator("#d-offence-list li").evaluate_all(
        "(lis) => lis.map((l) => l.dataset.code)"
    )
    assert codes == ["7", "8"]
    page.locator("#d-close").screenshot(path=str(artifacts / "offence-picker.png"))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#d-offences li[data-code='8']")
    page.click("#d-offences li[data-code='8'] .chip-remove")
    page.wait_for_selector("#d-offences li[data-code='8']", state="detached")

    # Nothing matches: the console says so (and how the list is loaded).
    page.locator("#d-offence-q").press_sequentially("zzz", delay=10)
    page.wait_for_selector("#d-offence-hint:has-text('zzz')")
    page.fill("#d-offence-q", "")

    page.click("#close-submit")
    page.wait_for_selector("#d-offence-codes:has-text('180')")
    view = live_server.api("GET", f"/api/v1/incidents/{incident['id']}").json()
    assert view["status"] == "closed"
    assert view["offence_codes"] == ["180"]
    page.context.close()
