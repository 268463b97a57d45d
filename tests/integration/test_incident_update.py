"""Correcting an open incident (PATCH /incidents/{id}, `arverne incident update`): type,
priority, description and place change, the duty log says what changed from what and
why, the audit log and live event follow, and bad corrections change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security.models import AuditEntry
from tests.dispatch_data import GARE, JAUDE, new_incident, new_unit
from tests.integration.conftest import Cli
from tests.unit.geo.town import grid_lonlat


def _patch(client: TestClient, headers: dict[str, str], incident_id: int, **body: Any) -> Any:
    return client.patch(f"/api/v1/incidents/{incident_id}", json=body, headers=headers)


def _updates(client: TestClient, headers: dict[str, str], incident_id: int) -> list[Any]:
    lines = client.get("/api/v1/dutylog", headers=headers).json()
    return [e for e in lines if e["incident_id"] == incident_id and e["kind"] == "incident_updated"]


def test_an_escalating_incident_is_reclassified_and_the_log_says_from_what(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    incident = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    assert incident["priority"] == 3
    answer = _patch(
        client, sup, incident["id"], type_code="assault", priority=1,
        description="rixe, un blessé au sol", reason="second appel : coups de couteau",
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert (out["type_code"], out["priority"], out["description"]) == (
        "assault", 1, "rixe, un blessé au sol"
    )  # fmt: skip
    assert out["target_s"] < incident["target_s"]  # the P1 target applies now
    (line,) = _updates(client, sup, incident["id"])
    assert "P3 → P1" in line["text"]
    assert "second appel : coups de couteau" in line["text"]
    assert line["data"]["priority"] == {"from": 3, "to": 1}
    assert line["data"]["type_code"] == {"from": "noise", "to": "assault"}
    assert "rixe" not in str(line["data"])  # free text stays in the incident
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.update")).one()
    assert entry.details == {
        "fields": ["description", "priority", "type_code"],
        "reason": "second appel : coups de couteau",
    }
    # Now P1: a unit on a P3/P4 incident is offered as preemptable.
    unit = new_unit(client, sup, "PS-1", at=GARE)
    other = new_incident(client, sup, "noise", at=GARE)["incident"]
    sent = client.post(
        f"/api/v1/incidents/{other['id']}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    recs = client.get(f"/api/v1/incidents/{incident['id']}/recommendations", headers=sup).json()
    assert any(c["unit_id"] == unit["id"] and c["preemptable"] for c in recs["candidates"])


def test_the_same_values_change_nothing_but_are_logged(
    client: TestClient, sup: dict[str, str]
) -> None:
    incident = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    answer = _patch(client, sup, incident["id"], priority=incident["priority"], lon=JAUDE[0],
                    lat=JAUDE[1])  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["lon"] == incident["lon"]
    (line,) = _updates(client, sup, incident["id"])
    assert "rien (mêmes valeurs)" in line["text"]
    assert line["data"] == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"reason": "rien d'autre"}, "body"),
        ({"type_code": "alien_landing"}, "type_code"),
        ({"priority": 0}, "body.priority"),
        ({"lon": 3.09}, "body"),
        ({"lon": 3.5, "lat": 46.5}, "lon"),
    ],
)
def test_bad_corrections_are_refused_and_change_nothing(
    client: TestClient, sup: dict[str, str], body: dict[str, Any], field: str
) -> None:
    incident = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    answer = _patch(client, sup, incident["id"], **body)
    assert answer.status_code == 422, answer.text
    fields = [e["field"] for e in answer.json()["errors"]]
    assert any(f.startswith(field) for f in fields), fields
    again = client.get(f"/api/v1/incidents/{incident['id']}", headers=sup).json()
    assert {k: again[k] for k in ("type_code", "priority", "lon", "lat")} == {
        k: incident[k] for k in ("type_code", "priority", "lon", "lat")
    }
    assert _updates(client, sup, incident["id"]) == []


def test_lowering_the_priority_needs_a_reason(client: TestClient, sup: dict[str, str]) -> None:
    incident = new_incident(client, sup, "robbery", at=JAUDE)["incident"]
    assert incident["priority"] == 2
    refused = _patch(client, sup, incident["id"], priority=4)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "reason"
    assert "P2 to P4" in refused.json()["errors"][0]["message"]
    lowered = _patch(client, sup, incident["id"], priority=4, reason="auteur parti, plainte")
    assert lowered.status_code == 200
    assert lowered.json()["priority"] == 4
    raised = _patch(client, sup, incident["id"], priority=2)  # raising needs no reason
    assert raised.status_code == 200
    assert raised.json()["priority"] == 2


def test_a_closed_incident_is_not_corrected(client: TestClient, sup: dict[str, str]) -> None:
    incident = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    closed = client.post(
        f"/api/v1/incidents/{incident['id']}/close",
        json={"disposition": "report_taken"},
        headers=sup,
    )
    assert closed.status_code == 200
    answer = _patch(client, sup, incident["id"], priority=1)
    assert answer.status_code == 409
    assert "note" in answer.json()["detail"]


def test_an_analyst_may_not_correct(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    from arverne.security.policy import Role
    from tests.data import bearer, make_token, make_user

    analyst = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    incident = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    assert _patch(client, analyst, incident["id"], priority=1).status_code == 403


def test_a_wrong_address_is_corrected_and_the_incident_moves(
    town_client: TestClient, sup: dict[str, str]
) -> None:
    made = town_client.post(
        "/api/v1/incidents", json={"type_code": "theft", "address": "3 rue Blatin"}, headers=sup
    )
    assert made.status_code == 201, made.text
    incident = made.json()["incident"]
    answer = _patch(town_client, sup, incident["id"], address="Avenue Julien",
                    reason="le requérant s'est trompé de rue")  # fmt: skip
    assert answer.status_code == 200, answer.text
    moved = answer.json()
    assert moved["street"] == "Avenue Julien"
    assert (moved["lon"], moved["lat"]) != (incident["lon"], incident["lat"])
    (line,) = _updates(town_client, sup, incident["id"])
    assert "Blatin" in line["text"]
    assert "Julien" in line["text"]
    place = line["data"]["place"]
    assert place["from"]["lon"] == incident["lon"]
    assert place["to"]["lon"] == moved["lon"]
    assert place["moved_m"] > 50
    # A point wins over an address; an unknown street is refused and nothing moves.
    lon, lat = grid_lonlat(2, 2)
    pointed = _patch(town_client, sup, incident["id"], lon=lon, lat=lat)
    assert pointed.status_code == 200
    assert pointed.json()["street"] != "Avenue Julien"
    unknown = _patch(town_client, sup, incident["id"], address="Rue Inexistante Zzz")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "address"
    after = town_client.get(f"/api/v1/incidents/{incident['id']}", headers=sup).json()
    assert (after["lon"], after["lat"]) == (pointed.json()["lon"], pointed.json()["lat"])


def test_cli_corrects_an_incident(cli: Cli) -> None:
    code, out = cli("incident", "create", "--type", "theft", "--at", "3.0830,45.7772")
    assert code == 0, out
    number = out.split()[1]
    code, out = cli("incident", "list")
    assert number in out
    code, out = cli(
        "incident", "update", "1", "--priority", "1", "--type", "robbery",
        "--at", "3.1000,45.7790", "--reason", "arme vue",
    )  # fmt: skip
    assert code == 0, out
    assert "P1" in out
    assert number in out
    code, out = cli("dutylog")
    assert "P3 → P1" in out
    assert "arme vue" in out
    code, out = cli("incident", "update", "1")
    assert code == 2
    assert "nothing to change" in out
    code, out = cli("incident", "update", "1", "--type", "nope")
    assert code == 2
    assert "type_code" in out
