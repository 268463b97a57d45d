"""Response plans: a fight calls for two crews, a theft for one; the recommendation
proposes the nearest free units that complete the plan (never a crew taken off another
incident), counts those already there, says when free units are missing, and a city sets
its own plans."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.security.policy import Role
from tests.conftest import app_client
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import GARE, JAUDE, NORD, new_incident, new_unit
from tests.integration.conftest import Cli


def _plan(client: TestClient, headers: dict[str, str], iid: int) -> dict[str, Any]:
    rec = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=headers)
    assert rec.status_code == 200, rec.text
    return dict(rec.json()["plan"])


def test_a_fight_gets_the_two_nearest_free_crews(client: TestClient, sup: dict[str, str]) -> None:
    near = new_unit(client, sup, "PS-P1", at=JAUDE)
    middle = new_unit(client, sup, "PS-P2", at=GARE)
    new_unit(client, sup, "PS-P3", at=NORD)
    fight = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    plan = _plan(client, sup, fight)
    assert plan == {
        "units": 2,
        "assigned": 0,
        "proposed": [near["id"], middle["id"]],
        "proposed_call_signs": ["PS-P1", "PS-P2"],
        "missing": 0,
    }
    sent = client.post(
        f"/api/v1/incidents/{fight}/dispatch", json={"unit_ids": [near["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    plan = _plan(client, sup, fight)  # one is there: one more is proposed
    assert (plan["assigned"], plan["proposed_call_signs"]) == (1, ["PS-P2"])
    client.post(
        f"/api/v1/incidents/{fight}/dispatch", json={"unit_ids": plan["proposed"]}, headers=sup
    )
    assert _plan(client, sup, fight)["proposed"] == []
    theft = new_incident(client, sup, "theft", at=NORD)["incident"]["id"]
    plan = _plan(client, sup, theft)
    assert (plan["units"], plan["proposed_call_signs"], plan["missing"]) == (1, ["PS-P3"], 0)


def test_busy_crews_are_never_proposed_and_a_shortfall_is_said(
    client: TestClient, sup: dict[str, str]
) -> None:
    busy = new_unit(client, sup, "PS-P4", at=JAUDE)
    new_unit(client, sup, "PS-P5", at=NORD)
    theft = new_incident(client, sup, "theft", at=JAUDE)["incident"]["id"]
    client.post(f"/api/v1/incidents/{theft}/dispatch", json={"unit_ids": [busy["id"]]}, headers=sup)
    fight = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    rec = client.get(f"/api/v1/incidents/{fight}/recommendations", headers=sup).json()
    # The P1 fight may preempt the crew on the theft, but the plan never proposes it.
    assert [c["call_sign"] for c in rec["candidates"]] == ["PS-P4", "PS-P5"]
    assert rec["candidates"][0]["preemptable"] is True
    assert rec["plan"]["proposed_call_signs"] == ["PS-P5"]
    assert rec["plan"]["missing"] == 1


def test_a_city_sets_its_own_plans(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], session: Session
) -> None:
    own = settings.model_copy(update={"response_plans": '{"theft": 2, "fight": 1}'})
    for client in app_client(own, engine, session_factory):
        sup = bearer(make_token(session, own, make_user(session, Role.SUPERVISOR, Role.DISPATCHER)))
        new_unit(client, sup, "PS-P6", at=JAUDE)
        new_unit(client, sup, "PS-P7", at=GARE)
        theft = new_incident(client, sup, "theft", at=JAUDE)["incident"]["id"]
        assert _plan(client, sup, theft)["proposed_call_signs"] == ["PS-P6", "PS-P7"]
        fight = new_incident(client, sup, "fight", at=GARE)["incident"]["id"]
        assert _plan(client, sup, fight)["proposed_call_signs"] == ["PS-P7"]


def test_the_plan_from_the_terminal_and_a_bad_setting(cli: Cli, monkeypatch: Any) -> None:
    for sign, at in (("PS-T1", "3.083,45.777"), ("PS-T2", "3.100,45.779")):
        assert cli("unit", "add", sign, "--type", "car", "--station", at)[0] == 0
        assert cli("unit", "status", sign, "available")[0] == 0
    assert cli("incident", "create", "--type", "fight", "--at", "3.083,45.777")[0] == 0
    code, out = cli("incident", "recommend", "1")
    assert code == 0, out
    assert "response plan: 2 unit(s), 0 already there; proposed: PS-T1 PS-T2" in out
    monkeypatch.setenv("ARVERNE_RESPONSE_PLANS", '{"bagarre": 2}')
    code, out = cli("serve", "--port", "1")
    assert code == 2
    assert "ARVERNE_RESPONSE_PLANS" in out
    assert "'bagarre' is not an incident type" in out
    monkeypatch.delenv("ARVERNE_RESPONSE_PLANS")
    monkeypatch.setenv("ARVERNE_STATUS_CHECK_MINUTES", '{"on_scene": "20"}')
    code, out = cli("serve", "--port", "1")
    assert code == 2
    assert "ARVERNE_STATUS_CHECK_MINUTES" in out
