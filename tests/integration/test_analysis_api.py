"""Analysis on the platform's own incidents: stats, hotspots, logged forecasts, monitor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.demo.world import seed_history
from arverne.dispatch.citypack import RoadCity
from arverne.geo.pack import load_pack
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.web.app import create_app
from tests.data import bearer, make_token, make_user


@pytest.fixture(scope="module")
def town(small_city_pack: Path) -> RoadCity:
    return RoadCity(load_pack(small_city_pack))


@pytest.fixture
def analyst_client(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    session: Session,
    town: RoadCity,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    seed_history(session, town.pack, years=0.5, seed=5)
    session.commit()
    headers = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    app = create_app(settings, engine=engine, session_factory=session_factory, city=town)
    with TestClient(app, base_url="https://testserver") as client:
        yield client, headers


def test_statistics_and_heatmap(analyst_client: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = analyst_client
    body = client.get("/api/v1/analysis/stats", params={"days": 400}, headers=headers).json()
    assert body["n_events"] > 1000  # about 70 a day for half a year
    assert body["heatmap"] is not None
    assert body["summary"] is not None


def test_hotspots_exclude_enforcement_driven_categories(
    analyst_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = analyst_client
    body = client.get(
        "/api/v1/analysis/hotspots", params={"cell_m": 50, "method": "gi"}, headers=headers
    )
    assert body.status_code == 200, body.text
    out = body.json()
    assert out["excluded_categories"].get("drugs", 0) > 0
    assert "feedback" in out["responsible_use"].lower()
    bad = client.get("/api/v1/analysis/hotspots", params={"method": "x"}, headers=headers)
    assert bad.status_code == 422


def test_forecast_runs_are_logged_with_the_reason(
    analyst_client: tuple[TestClient, dict[str, str]], session: Session
) -> None:
    client, headers = analyst_client
    body = {"method": "decay", "reason": "plan des patrouilles semaine 48", "cell_m": 50}
    response = client.post("/api/v1/analysis/forecasts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    run, result = response.json()["run"], response.json()["result"]
    assert run["status"] == "ok", run["error"]
    assert run["n_training_events"] > 1000
    assert result["top_cells"]["features"]
    assert all(f["properties"]["expected"] >= 0 for f in result["top_cells"]["features"])
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "forecast.run")).one()
    assert entry.reason == "plan des patrouilles semaine 48"
    # A forecast that cannot fit is stored as failed, not replaced by another method.
    empty = client.post(
        "/api/v1/analysis/forecasts",
        json={**body, "categories": ["fraud"], "reason": "test"},
        headers=headers,
    )
    assert empty.status_code == 201
    assert empty.json()["run"]["status"] == "failed"
    assert empty.json()["result"] is None
    runs = client.get("/api/v1/analysis/forecasts", headers=headers).json()
    assert [r["status"] for r in runs] == ["failed", "ok"]
    one = client.get(f"/api/v1/analysis/forecasts/{run['id']}", headers=headers).json()
    assert one["method"] == "decay"
    monitor = client.get("/api/v1/analysis/monitor", headers=headers).json()
    assert monitor["runs"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"method": "crystal_ball", "reason": "x" * 5},
        {"method": "decay"},
        {"method": "decay", "reason": "ok ok", "coverage": 0.9},
    ],
)
def test_bad_forecast_requests_are_refused(
    analyst_client: tuple[TestClient, dict[str, str]], body: dict[str, object]
) -> None:
    client, headers = analyst_client
    response = client.post("/api/v1/analysis/forecasts", json=body, headers=headers)
    assert response.status_code == 422
