"""Bad input gets problem details naming each field; failures leave nothing half-written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security import audit
from arverne.security.models import AuditEntry, User
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user


@pytest.fixture
def admin_headers(session: Session, settings: Settings) -> dict[str, str]:
    return bearer(make_token(session, settings, make_user(session, Role.ADMIN)))


def test_malformed_json_is_422(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/users",
        content=b'{"username": "x",',
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("validation-error")
    assert body["errors"][0]["type"] == "json_invalid"


def test_missing_and_wrong_fields_are_each_named(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/users",
        headers=admin_headers,
        json={
            "username": "a b",
            "full_name": "X",
            "password": "short",
            "roles": ["chief"],
            "shoe_size": 44,
        },
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"body.username", "body.password", "body.roles.0", "body.shoe_size"} <= fields
    missing = client.post("/api/v1/users", headers=admin_headers, json={})
    assert {"body.username", "body.full_name", "body.password", "body.roles"} <= {
        e["field"] for e in missing.json()["errors"]
    }


def test_wrong_type_in_path_is_422(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/users/abc", headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.user_id"


def test_unknown_route_is_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "request_id"}
    assert "/api/docs" in body["detail"]


def test_missing_object_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/users/999999", headers=admin_headers)
    assert response.status_code == 404
    assert response.json()["detail"] == "user 999999 does not exist"


def test_duplicate_username_is_409_and_writes_nothing(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    body = {
        "username": "dupont",
        "full_name": "Jean Dupont",
        "password": "long enough pw",
        "roles": ["officer"],
    }
    assert client.post("/api/v1/users", headers=admin_headers, json=body).status_code == 201
    entries = session.scalar(select(func.count()).select_from(AuditEntry))
    again = client.post("/api/v1/users", headers=admin_headers, json=body)
    assert again.status_code == 409
    assert "already taken" in again.json()["detail"]
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_failure_mid_request_rolls_everything_back(
    client: TestClient,
    session: Session,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_record = audit.record

    def failing_record(*args: object, **kwargs: object) -> object:
        if kwargs.get("action") == "user.create":
            raise RuntimeError("disk full")
        return real_record(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "record", failing_record)
    client_no_raise = TestClient(
        client.app, base_url="https://testserver", raise_server_exceptions=False
    )
    response = client_no_raise.post(
        "/api/v1/users",
        headers=admin_headers,
        json={
            "username": "ghost",
            "full_name": "G",
            "password": "long enough pw",
            "roles": ["officer"],
        },
    )
    assert response.status_code == 500
    assert "nothing was saved" in response.json()["detail"]
    assert session.scalar(select(User).where(User.username == "ghost")) is None


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert response.headers["x-content-type-options"] == "nosniff"
