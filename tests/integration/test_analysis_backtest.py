"""Backtests on the platform's own incidents: the table, storage, audit and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from arverne.analysis.models import ForecastRun
from arverne.config import Settings
from arverne.demo.world import seed_history
from arverne.dispatch.citypack import RoadCity
from arverne.geo.pack import load_pack
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.web.app import create_app
from tests.data import bearer, make_token, make_user

URL = "/api/v1/analysis/backtests"
COVERAGES = ["1%", "2%", "5%", "10%", "20%"]
SMALL = {"train_days": 60, "horizon_days": 7, "windows": 3, "cell_m": 50}
Client = tuple[TestClient, dict[str, str], dict[str, str]]


@pytest.fixture(scope="module")
def town(small_city_pack: Path) -> RoadCity:
    return RoadCity(load_pack(small_city_pack))


@pytest.fixture
def clients(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    session: Session,
    town: RoadCity,
) -> Iterator[Client]:
    seed_history(session, town.pack, years=0.4, seed=7)
    session.commit()
    analyst = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    dispatcher = bearer(make_token(session, settings, make_user(session, Role.DISPATCHER)))
    app = create_app(settings, engine=engine, session_factory=session_factory, city=town)
    with TestClient(app, base_url="https://testserver") as client:
        yield client, analyst, dispatcher


def _post(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(URL, json={**SMALL, "reason": "revue mensuelle", **body}, headers=headers)


def test_backtest_table_is_stored_and_audited(clients: Client, session: Session) -> None:
    client, analyst, _ = clients
    response = _post(client, analyst, methods=["naive", "decay"], reason="revue mensuelle")
    assert response.status_code == 201, response.text
    run, table = response.json()["run"], response.json()["table"]
    assert run["status"] == "ok", run["error"]
    assert run["reason"] == "revue mensuelle"
    assert run["excluded"].get("drugs", 0) > 0  # enforcement-driven: left out, and said so
    assert table["coverages"] == COVERAGES
    assert len(table["windows"]) == 3
    assert [row["method"] for row in table["rows"]] == ["naive", "decay"]
    for row in table["rows"]:
        assert row["status"] == "ok"
        for label, coverage in zip(COVERAGES, (0.01, 0.02, 0.05, 0.1, 0.2), strict=True):
            cell = row["cells"][label]
            low, high = cell["hit_rate_ci95"]
            assert 0 <= low <= cell["hit_rate"] <= high <= 1
            assert cell["pai"] == pytest.approx(cell["hit_rate"] / coverage)
            assert cell["pai_ci95"][1] == pytest.approx(high / coverage)
            assert 0 <= cell["pei"] <= 1
            assert cell["pei_ci95"][0] <= cell["pei"] <= cell["pei_ci95"][1]
            # Nothing beats the oracle: the busiest cells of what actually happened.
            assert cell["hit_rate"] <= table["oracle"][label] + 1e-9
    assert table["rows"][1]["cells"]["5%"]["skill_vs_naive"] is not None
    assert table["oracle"]["20%"] >= table["oracle"]["1%"] > 0

    stored = session.get(ForecastRun, run["id"])
    assert stored is not None
    assert stored.method == "backtest"
    assert stored.created_by == run["created_by"]
    assert set(stored.backtest["methods"]) == {"naive", "decay"}  # type: ignore[index]
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "forecast.backtest")
    ).one()
    assert entry.reason == "revue mensuelle"
    assert entry.object_id == str(run["id"])

    listed = client.get(URL, headers=analyst).json()
    assert [b["run"]["id"] for b in listed] == [run["id"]]
    assert listed[0]["table"]["rows"][0]["cells"]["5%"] == table["rows"][0]["cells"]["5%"]
    one = client.get(f"{URL}/{run['id']}", headers=analyst).json()
    assert one["report"]["methods"]["naive"]["windows"]
    log = client.get("/api/v1/analysis/forecasts", params={"method": "backtest"}, headers=analyst)
    assert [r["id"] for r in log.json()] == [run["id"]]


def test_a_method_that_cannot_fit_is_reported_failed(clients: Client) -> None:
    client, analyst, _ = clients
    # gbm needs at least two training origins, which 30 days of training cannot give.
    response = _post(client, analyst, methods=["naive", "gbm"], train_days=30, windows=2)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["run"]["status"] == "ok"
    rows = {row["method"]: row for row in body["table"]["rows"]}
    assert rows["naive"]["status"] == "ok"
    assert rows["gbm"]["status"] == "failed"
    assert "training origins" in rows["gbm"]["error"]
    assert rows["gbm"]["cells"] == {}


def test_a_backtest_without_data_is_stored_as_failed(clients: Client) -> None:
    client, analyst, _ = clients
    response = _post(client, analyst, methods=["naive"], categories=["fraud"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["run"]["status"] == "failed"
    assert "incidents in the period" in body["run"]["error"]
    assert body["table"] is None
    listed = client.get(URL, headers=analyst).json()
    assert listed[0]["run"]["status"] == "failed"


def test_too_short_a_history_is_reported(clients: Client) -> None:
    client, analyst, _ = clients
    response = _post(client, analyst, methods=["naive"], train_days=365, windows=12)
    assert response.status_code == 201
    assert response.json()["run"]["status"] == "failed"
    assert "days of history" in response.json()["run"]["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"methods": ["naive"], "windows": 13}, "windows"),
        ({"methods": ["naive"], "windows": 0}, "windows"),
        ({"methods": ["naive"], "train_days": 1200}, "train_days"),
        ({"methods": ["crystal_ball"]}, "methods"),
        ({"methods": []}, "methods"),
        ({"methods": ["naive"], "reason": ""}, "reason"),
        ({"methods": ["naive"], "cell_m": 5}, "cell_m"),
        ({"methods": ["naive"], "suspect_age": 30}, "suspect_age"),
    ],
)
def test_bad_backtest_requests_are_refused(
    clients: Client, body: dict[str, Any], field: str
) -> None:
    client, analyst, _ = clients
    response = _post(client, analyst, **body)
    assert response.status_code == 422, response.text
    assert any(field in e["field"] for e in response.json()["errors"]), response.json()


def test_backtests_need_the_forecast_permission(clients: Client) -> None:
    client, _, dispatcher = clients
    refused = _post(client, dispatcher, methods=["naive"])
    assert refused.status_code == 403
    assert client.get(URL, headers=dispatcher).status_code == 403
    assert client.post(URL, json={"methods": ["naive"], "reason": "x y z"}).status_code == 401
