"""The supervisor's crews page: every unit's crew, edited by badge; an officer added to a
unit leaves the crew they were on; changes made elsewhere show live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arverne.cli._common import cli_context
from arverne.people import service as people
from arverne.people.schemas import OfficerIn
from arverne.store.session import make_engine, make_sessionmaker
from tests.e2e.conftest import LiveServer, run_axe, sign_in

pytestmark = pytest.mark.timeout(90)


def _officers(server: LiveServer, *people_in: tuple[str, str, str]) -> None:
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as session:
        for badge, first, last in people_in:
            people.create_officer(
                session, cli_context(), OfficerIn(badge=badge, first_name=first, last_name=last)
            )
        session.commit()
    engine.dispose()


def _crew(server: LiveServer, call_sign: str) -> list[str]:
    crew: list[str] = server.api("GET", f"/api/v1/units/{server.units[call_sign]}").json()["crew"]
    return crew


def test_a_supervisor_composes_the_crews(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    _officers(live_server, ("CRW-1", "Enzo", "Aligot"), ("CRW-2", "Lina", "Pounti"))
    moved = live_server.api(
        "PUT", f"/api/v1/units/{live_server.units['BAC-1']}/crew", json={"badges": ["CRW-2"]}
    )
    assert moved.status_code == 200, moved.text
    page = sign_in(browser, live_server, "superviseur", viewport={"width": 1366, "height": 768})
    try:
        page.goto("/console/crews")
        page.wait_for_selector("body[data-ready='1']")
        bac = page.locator(f"#crews-body tr[data-id='{live_server.units['BAC-1']}']")
        assert "Lina Pounti" in bac.inner_text()
        ps12 = live_server.units["PS-12"]
        page.click(f"#crews-body tr[data-id='{ps12}'] .crews-edit")
        page.fill("#crews-add", "NOPE")
        page.click("#crews-add-button")
        assert page.inner_text("#crews-error") == "Aucun agent actif avec le matricule « NOPE »."
        page.fill("#crews-add", "CRW-1")
        page.press("#crews-add", "Enter")
        page.fill("#crews-add", "CRW-2")
        page.click("#crews-add-button")
        page.wait_for_selector(".toast:has-text('Lina Pounti quittera l')")
        assert page.locator("#crews-chips li").all_inner_texts() == [
            "Enzo Aligot (CRW-1) ✕",
            "Lina Pounti (CRW-2) ✕",
        ]
        assert run_axe(page) == []
        page.screenshot(path=str(artifacts / "crews.png"))
        page.click("#crews-save")
        page.wait_for_selector(f"#crews-body tr[data-id='{ps12}'] .crews-names")
        assert _crew(live_server, "PS-12") == ["Enzo Aligot", "Lina Pounti"]
        assert _crew(live_server, "BAC-1") == []
        page.wait_for_selector(
            f"#crews-body tr[data-id='{live_server.units['BAC-1']}']:has-text('aucun agent')"
        )
        # A change made elsewhere shows live.
        live_server.api("PUT", f"/api/v1/units/{ps12}/crew", json={"badges": ["CRW-1"]})
        page.wait_for_selector(
            f"#crews-body tr[data-id='{ps12}'] .crews-names:text-is('Enzo Aligot')"
        )
    finally:
        for call_sign in ("PS-12", "BAC-1"):
            live_server.api(
                "PUT", f"/api/v1/units/{live_server.units[call_sign]}/crew", json={"badges": []}
            )
        page.context.close()
