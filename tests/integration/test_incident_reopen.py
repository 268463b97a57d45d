"""Reopening a closed or cancelled incident: back in the queue with a reason, the
closure kept in the duty log, the first response times kept; refused when open, merged
or ended too long ago, and for roles that may not close."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.models import Incident
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import JAUDE, new_incident, new_unit, set_status
from tests.integration.conftest import Cli


def _reopen(
    client: TestClient, headers: dict[str, str], iid: int, reason: str = "ils sont revenus"
) -> Any:
    return client.post(f"/api/v1/incidents/{iid}/reopen", json={"reason": reason}, headers=headers)


def _kinds(client: TestClient, headers: dict[str, str], iid: int) -> list[str]:
    rows = client.get(f"/api/v1/dutylog?incident_id={iid}&limit=500", headers=headers).json()
    return [r["kind"] for r in rows]


def test_a_closed_incident_goes_back_to_the_queue(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    unit = new_unit(client, sup, "PS-R1", at=JAUDE)
    iid = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    assert set_status(client, sup, unit["id"], "on_scene").status_code == 200
    closed = client.post(
        f"/api/v1/incidents/{iid}/close", json={"disposition": "warning"}, headers=sup
    )
    assert closed.status_code == 200, closed.text
    before = closed.json()

    answer = client.post(
        f"/api/v1/incidents/{iid}/reopen", json={"reason": "les bagarreurs sont revenus"},
        headers=sup,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert (out["status"], out["disposition"], out["closed_at"]) == ("queued", None, None)
    assert out["first_dispatch_at"] == before["first_dispatch_at"]  # response times kept
    assert out["first_arrival_at"] == before["first_arrival_at"]
    assert out["assignments"][0]["released_at"] is not None  # the crew left: send again
    kinds = _kinds(client, sup, iid)
    assert kinds.index("incident_closed") < kinds.index("incident_reopened")
    rows = client.get(f"/api/v1/dutylog?incident_id={iid}", headers=sup).json()
    (line,) = [r for r in rows if r["kind"] == "incident_reopened"]
    assert "les bagarreurs sont revenus" in line["text"]
    assert line["data"]["before"]["disposition"] == "warning"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "incident.reopen")).one()
    assert entry.details["reason"] == "les bagarreurs sont revenus"
    listed = client.get("/api/v1/incidents", headers=sup).json()
    assert iid in [i["id"] for i in listed]
    # It can be worked and closed again as usual.
    again = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert again.status_code == 200, again.text
    closed = client.post(
        f"/api/v1/incidents/{iid}/close", json={"disposition": "arrest"}, headers=sup
    )
    assert closed.status_code == 200
    assert closed.json()["disposition"] == "arrest"


def test_refusals_change_nothing(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    open_one = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    refused = _reopen(client, sup, open_one["id"])
    assert refused.status_code == 409

    kept = new_incident(client, sup, "theft", at=JAUDE)["incident"]
    merged = client.post(
        f"/api/v1/incidents/{open_one['id']}/merge",
        json={"into": kept["id"], "reason": "même vol"},
        headers=sup,
    )
    assert merged.status_code == 200, merged.text
    answer = _reopen(client, sup, open_one["id"])
    assert answer.status_code == 409
    assert f"/incidents/{kept['id']}/reopen" in answer.json()["allowed"][0]

    old = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    cancelled = client.post(
        f"/api/v1/incidents/{old['id']}/cancel", json={"reason": "fausse alerte"}, headers=sup
    )
    assert cancelled.status_code == 200
    incident = session.get(Incident, old["id"])
    assert incident is not None
    assert incident.closed_at is not None
    incident.closed_at -= dt.timedelta(hours=settings.reopen_window_hours + 1)
    session.flush()
    late = _reopen(client, sup, old["id"])
    assert late.status_code == 409
    assert "new incident" in late.json()["detail"]
    empty = client.post(f"/api/v1/incidents/{old['id']}/reopen", json={"reason": " "}, headers=sup)
    assert empty.status_code == 422
    officer = bearer(make_token(session, settings, make_user(session, Role.OFFICER)))
    assert _reopen(client, officer, old["id"]).status_code == 403
    assert session.scalar(select(Incident.status).where(Incident.id == old["id"])) == "cancelled"
    assert "incident_reopened" not in _kinds(client, sup, old["id"])


def test_cli_reopens(cli: Cli) -> None:
    code, out = cli("incident", "create", "--type", "theft", "--at", "3.0830,45.7772")
    assert code == 0, out
    code, out = cli("incident", "close", "1", "--disposition", "report_taken")
    assert code == 0, out
    code, out = cli("incident", "reopen", "1", "--reason", "plainte complétée sur place")
    assert code == 0, out
    assert "queued" in out
    code, out = cli("incident", "reopen", "1", "--reason", "encore")
    assert code == 2
    assert "not closed" in out
