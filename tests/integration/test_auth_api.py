"""Login, cookies, CSRF, lockout, API tokens and two-factor authentication over HTTP."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.security import mfa
from arverne.security.models import AuditEntry, User
from arverne.security.policy import Role
from arverne.web.app import create_app
from tests.conftest import make_settings
from tests.data import PASSWORD, bearer, login, make_token, make_user

LOGIN = "/api/v1/auth/login"


def test_login_sets_hardened_cookies(client: TestClient, session: Session) -> None:
    make_user(session, Role.DISPATCHER, username="opa")
    response = client.post(LOGIN, json={"username": "OPA", "password": PASSWORD})
    assert response.status_code == 200
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("arverne_session="))
    assert "HttpOnly" in session_cookie
    assert "Secure" in session_cookie
    assert "SameSite=strict" in session_cookie
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "opa"
    assert "incident:dispatch" in me.json()["permissions"]


def test_wrong_credentials_do_not_say_which(client: TestClient, session: Session) -> None:
    make_user(session, username="known")
    unknown = client.post(LOGIN, json={"username": "nobody", "password": PASSWORD})
    wrong = client.post(LOGIN, json={"username": "known", "password": "wrong password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]
    assert unknown.headers["content-type"] == "application/problem+json"
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action == "auth.login_failed")
    ).all()
    assert len(actions) >= 2


def test_lockout_after_five_failures_for_ten_minutes(client: TestClient, session: Session) -> None:
    user = make_user(session, username="target")
    for _ in range(5):
        assert (
            client.post(LOGIN, json={"username": "target", "password": "bad password"}).status_code
            == 401
        )
    session.refresh(user)
    assert user.locked_until is not None
    remaining = user.locked_until - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=9) < remaining <= dt.timedelta(minutes=10)
    # Even the right password is refused while locked.
    assert client.post(LOGIN, json={"username": "target", "password": PASSWORD}).status_code == 401
    user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.commit()
    assert client.post(LOGIN, json={"username": "target", "password": PASSWORD}).status_code == 200
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.lockout"))


def test_cookie_writes_need_the_csrf_token(client: TestClient, session: Session) -> None:
    make_user(session, username="csrfuser")
    csrf = login(client, "csrfuser")
    without = client.post("/api/v1/auth/tokens", json={"name": "x"})
    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    wrong = client.post(
        "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "0" * 64}
    )
    assert wrong.status_code == 403
    ok = client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201


def test_logout_revokes_the_session(client: TestClient, session: Session) -> None:
    make_user(session, username="bye")
    csrf = login(client, "bye")
    stolen = client.cookies.get("arverne_session")
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("arverne_session", stolen or "", domain="testserver")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_idle_session_expires(client: TestClient, session: Session) -> None:
    from arverne.security.models import UserSession

    make_user(session, username="idle")
    login(client, "idle")
    row = session.scalars(select(UserSession).order_by(UserSession.id.desc())).first()
    assert row is not None
    row.last_seen_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=31)
    session.commit()
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_api_token_works_until_revoked(
    client: TestClient, session: Session, settings: Settings
) -> None:
    user = make_user(session, Role.ANALYST, username="robot")
    token = make_token(session, settings, user)
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    listed = client.get("/api/v1/auth/tokens", headers=bearer(token)).json()
    assert listed[0]["prefix"] == token[:10]
    assert "token" not in listed[0]
    revoke = client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}", headers=bearer(token))
    assert revoke.status_code == 204
    after = client.get("/api/v1/auth/me", headers=bearer(token))
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


def test_disabling_a_user_kills_their_tokens(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = make_user(session, Role.ADMIN, username="boss")
    victim = make_user(session, Role.OFFICER, username="leaver")
    admin_token = make_token(session, settings, admin)
    token = make_token(session, settings, victim)
    response = client.patch(
        f"/api/v1/users/{victim.id}", json={"is_active": False}, headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_bearer_scheme_is_checked(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]


def _enrol(client: TestClient, csrf: str) -> tuple[str, str]:
    """Enrol TOTP; return the secret and the code the confirmation consumed."""
    setup = client.post("/api/v1/auth/mfa/setup", headers={"X-CSRF-Token": csrf})
    assert setup.status_code == 200, setup.text
    secret: str = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    used = mfa.current_code(secret)
    confirm = client.post(
        "/api/v1/auth/mfa/confirm", json={"otp": used}, headers={"X-CSRF-Token": csrf}
    )
    assert confirm.status_code == 204, confirm.text
    return secret, used


def test_totp_is_then_required_and_not_replayable(client: TestClient, session: Session) -> None:
    make_user(session, Role.DISPATCHER, username="twofa")
    secret, used = _enrol(client, login(client, "twofa"))
    client.cookies.clear()
    missing = client.post(LOGIN, json={"username": "twofa", "password": PASSWORD})
    assert missing.status_code == 401
    assert "otp" in missing.json()["detail"]
    # The code used to confirm enrolment was already consumed: a replay is refused (the
    # very same code, not a recomputed one, so a 30 s boundary cannot make it fresh).
    replay = client.post(LOGIN, json={"username": "twofa", "password": PASSWORD, "otp": used})
    assert replay.status_code == 401
    user = session.scalar(select(User).where(User.username == "twofa"))
    assert user is not None
    session.refresh(user)
    user.totp_last_step = None
    session.commit()
    code = mfa.current_code(secret)
    ok = client.post(LOGIN, json={"username": "twofa", "password": PASSWORD, "otp": code})
    assert ok.status_code == 200


def test_required_mfa_blocks_supervisor_until_enrolled(
    database_url: str, engine: Engine, session_factory: sessionmaker[Session], session: Session
) -> None:
    settings = make_settings(database_url, require_mfa=True)
    app = create_app(settings, engine=engine, session_factory=session_factory)
    make_user(session, Role.SUPERVISOR, username="sup")
    make_user(session, Role.DISPATCHER, username="disp")
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post(LOGIN, json={"username": "sup", "password": PASSWORD})
        assert response.json()["mfa_setup_required"] is True
        csrf = response.json()["csrf_token"]
        blocked = client.get("/api/v1/users")
        assert blocked.status_code == 403
        assert "two-factor" in blocked.json()["detail"]
        no_token = client.post(
            "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}
        )
        assert no_token.status_code == 422
        _enrol(client, csrf)
        allowed = client.get("/api/v1/users")
        assert allowed.status_code == 200, allowed.text
        # Roles outside the MFA list are not affected.
        client.cookies.clear()
        login(client, "disp")
        assert client.get("/api/v1/roles").status_code == 200


def test_change_own_password(client: TestClient, session: Session) -> None:
    make_user(session, username="changer")
    csrf = login(client, "changer")
    bad = client.post(
        "/api/v1/auth/password",
        headers={"X-CSRF-Token": csrf},
        json={"current_password": "nope", "new_password": "a new long passphrase"},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "current_password"
    ok = client.post(
        "/api/v1/auth/password",
        headers={"X-CSRF-Token": csrf},
        json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
    )
    assert ok.status_code == 204
    # The session was revoked with the old password.
    assert client.get("/api/v1/auth/me").status_code == 401
    login(client, "changer", "a new long passphrase")
