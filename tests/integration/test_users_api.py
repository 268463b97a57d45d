"""Account administration over HTTP, with audited reads."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import PASSWORD, bearer, make_token, make_user


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
