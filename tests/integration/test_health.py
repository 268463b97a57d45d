"""Liveness and readiness."""

from __future__ import annotations

from fastapi.testclient import TestClient

from arverne.web.app import create_app
from tests.conftest import make_settings


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"


def test_readyz_is_503_on_an_unmigrated_database(fresh_database_url: str) -> None:
    app = create_app(make_settings(fresh_database_url))
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "arverne db upgrade" in response.json()["detail"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 200
    assert "/api/v1/auth/login" in client.get("/api/openapi.json").json()["paths"]
