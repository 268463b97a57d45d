"""Splitting a second event out of an incident: the calls and units named move to a new
incident with their times, nothing is lost, every step is logged and audited; bad
splits are refused and change nothing."""

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


def _split(client: TestClient, headers: dict[str, str], source: int, **body: Any) -> Any:
    body = {
        "type_code": "burglary_report",
        "reason": "le 2e appelant parle d'un cambriolage",
        **body,
    }
    return client.post(f"/api/v1/incidents/{source}/split", json=body, headers=headers)


def _dispatch(client: TestClient, headers: dict[str, str], incident: int, *units: int) -> None:
    answer = client.post(
        f"/api/v1/incidents/{incident}/dispatch", json={"unit_ids": list(units)}, headers=headers
    )
    assert answer.status_code == 200, answer.text


def test_a_linked_call_and_a_unit_move_to_the_new_incident(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    first = new_incident(
        client, sup, "noise", at=JAUDE, call={"channel": "phone", "description": "musique"}
    )["incident"]
    linked = client.post(
        f"/api/v1/incidents/{first['id']}/calls",
        json={"channel": "emergency", "description": "on a forcé la porte du voisin"},
        headers=sup,
    )
    assert linked.status_code in (200, 201), linked.text
    calls = client.get(f"/api/v1/incidents/{first['id']}", headers=sup).json()["calls"]
    assert len(calls) == 2
    kept_call, moved_call = calls
    stays = new_unit(client, sup, "PS-31", at=JAUDE)
    goes = new_unit(client, sup, "PS-32", at=JAUDE)
    _dispatch(client, sup, first["id"], stays["id"], goes["id"])
    assert set_status(client, sup, goes["id"], "en_route").status_code == 200
    assert set_status(client, sup, goes["id"], "on_scene").status_code == 200

    answer = _split(
        client, sup, first["id"], call_ids=[moved_call["id"]], unit_ids=[goes["id"]],
        lon=GARE[0], lat=GARE[1], description="porte fracturée au 2e",
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    source, created = answer.json()["source"], answer.json()["created"]
    assert created["split_from"] == first["id"]
    assert (created["type_code"], created["priority"]) == ("burglary_report", 3)
    assert (created["lon"], created["lat"]) != (first["lon"], first["lat"])
    assert created["description"] == "porte fracturée au 2e"
    assert [c["id"] for c in created["calls"]] == [moved_call["id"]]
    assert created["first_call_at"] == moved_call["received_at"]
    assert [c["id"] for c in source["calls"]] == [kept_call["id"]]
    assert source["first_call_at"] == kept_call["received_at"]
    # The unit keeps its progress: on scene of the new incident, with its times.
    (moved,) = created["assignments"]
    assert (moved["unit_id"], moved["released_at"]) == (goes["id"], None)
    assert moved["arrived_at"] is not None
    assert moved["en_route_at"] is not None
    assert created["status"] == "on_scene"
    assert created["first_arrival_at"] == moved["arrived_at"]
    assert created["first_dispatch_at"] == moved["dispatched_at"]
    # The other unit stays; the source is back to "dispatched" (nobody on scene now).
    assert source["status"] == "dispatched"
    reasons = {a["unit_id"]: a["release_reason"] for a in source["assignments"]}
    assert reasons == {stays["id"]: None, goes["id"]: "split"}
    unit_now = client.get(f"/api/v1/units/{goes['id']}", headers=sup).json()
    assert (unit_now["status"], unit_now["current_incident_id"]) == ("on_scene", created["id"])
    open_rows = session.scalars(
        select(Assignment).where(Assignment.unit_id == goes["id"], Assignment.released_at.is_(None))
    ).all()
    assert [a.incident_id for a in open_rows] == [created["id"]]

    kinds = {
        (e["incident_id"], e["kind"]) for e in client.get("/api/v1/dutylog", headers=sup).json()
    }
    assert {(first["id"], "incident_split"), (created["id"], "incident_created"),
            (created["id"], "unit_moved")} <= kinds  # fmt: skip
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.split")).one()
    assert entry.object_id == str(first["id"])
    assert entry.reason == "le 2e appelant parle d'un cambriolage"
    assert entry.details == {
        "new": created["id"],
        "calls": [moved_call["id"]],
        "units": [goes["id"]],
    }

    # Both incidents are worked and closed on their own.
    for incident in (first["id"], created["id"]):
        done = client.post(
            f"/api/v1/incidents/{incident}/close", json={"disposition": "report_taken"}, headers=sup
        )
        assert done.status_code == 200, done.text
    for unit in (stays, goes):
        after = client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()
        assert (after["status"], after["current_incident_id"]) == ("available", None)


def test_without_calls_the_new_incident_is_officer_initiated_where_the_first_is(
    client: TestClient, sup: dict[str, str]
) -> None:
    first = new_incident(client, sup, "fight", at=JAUDE)["incident"]
    answer = _split(client, sup, first["id"], type_code="drug_use", reason="stupéfiants trouvés")
    assert answer.status_code == 201, answer.text
    source, created = answer.json()["source"], answer.json()["created"]
    assert (created["lon"], created["lat"], created["address"]) == (
        first["lon"], first["lat"], first["address"]
    )  # fmt: skip
    assert created["status"] == "queued"
    assert created["assignments"] == []
    (call,) = created["calls"]
    assert call["channel"] == "officer"
    assert len(source["calls"]) == 1
    assert source["first_call_at"] == first["first_call_at"]


def test_bad_splits_are_refused_and_change_nothing(client: TestClient, sup: dict[str, str]) -> None:
    first = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    other = new_incident(client, sup, "theft", at=GARE)["incident"]
    (own_call,) = first["calls"]
    unit = new_unit(client, sup, "PS-41", at=GARE)
    _dispatch(client, sup, other["id"], unit["id"])

    def refused(status: int, field: str, **body: Any) -> None:
        answer = _split(client, sup, first["id"], **body)
        assert answer.status_code == status, answer.text
        assert field in answer.text

    refused(422, "call_ids", call_ids=[other["calls"][0]["id"]])
    refused(422, "call_ids", call_ids=[own_call["id"]])  # it would take every call
    refused(422, "unit_ids", unit_ids=[unit["id"]])  # committed elsewhere
    refused(422, "type_code", type_code="no_such_type")
    refused(422, "reason", reason=" ")
    refused(422, "lon", lon=2.35, lat=48.85)  # Paris: outside the city
    refused(422, "call_ids", call_ids=[own_call["id"], own_call["id"]])
    assert _split(client, sup, 999_999).status_code == 404

    still = client.get(f"/api/v1/incidents/{first['id']}", headers=sup).json()
    assert [c["id"] for c in still["calls"]] == [own_call["id"]]
    listed = client.get("/api/v1/incidents", headers=sup).json()
    assert sorted(i["id"] for i in listed) == sorted([first["id"], other["id"]])

    closed = client.post(
        f"/api/v1/incidents/{first['id']}/close", json={"disposition": "no_offence"}, headers=sup
    )
    assert closed.status_code == 200
    refused(409, "closed")


def test_an_officer_may_not_split(client: TestClient, session: Session, settings: Settings) -> None:
    sup = bearer(make_token(session, settings, make_user(session, Role.SUPERVISOR)))
    officer = bearer(make_token(session, settings, make_user(session, Role.OFFICER)))
    first = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    assert _split(client, officer, first["id"]).status_code == 403


def test_split_from_the_terminal(cli: Cli) -> None:
    assert cli("incident", "create", "--type", "noise", "--at", "3.083,45.777")[0] == 0
    code, out = cli(
        "incident", "split", "1", "--type", "burglary_report", "--reason", "cambriolage à côté",
        "--at", "3.084,45.777", "--priority", "2",
    )  # fmt: skip
    assert code == 0, out
    assert "Tapage nocturne" in out  # the source, then the new incident
    assert any(
        line.startswith("P2 ") and "Cambriolage constaté" in line for line in out.splitlines()
    )
    code, out = cli("incident", "show", "2")
    assert code == 0
    assert "queued" in out
    code, out = cli(
        "incident", "split", "1", "--type", "burglary_report", "--reason", "x", "--call", "1"
    )
    assert code == 2
    assert "call_ids" in out
