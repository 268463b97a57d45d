"""The accounts page: an administrator creates an account (a bad username is refused next
to its field and saves nothing; the password is generated to be handed over), lifts a
lockout, adds a role, sets a new password, revokes an API token (two presses) and
disables the account (two presses); the last administrator cannot step down; the read
is audited with the page's reason; a supervisor sees the list without the tools."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from arverne.security import auth
from arverne.security.models import ApiToken, AuditEntry, User, UserSession
from arverne.store.session import make_engine, make_sessionmaker
from arverne.store.types import utcnow
from tests.conftest import make_settings
from tests.data import TEST_CTX
from tests.e2e.conftest import LiveServer, run_axe, sign_in

pytestmark = pytest.mark.timeout(120)
NEW = "e2e.compte"


def _db(server: LiveServer) -> Any:
    return make_sessionmaker(make_engine(server.database_url))()


def _account(server: LiveServer, username: str) -> dict[str, Any] | None:
    rows = server.api("GET", "/api/v1/users", headers={"X-Access-Reason": "test"}).json()
    return next((u for u in rows if u["username"] == username), None)


def _lock(server: LiveServer, username: str) -> None:
    with _db(server) as session:
        session.execute(
            update(User)
            .where(User.username == username)
            .values(failed_logins=5, locked_until=utcnow() + dt.timedelta(minutes=15))
        )
        session.commit()


def _signs_in(server: LiveServer, username: str, password: str) -> bool:
    login = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=10,
    )
    return login.status_code == 200


def _token_for(server: LiveServer, username: str) -> int:
    """An API token named "poste 3" for ``username``; its id."""
    with _db(server) as session:
        user = session.scalar(select(User).where(User.username == username))
        row, _secret = auth.create_api_token(
            session=session,
            settings=make_settings(server.database_url),
            ctx=TEST_CTX,
            user=user,
            name="poste 3",
        )
        session.commit()
        return int(row.id)


def _first_sign_in(browser: Any, server: LiveServer, handed_over: str) -> None:
    """The new account's owner signs in with the password handed over: they are sent to
    their account page, may do nothing else, and choose their own password."""
    ctx = browser.new_context(base_url=server.url, locale="fr-FR")
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    try:
        page.goto("/login")
        page.fill("#username", NEW)
        page.fill("#password", handed_over)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/console/account")
        page.wait_for_selector("#must-change")
        assert page.query_selector(".mainnav a") is None  # nothing else is open to them
        page.goto("/console/crew")
        page.wait_for_url("**/console/account")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#pw-current_password", handed_over)
        page.fill("#pw-new_password", "mon propre mot de passe")
        page.fill("#pw-confirm", "mon propre mot de passe")
        page.click("#password-change")
        page.wait_for_url("**/login?changed=1")
        page.fill("#username", NEW)
        page.fill("#password", "mon propre mot de passe")
        page.click("#login-form button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url and "/console/account" not in url)
    finally:
        ctx.close()


def test_an_administrator_manages_the_accounts(
    browser: Any, live_server: LiveServer, artifacts: Path
) -> None:
    page = sign_in(browser, live_server, "admin")
    row = f"tr[data-username='{NEW}']"
    try:
        page.goto("/console/accounts")
        page.wait_for_selector("body[data-ready='1']")
        with _db(live_server) as session:
            reasons = session.scalars(
                select(AuditEntry.reason).where(AuditEntry.action == "user.list")
            ).all()
        assert "gestion des comptes (console)" in reasons

        # A username the rules refuse: said next to its field, nothing saved.
        page.fill("#new-username", "Bad Name!")
        page.fill("#new-full_name", "Lou Essai (fictif)")
        page.click("#new-generate")
        generated = page.input_value("#new-password")
        assert len(generated) == 16
        page.check("#new-roles input[value='officer']")
        page.click("#account-add")
        page.wait_for_selector("#err-username:not(:empty)")
        assert _account(live_server, "bad name!") is None
        page.fill("#new-username", NEW)
        page.click("#account-add")
        page.wait_for_selector(row)
        assert "Agent de patrouille" in page.inner_text(row)
        assert "jamais" in page.inner_text(row)  # never signed in
        assert page.input_value("#new-password") == ""
        made = _account(live_server, NEW) or {}
        assert (made["roles"], made["must_change_password"]) == (["officer"], True)
        assert "mot de passe provisoire" in page.inner_text(row)
        _first_sign_in(browser, live_server, generated)
        page.reload()
        page.wait_for_selector(f"{row} .account-state:has-text('actif')")
        assert "provisoire" not in page.inner_text(row)

        # Locked after failed sign-ins: shown, then lifted. The owner's session (left open
        # on their phone) is listed and ended.
        _lock(live_server, NEW)
        page.reload()
        page.wait_for_selector(f"{row} .account-locked")
        page.click(f"{row} .account-manage")
        page.wait_for_selector("#account-sessions:has-text('Sessions ouvertes : 1')")
        page.click("#account-end-sessions")
        page.click("#account-end-sessions")
        page.wait_for_selector("#account-sessions:has-text('Sessions ouvertes : 0')")
        with _db(live_server) as session:
            owner = session.scalar(select(User.id).where(User.username == NEW))
            still_open = session.scalars(
                select(UserSession.id).where(
                    UserSession.user_id == owner, UserSession.revoked_at.is_(None)
                )
            ).all()
        assert still_open == []
        page.click("#account-unlock")
        page.wait_for_selector("#account-security:has-text('non verrouillé')")
        assert (_account(live_server, NEW) or {})["locked_until"] is None

        # A second role.
        page.check("#edit input[value='dispatcher']")
        page.click("#account-save")
        page.wait_for_selector(f"{row} .account-roles-cell:has-text('Opérateur')")
        assert (_account(live_server, NEW) or {})["roles"] == ["dispatcher", "officer"]

        # A new password, generated, works at once.
        page.click(f"{row} .account-manage")
        page.click("#edit-generate")
        password = page.input_value("#edit-password")
        page.click("#account-set-password")
        page.wait_for_selector(".toast:has-text('nouveau mot de passe')")
        assert _signs_in(live_server, NEW, password)
        token_id = _token_for(live_server, NEW)

        # Its API token, revoked with two presses.
        page.click("#account-close")
        assert "mot de passe provisoire" in page.inner_text(row)  # set by the administrator
        page.click(f"{row} .account-manage")
        revoke = f"#account-tokens li[data-token='{token_id}'] .token-revoke"
        page.wait_for_selector(revoke)
        assert "poste 3" in page.inner_text("#account-tokens")
        page.click(revoke)
        page.click(revoke)
        page.wait_for_selector(revoke, state="detached")
        with _db(live_server) as session:
            assert session.get(ApiToken, token_id).revoked_at is not None  # type: ignore[union-attr]
        assert run_axe(page) == []
        page.screenshot(path=str(artifacts / "accounts.png"), full_page=True)
        page.click("#account-close")

        # Disabling: the first press only arms the button.
        toggle = f"{row} .account-toggle"
        page.click(toggle)
        assert (_account(live_server, NEW) or {})["is_active"] is True
        page.click(toggle)
        page.wait_for_selector(row, state="detached")
        assert (_account(live_server, NEW) or {})["is_active"] is False
        page.check("#accounts-inactive")
        assert "désactivé" in page.inner_text(row)

        # One's own account has no disable button; the last administrator cannot step down.
        own = "tr[data-username='admin']"
        assert page.query_selector(f"{own} .account-toggle") is None
        admins = live_server.api(
            "GET",
            "/api/v1/users?role=admin&active_only=true",
            headers={"X-Access-Reason": "test"},
        ).json()
        # The demo's "admin" is the only administrator (no end-to-end test makes another).
        assert [a["username"] for a in admins] == ["admin"]
        page.click(f"{own} .account-manage")
        page.uncheck("#edit input[value='admin']")
        page.check("#edit input[value='supervisor']")
        page.click("#account-save")
        page.wait_for_selector("#account-profile .form-error:has-text('last active')")
        assert (_account(live_server, "admin") or {})["roles"] == ["admin"]
    finally:
        page.context.close()

    # A supervisor reads the list (audited) but has no tools.
    page = sign_in(browser, live_server, "superviseur")
    try:
        page.goto("/console/accounts")
        page.wait_for_selector("tr[data-username='admin']")
        assert page.query_selector("#account-new") is None
        assert page.query_selector(".account-manage") is None
    finally:
        page.context.close()
