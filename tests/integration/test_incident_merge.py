"""Merging a duplicate incident into the one that stays: calls and units move over,
nothing is lost, every step is logged and audited; bad merges are refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.models import Assignment
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import GARE, JAUDE, new_incident, new_unit, set_status
from tests.integration.conftest import Cli


def _merge(
    client: TestClient, headers: dict[str, str], source: int, into: int, **extra: Any
) -> Any:
    body = {"into": into, "reason": "même rixe, deux appelants", **extra}
    return client.post(f"/api/v1/incidents/{source}/merge", json=body, headers=headers)


def test_calls_and_units_move_to_the_incident_that_stays(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    kept = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    extra = new_incident(
        client, sup, "fight", at=GARE, call={"channel": "emergency", "description": "ça cogne"}
    )["incident"]
    unit = new_unit(client, sup, "PS-21", at=GARE)
    dispatched = client.post(
        f"/api/v1/incidents/{extra['id']}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert dispatched.status_code == 200, dispatched.text
    assert set_status(client, sup, unit["id"], "en_route").status_code == 200

    response = _merge(client, sup, extra["id"], kept["id"])
    assert response.status_code == 200, response.text
    merged_view = response.json()
    assert merged_view["id"] == kept["id"]
    # Both calls are on the incident that stays; the more urgent priority wins.
    assert len(merged_view["calls"]) == 2
    assert merged_view["priority"] == min(kept["priority"], extra["priority"]) == 1
    assert merged_view["status"] == "en_route"  # the moved unit keeps its progress
    (moved,) = [a for a in merged_view["assignments"] if a["released_at"] is None]
    assert moved["unit_id"] == unit["id"]
    assert moved["en_route_at"] is not None
    assert merged_view["first_dispatch_at"] is not None
    assert merged_view["first_call_at"] <= extra["first_call_at"]

    gone = client.get(f"/api/v1/incidents/{extra['id']}", headers=sup).json()
    assert (gone["status"], gone["disposition"], gone["merged_into"]) == (
        "cancelled", "duplicate", kept["id"]
    )  # fmt: skip
    assert gone["calls"] == []
    assert [a["release_reason"] for a in gone["assignments"]] == ["merged"]
    unit_now = client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()
    assert (unit_now["status"], unit_now["current_incident_id"]) == ("en_route", kept["id"])
    # The database still allows one open assignment per unit, and it is the new one.
    open_rows = session.scalars(
        select(Assignment).where(Assignment.unit_id == unit["id"], Assignment.released_at.is_(None))
    ).all()
    assert [a.incident_id for a in open_rows] == [kept["id"]]

    kinds = {
        (e["incident_id"], e["kind"]) for e in client.get("/api/v1/dutylog", headers=sup).json()
    }
    assert {(extra["id"], "incident_merged"), (kept["id"], "incident_merged"),
            (kept["id"], "unit_moved")} <= kinds  # fmt: skip
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.merge")).one()
    assert entry.object_id == str(extra["id"])
    assert entry.reason == "même rixe, deux appelants"
    assert entry.details["into"] == kept["id"]

    # The unit finishes the job on the incident that stays.
    assert set_status(client, sup, unit["id"], "on_scene").status_code == 200
    closed = client.post(
        f"/api/v1/incidents/{kept['id']}/close", json={"disposition": "arrest"}, headers=sup
    )
    assert closed.status_code == 200, closed.text
    after = client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()
    assert (after["status"], after["current_incident_id"]) == ("available", None)


def test_bad_merges_are_refused_and_change_nothing(client: TestClient, sup: dict[str, str]) -> None:
    first = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    second = new_incident(client, sup, "theft", at=GARE)["incident"]
    itself = _merge(client, sup, first["id"], first["id"])
    assert itself.status_code == 422
    assert "into" in itself.text
    assert _merge(client, sup, first["id"], 999_999).status_code == 404
    no_reason = _merge(client, sup, first["id"], second["id"], reason="  ")
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    closed = client.post(
        f"/api/v1/incidents/{second['id']}/close", json={"disposition": "no_offence"}, headers=sup
    )
    assert closed.status_code == 200
    refused = _merge(client, sup, first["id"], second["id"])
    assert refused.status_code == 409
    assert "closed" in refused.text
    still = client.get(f"/api/v1/incidents/{first['id']}", headers=sup).json()
    assert (still["status"], still["merged_into"], len(still["calls"])) == ("queued", None, 1)


def test_an_officer_may_not_merge(client: TestClient, session: Session, settings: Settings) -> None:
    sup = bearer(make_token(session, settings, make_user(session, Role.SUPERVISOR)))
    officer = bearer(make_token(session, settings, make_user(session, Role.OFFICER)))
    a = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    b = new_incident(client, sup, "theft", at=GARE)["incident"]
    assert _merge(client, officer, a["id"], b["id"]).status_code == 403


def test_merge_from_the_terminal(cli: Cli) -> None:
    for at in ("3.083,45.777", "3.084,45.777"):
        assert cli("incident", "create", "--type", "theft", "--at", at)[0] == 0
    code, out = cli("incident", "merge", "2", "--into", "1", "--reason", "même vol")
    assert code == 0, out
    code, out = cli("incident", "show", "2")
    assert "cancelled" in out
    code, out = cli("incident", "merge", "1", "--into", "1", "--reason", "x")
    assert code == 2
    assert "into" in out


def test_a_transporting_unit_keeps_its_destination_when_its_incident_is_merged(
    client: TestClient, sup: dict[str, str]
) -> None:
    kept = new_incident(client, sup, "fight", at=JAUDE)["incident"]
    extra = new_incident(client, sup, "assault", at=GARE)["incident"]
    unit = new_unit(client, sup, "PS-22", at=GARE)
    sent = client.post(
        f"/api/v1/incidents/{extra['id']}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    assert set_status(client, sup, unit["id"], "on_scene").status_code == 200
    going = set_status(client, sup, unit["id"], "transporting", destination="CHU Estaing")
    assert going.status_code == 200, going.text
    answer = _merge(client, sup, extra["id"], kept["id"])
    assert answer.status_code == 200, answer.text
    (moved,) = [a for a in answer.json()["assignments"] if a["released_at"] is None]
    assert (moved["unit_id"], moved["transport_to"]) == (unit["id"], "CHU Estaing")
