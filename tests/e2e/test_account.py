"""One's own account, from the user name in the top bar: an API token made (its secret
shown once, and it works) and revoked (two presses, and it stops working); the password
changed (a wrong current password and a mistyped confirmation are said next to their
fields; then every session ends and the new password signs in); two-factor
authentication set up from the authenticator app's code (a wrong code is refused)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from arverne.demo.service import DEMO_PASSWORD
from arverne.security.policy import Role
from arverne.store.session import make_engine, make_sessionmaker
from tests.data import make_user
from tests.e2e.conftest import LiveServer, run_axe, sign_in

pytestmark = pytest.mark.timeout(120)
ME = "e2e.moi"
NEW_PASSWORD = "nouveau mot de passe 7"


def _me(server: LiveServer, token: str) -> int:
    answer = httpx.get(
        f"{server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return answer.status_code


def test_a_user_manages_their_own_account(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    engine = make_engine(live_server.database_url)
    with make_sessionmaker(engine)() as session:
        make_user(session, Role.OFFICER, username=ME, password=DEMO_PASSWORD)
        session.commit()
    engine.dispose()
    page = sign_in(browser, live_server, ME)
    try:
        page.click("a.user")
        page.wait_for_url("**/console/account")
        page.wait_for_selector("body[data-ready='1']")
        assert "Agent de patrouille" in page.inner_text("#me-roles")
        assert "Non activée" in page.inner_text("#mfa-state")
        assert run_axe(page) == []

        # A token for a program: shown once, it works; revoked, it stops.
        page.fill("#tok-name", "script de test")
        page.fill("#tok-days", "7")
        page.click("#token-create")
        page.wait_for_selector("#token-made:not([hidden])")
        token = page.inner_text("#token-secret").strip()
        assert token.startswith("arv_")
        assert _me(live_server, token) == 200
        page.screenshot(path=str(artifacts / "account.png"), full_page=True)
        revoke = "#my-tokens .token-revoke"
        page.click(revoke)
        assert _me(live_server, token) == 200  # the first press only arms the button
        page.click(revoke)
        page.wait_for_selector("#my-tokens li.muted")
        assert _me(live_server, token) == 401

        # A new password: mistakes are said where they are, nothing changes.
        page.fill("#pw-current_password", "pas le bon mot de passe")
        page.fill("#pw-new_password", NEW_PASSWORD)
        page.fill("#pw-confirm", NEW_PASSWORD)
        page.click("#password-change")
        page.wait_for_selector("#err-pw-current_password:not(:empty)")
        page.fill("#pw-current_password", DEMO_PASSWORD)
        page.fill("#pw-confirm", NEW_PASSWORD + "x")
        page.click("#password-change")
        page.wait_for_selector("#err-pw-confirm:has-text('diffèrent')")
        page.fill("#pw-confirm", NEW_PASSWORD)
        page.click("#password-change")
        page.wait_for_url("**/login?changed=1")
        assert "Mot de passe changé" in page.inner_text("main")
        page.fill("#username", ME)
        page.fill("#password", NEW_PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)

        # Two-factor authentication from the app's first code.
        page.goto("/console/account")
        page.wait_for_selector("body[data-ready='1']")
        page.click("#mfa-begin")
        page.wait_for_selector("#mfa-enrol:not([hidden])")
        secret = page.inner_text("#mfa-secret-value").strip()
        page.fill("#mfa-code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
        page.click("#mfa-confirm")
        page.wait_for_selector("#err-mfa-otp:not(:empty)")
        page.fill("#mfa-code", pyotp.TOTP(secret).now())
        page.click("#mfa-confirm")
        page.wait_for_selector("#mfa-state:has-text('Activée')")
        signed = httpx.post(
            f"{live_server.url}/api/v1/auth/login",
            json={"username": ME, "password": NEW_PASSWORD},
            timeout=10,
        )
        assert signed.status_code == 401  # the code is now asked too
    finally:
        page.context.close()
