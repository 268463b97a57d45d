"""Account administration over HTTP, with audited reads."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.errors import ConflictError
from arverne.security import service
from arverne.security.models import AuditEntry, User
from arverne.security.policy import Role
from arverne.security.schemas import UserUpdate
from arverne.store.types import utcnow
from tests.data import PASSWORD, TEST_CTX, bearer, login, make_token, make_user


def test_admin_creates_updates_and_resets(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    created = client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "username": "Martin.L",
            "full_name": "Léa Martin",
            "email": "lea@example.org",
            "password": "long enough pw",
            "roles": ["dispatcher", "officer", "officer"],
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["username"] == "martin.l"
    assert user["roles"] == ["dispatcher", "officer"]
    assert "password_hash" not in user

    updated = client.patch(
        f"/api/v1/users/{user['id']}", headers=headers, json={"roles": ["supervisor"]}
    )
    assert updated.json()["roles"] == ["supervisor"]

    weak = client.post(
        f"/api/v1/users/{user['id']}/reset-password",
        headers=headers,
        json={"password": "martin.l12"},
    )
    assert weak.status_code == 204
    same_as_name = client.post(
        f"/api/v1/users/{user['id']}/reset-password", headers=headers, json={"password": "MARTIN.L"}
    )
    assert same_as_name.status_code == 422

    login = client.post(
        "/api/v1/auth/login", json={"username": "martin.l", "password": "martin.l12"}
    )
    assert login.status_code == 200


def test_reads_of_personal_data_are_audited_with_reason(
    client: TestClient, session: Session, settings: Settings
) -> None:
    reader = make_user(session, Role.SUPERVISOR)
    headers = bearer(make_token(session, settings, reader))
    target = make_user(session, Role.OFFICER)
    response = client.get(
        f"/api/v1/users/{target.id}", headers={**headers, "X-Access-Reason": "shift planning"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"  # personal data: never cached
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.read").order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None
    assert entry.actor == reader.username
    assert entry.object_id == str(target.id)
    assert entry.reason == "shift planning"
    assert entry.request_id
    assert entry.client_addr


def test_admin_revokes_someone_elses_token(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin_headers = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    officer = make_user(session, Role.OFFICER)
    token = make_token(session, settings, officer)
    listed = client.get(f"/api/v1/users/{officer.id}/tokens", headers=admin_headers).json()
    revoke = client.delete(
        f"/api/v1/users/{officer.id}/tokens/{listed[0]['id']}", headers=admin_headers
    )
    assert revoke.status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_audit_api_lists_and_verifies(
    client: TestClient, session: Session, settings: Settings
) -> None:
    headers = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    client.post("/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
    entries = client.get("/api/v1/audit?action=auth.login_failed", headers=headers).json()
    assert entries[0]["action"] == "auth.login_failed"
    assert entries[0]["details"]["username"] == "nobody"
    verify = client.get("/api/v1/audit/verify", headers=headers).json()
    assert verify["ok"] is True
    assert verify["entries"] >= 3


def _only_admin(session: Session, settings: Settings) -> tuple[User, dict[str, str]]:
    """An administrator who is the only active one (others are disabled in this test's
    rolled-back transaction)."""
    session.execute(update(User).values(is_active=False))
    admin = make_user(session, Role.ADMIN)
    return admin, bearer(make_token(session, settings, admin))


def test_the_last_active_administrator_is_kept(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin, headers = _only_admin(session, settings)
    demoted = client.patch(
        f"/api/v1/users/{admin.id}", headers=headers, json={"roles": ["supervisor"]}
    )
    assert demoted.status_code == 409, demoted.text
    assert "last active administrator" in demoted.json()["detail"]
    session.expire_all()
    assert session.get(User, admin.id).roles == ["admin"]  # type: ignore[union-attr]

    # Nobody disables their own account, administrator or not.
    own = client.patch(f"/api/v1/users/{admin.id}", headers=headers, json={"is_active": False})
    assert own.status_code == 409
    assert "your own account" in own.json()["detail"]

    # With a second administrator, the first may step down; the second may not then
    # be disabled by anyone (here the CLI context, in the service).
    second = make_user(session, Role.ADMIN, Role.SUPERVISOR)
    session.commit()
    assert (
        client.patch(
            f"/api/v1/users/{admin.id}", headers=headers, json={"roles": ["supervisor"]}
        ).status_code
        == 200
    )
    with pytest.raises(ConflictError, match="last active administrator"):
        service.update(
            session=session, ctx=TEST_CTX, user=second, user_in=UserUpdate(is_active=False)
        )
    # Taking the admin role from one who keeps another role is the same loss.
    with pytest.raises(ConflictError, match="last active administrator"):
        service.update(
            session=session,
            ctx=TEST_CTX,
            user=second,
            user_in=UserUpdate(roles=[Role.SUPERVISOR]),
        )
    # Disabling a plain account, or another role change, is not checked against it.
    officer = make_user(session, Role.OFFICER)
    assert (
        service.update(
            session=session, ctx=TEST_CTX, user=officer, user_in=UserUpdate(is_active=False)
        ).is_active
        is False
    )


def test_unlock_and_last_sign_in(client: TestClient, session: Session, settings: Settings) -> None:
    _admin, headers = _only_admin(session, settings)
    officer = make_user(session, Role.OFFICER)
    officer.locked_until = utcnow() + dt.timedelta(minutes=15)
    officer.failed_logins = 5
    session.commit()
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=headers).json()}
    assert listed[officer.username]["last_sign_in_at"] is None
    assert listed[officer.username]["locked_until"] is not None
    refused = client.post(
        "/api/v1/auth/login", json={"username": officer.username, "password": PASSWORD}
    )
    assert refused.status_code == 401  # locked: refused like any failed sign-in

    unlocked = client.post(f"/api/v1/users/{officer.id}/unlock", headers=headers)
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until"] is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.unlock")).one()
    assert entry.object_id == str(officer.id)
    assert entry.details == {"was_locked": True}

    signed_in = client.post(
        "/api/v1/auth/login", json={"username": officer.username, "password": PASSWORD}
    )
    assert signed_in.status_code == 200, signed_in.text
    one = client.get(
        f"/api/v1/users/{officer.id}", headers={**headers, "X-Access-Reason": "support"}
    ).json()
    assert one["last_sign_in_at"] is not None
    assert dt.datetime.fromisoformat(one["last_sign_in_at"]) > utcnow() - dt.timedelta(minutes=1)
    assert client.post("/api/v1/users/999999/unlock", headers=headers).status_code == 404


def test_a_password_set_by_an_administrator_is_temporary(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    made = client.post(
        "/api/v1/users",
        headers=admin,
        json={
            "username": "provi",
            "full_name": "Paul Provisoire",
            "password": "remis en main propre",
            "roles": ["officer"],
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["must_change_password"] is True

    # Signed in with it, the session may only choose its own password.
    csrf = login(client, "provi", "remis en main propre")
    me = client.get("/api/v1/auth/me").json()
    assert (me["password_change_required"], me["permissions"]) == (True, [])
    refused = client.get("/api/v1/incidents")
    assert refused.status_code == 403
    assert "choose your own" in refused.json()["detail"]
    token = client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert token.status_code == 422
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": "remis en main propre", "new_password": "le mien, enfin"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204, changed.text
    assert client.get("/api/v1/auth/me").status_code == 401  # every session ended

    login(client, "provi", "le mien, enfin")
    assert client.get("/api/v1/auth/me").json()["password_change_required"] is False
    assert client.get("/api/v1/incidents").status_code == 200

    # An administrator's reset makes it temporary again, and the audit says so.
    user_id = made.json()["id"]
    reset = client.post(
        f"/api/v1/users/{user_id}/reset-password",
        headers=admin,
        json={"password": "encore un autre"},
    )
    assert reset.status_code == 204
    again = client.get(f"/api/v1/users/{user_id}", headers={**admin, "X-Access-Reason": "t"})
    assert again.json()["must_change_password"] is True
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "user.reset_password")
        .order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None
    assert entry.details == {"temporary": True}


def test_an_administrator_signs_an_account_out_everywhere(
    client: TestClient, session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    officer = make_user(session, Role.OFFICER, username="perdu")
    token = make_token(session, settings, officer)
    login(client, "perdu")
    assert client.get("/api/v1/auth/me").status_code == 200

    listed = client.get(
        f"/api/v1/users/{officer.id}/sessions",
        headers={**admin, "X-Access-Reason": "telephone perdu"},
    )
    assert listed.status_code == 200, listed.text
    (open_session,) = listed.json()
    assert open_session["client_addr"]
    read = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.sessions")).one()
    assert read.details == {"count": 1}

    ended = client.post(f"/api/v1/users/{officer.id}/end-sessions", headers=admin)
    assert ended.json() == {"ended": 1}
    assert client.get("/api/v1/auth/me").status_code == 401  # the lost phone is signed out
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200  # kept
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.end_sessions")
    ).one()
    assert entry.details == {"sessions": 1}
    again = client.post(f"/api/v1/users/{officer.id}/end-sessions", headers=admin)
    assert again.json() == {"ended": 0}
