"""Role-aware console: what an analyst, a trainer and an anonymous visitor get."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.timeout(60)


def test_analyst_sees_the_board_but_no_dispatch_action(
    browser: Any, live_server: LiveServer
) -> None:
    made = live_server.api(
        "POST", "/api/v1/incidents", json={"type_code": "theft", "lon": 3.0826, "lat": 45.7718}
    )
    assert made.status_code == 201, made.text
    incident_id = made.json()["incident"]["id"]
    page = sign_in(browser, live_server, "analyste")
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#new-incident").count() == 0
    assert page.locator("#incident-form").count() == 0
    page.keyboard.press("n")  # the shortcut does nothing either
    assert page.locator("#side-panel").is_hidden()
    page.click(f"#queue li[data-id='{incident_id}'] button")
    page.wait_for_selector("#incident-detail:not([hidden]) #d-status")
    for action in ("#recommend", "#close-form", ".status-buttons", "#d-note-text"):
        assert page.locator(action).count() == 0, action
    page.locator(".unit-row").first.click()
    assert page.locator(".status-buttons").count() == 0
    # Going around the interface does not help: the API refuses the action.
    status = page.evaluate(
        """async (id) => {
            try { await Arverne.api("POST", `/api/v1/incidents/${id}/dispatch`, {unit_ids: [1]}); }
            catch (e) { return e.status; }
            return 200;
        }""",
        incident_id,
    )
    assert status == 403
    nav = page.inner_text("nav.mainnav")
    assert "Main courante" in nav
    assert "Tableau de bord" in nav
    page.context.close()


def test_trainer_is_refused_and_anonymous_is_sent_to_sign_in(
    browser: Any, live_server: LiveServer
) -> None:
    page = sign_in(browser, live_server, "formateur")
    response = page.goto("/console/dispatch")
    assert response is not None
    assert response.status == 403
    assert "Accès refusé" in page.inner_text("h1")
    # A trainer reads the officers list (training records), nothing of the operations.
    assert page.locator("nav.mainnav a").all_inner_texts() == ["Agents"]
    page.context.close()
    anonymous = httpx.get(f"{live_server.url}/console/log", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?next=%2Fconsole%2Flog")


def test_wrong_password_then_expired_session_and_language(
    browser: Any, live_server: LiveServer
) -> None:
    ctx = browser.new_context(base_url=live_server.url)
    page = ctx.new_page()
    page.goto("/login")
    page.fill("#username", "operateur")
    page.fill("#password", "not the password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#login-error:has-text('Identifiants invalides')")
    ctx.close()

    page = sign_in(browser, live_server, "operateur")
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']")
    page.click("a[hreflang='en']")
    page.wait_for_selector("html[lang='en']")
    assert "Dispatch" in page.inner_text("nav.mainnav")
    assert page.inner_text("#queue-title").startswith("Incidents")
    # The session ends elsewhere: the next call sends the user back to sign in, saying why.
    page.evaluate(
        """async () => {
            await Arverne.api("POST", "/api/v1/auth/logout");
            try { await Arverne.api("GET", "/api/v1/units"); } catch (e) { /* redirecting */ }
        }"""
    )
    page.wait_for_url("**/login?**expired=1")
    assert page.locator(".banner-warn").is_visible()
    page.context.close()
