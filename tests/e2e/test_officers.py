"""The officers page: an administrator adds an officer linked to a login account (an
unknown account is refused next to its field and saves nothing), corrects a name,
disables an officer who left (two presses; off every crew) and enables them again; the
read is audited with the page's reason; a supervisor sees the list without the tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.store.session import make_engine, make_sessionmaker
from tests.data import make_user
from tests.e2e.conftest import LiveServer, run_axe, sign_in

pytestmark = pytest.mark.timeout(90)


def _account(server: LiveServer, username: str) -> None:
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as session:
        make_user(session, Role.OFFICER, username=username)
        session.commit()
    engine.dispose()


def _reasons(server: LiveServer) -> list[str | None]:
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as session:
        reasons = list(
            session.scalars(select(AuditEntry.reason).where(AuditEntry.action == "officer.list"))
        )
    engine.dispose()
    return reasons


def _officer(server: LiveServer, badge: str) -> dict[str, Any] | None:
    rows = server.api("GET", "/api/v1/officers", headers={"X-Access-Reason": "test"}).json()
    return next((o for o in rows if o["badge"] == badge), None)


def test_an_administrator_manages_the_officers(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    _account(live_server, "jdupond")
    page = sign_in(browser, live_server, "admin")
    try:
        page.goto("/console/officers")
        page.wait_for_selector("body[data-ready='1']")
        assert "gestion des agents (console)" in _reasons(live_server)

        # An unknown account: refused next to its field, nothing saved.
        page.fill("#new-badge", "E2E-OF1")
        page.fill("#new-first_name", "Jean")
        page.fill("#new-last_name", "Dupond")
        page.fill("#new-rank", "gardien")
        page.fill("#new-username", "personne")
        page.click("#officer-add")
        page.wait_for_selector("#err-username:has-text('no account called')")
        assert _officer(live_server, "E2E-OF1") is None
        page.fill("#new-username", "jdupond")
        page.click("#officer-add")
        page.wait_for_selector("tr[data-badge='E2E-OF1']")
        row = page.inner_text("tr[data-badge='E2E-OF1']")
        for shown in ("Jean Dupond", "gardien", "jdupond"):
            assert shown in row
        assert page.input_value("#new-badge") == ""

        # A typo in the name, corrected; the crew lists follow.
        crewed = live_server.api(
            "PUT",
            f"/api/v1/units/{live_server.units['PP-21']}/crew",
            json={"badges": ["E2E-OF1"]},
        )
        assert crewed.status_code == 200, crewed.text
        page.click("tr[data-badge='E2E-OF1'] .officer-edit")
        page.fill("#edit-last_name", " ")  # the browser refuses an empty one itself
        page.click("#officer-save")
        page.wait_for_selector("#err-edit-last_name:not(:empty)")
        page.fill("#edit-last_name", "Dupont")
        page.click("#officer-save")
        page.wait_for_selector("tr[data-badge='E2E-OF1'] .officer-name:has-text('Jean Dupont')")
        unit = live_server.api("GET", f"/api/v1/units/{live_server.units['PP-21']}").json()
        assert unit["crew"] == ["Jean Dupont"]
        assert run_axe(page) == []
        page.screenshot(path=str(artifacts / "officers.png"), full_page=True)

        # Leaving the force: the first press only arms the button.
        toggle = "tr[data-badge='E2E-OF1'] .officer-toggle"
        page.click(toggle)
        assert (_officer(live_server, "E2E-OF1") or {})["active"] is True
        page.click(toggle)
        page.wait_for_selector("tr[data-badge='E2E-OF1']", state="detached")
        gone = _officer(live_server, "E2E-OF1") or {}
        assert (gone["active"], gone["units"]) == (False, [])
        page.check("#officers-inactive")
        assert "désactivé" in page.inner_text("tr[data-badge='E2E-OF1']")
        page.click(toggle)
        page.wait_for_selector("tr[data-badge='E2E-OF1'] .officer-state:has-text('actif')")
        assert (_officer(live_server, "E2E-OF1") or {})["active"] is True
    finally:
        page.context.close()

    # A supervisor reads the list (audited) but has no tools.
    page = sign_in(browser, live_server, "superviseur")
    try:
        page.goto("/console/officers")
        page.wait_for_selector("tr[data-badge='E2E-OF1']")
        assert page.query_selector("#officer-new") is None
        assert page.query_selector(".officer-edit") is None
    finally:
        page.context.close()
