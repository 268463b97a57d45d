"""Premise history: the incidents near a place over a window, counted by group, those that
call for care flagged, merged duplicates and the incident itself left out; through the
API (around an incident, around a point) and the CLI."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.dispatch.models import Incident
from arverne.dispatch.place_history import place_history
from tests.dispatch_data import GARE, JAUDE, new_incident
from tests.integration.conftest import Cli

# About 20 m and 300 m east of JAUDE.
NEAR = (JAUDE[0] + 0.00026, JAUDE[1])
FAR = (JAUDE[0] + 0.0039, JAUDE[1])


def _age(session: Session, incident_id: int, days: float) -> None:
    """Move an incident ``days`` into the past (as if created then)."""
    incident = session.get(Incident, incident_id)
    assert incident is not None
    incident.created_at -= dt.timedelta(days=days)
    incident.first_call_at -= dt.timedelta(days=days)
    session.flush()


def test_the_history_of_an_incident_s_place(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    old_fight = new_incident(client, sup, "fight", at=NEAR)["incident"]
    theft = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    too_old = new_incident(client, sup, "domestic_dispute", at=JAUDE)["incident"]
    elsewhere = new_incident(client, sup, "assault", at=FAR)["incident"]
    duplicate = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    merged = client.post(
        f"/api/v1/incidents/{duplicate['id']}/merge",
        json={"into": theft["id"], "reason": "même vol"},
        headers=sup,
    )
    assert merged.status_code == 200, merged.text
    _age(session, old_fight["id"], 40)
    _age(session, theft["id"], 3)
    _age(session, too_old["id"], 400)
    now = new_incident(client, sup, "noise", at=JAUDE)["incident"]

    answer = client.get(f"/api/v1/incidents/{now['id']}/place-history", headers=sup)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert [i["id"] for i in out["incidents"]] == [theft["id"], old_fight["id"]]  # newest first
    assert (out["total"], out["safety"], out["radius_m"], out["days"]) == (2, 1, 50.0, 365)
    assert out["by_group"] == {"theft": 1, "violence": 1}
    fight = out["incidents"][1]
    assert fight["safety"] is True
    assert 10 < fight["distance_m"] < 30
    assert fight["number"] == old_fight["number"]
    assert out["last_safety_at"] == fight["created_at"]
    assert not any(
        i["id"] in (elsewhere["id"], duplicate["id"], now["id"]) for i in out["incidents"]
    )

    wider = client.get(
        f"/api/v1/incidents/{now['id']}/place-history",
        params={"radius_m": 500, "days": 3650, "limit": 2},
        headers=sup,
    ).json()
    assert wider["total"] == 4  # the assault 300 m away and the dispute of 400 days ago
    assert wider["safety"] == 3
    assert len(wider["incidents"]) == 2


def test_the_history_of_a_point_before_intake(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    made = new_incident(client, sup, "robbery", at=GARE)["incident"]
    answer = client.get(
        "/api/v1/place-history", params={"lon": GARE[0], "lat": GARE[1]}, headers=sup
    )
    assert answer.status_code == 200, answer.text
    assert [i["id"] for i in answer.json()["incidents"]] == [made["id"]]
    empty = place_history(session, lon=JAUDE[0], lat=JAUDE[1], radius_m=50, days=30)
    assert (empty.total, empty.safety, empty.last_safety_at, empty.incidents) == (0, 0, None, [])


def test_bad_parameters_name_the_field(client: TestClient, sup: dict[str, str]) -> None:
    incident = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    for params, field in (
        ({"radius_m": 2}, "radius_m"),
        ({"days": 0}, "days"),
        ({"limit": 1000}, "limit"),
    ):
        answer = client.get(
            f"/api/v1/incidents/{incident['id']}/place-history", params=params, headers=sup
        )
        assert answer.status_code == 422
        assert field in answer.json()["errors"][0]["field"]
    missing = client.get("/api/v1/place-history", params={"lon": 3.08}, headers=sup)
    assert missing.status_code == 422
    assert "lat" in missing.json()["errors"][0]["field"]
    unknown = client.get("/api/v1/incidents/999999/place-history", headers=sup)
    assert unknown.status_code == 404


def test_cli_lists_the_history(cli: Cli) -> None:
    for type_code in ("domestic_dispute", "theft"):
        code, out = cli("incident", "create", "--type", type_code, "--at", "3.0830,45.7772")
        assert code == 0, out
    code, out = cli("incident", "history", "2")
    assert code == 0, out
    assert "1 incident(s) within 50 m over 365 days, 1 calling for care" in out
    assert "Différend familial" in out
    code, out = cli("incident", "history", "2", "--radius", "1")
    assert code == 2
