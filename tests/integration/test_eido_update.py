"""A later EIDO message about an incident already imported updates it (200): corrections,
new calls, notes and resource states, links and closure go through the normal flows, one
``eido_update`` line says what changed and what was not applied; repeated, older or bad
messages change nothing."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.dispatch.models import Incident
from arverne.security.models import AuditEntry
from tests.dispatch_data import GARE, JAUDE, new_incident, new_unit
from tests.integration.test_eido import _as_foreign, _export

TRACKING = "urn:emergency:uid:incidentid:{}:police.voisine.example"


def _imported(client: TestClient, sup: dict[str, str]) -> tuple[dict[str, Any], int]:
    """A foreign incident (a noise complaint with a unit on it and a note), imported."""
    unit = new_unit(client, sup, "PS-U1", at=JAUDE)
    iid = new_incident(client, sup, "noise", at=JAUDE, description="musique forte")["incident"][
        "id"
    ]
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    note = client.post(
        "/api/v1/dutylog", json={"text": "voisins excédés", "incident_id": iid}, headers=sup
    )
    assert note.status_code == 201, note.text
    doc = _as_foreign(_export(client, sup, iid), suffix="7")
    created = client.post("/api/v1/eido", json=doc, headers=sup)
    assert created.status_code == 201, created.text
    return doc, int(created.json()["id"])


def _later(doc: dict[str, Any], n: int, minutes: int = 5) -> dict[str, Any]:
    """The same incident in message ``n``, sent ``minutes`` after ``doc``."""
    out = copy.deepcopy(doc)
    out["eidoMessageIdentifier"] = f"urn:uuid:00000000-0000-4000-8000-0000000001{n:02d}"
    sent = dt.datetime.fromisoformat(doc["lastUpdateTimeStamp"]) + dt.timedelta(minutes=minutes)
    out["lastUpdateTimeStamp"] = sent.isoformat()
    return out


def _lines(client: TestClient, headers: dict[str, str], iid: int, kind: str) -> list[Any]:
    rows = client.get(f"/api/v1/dutylog?incident_id={iid}&limit=500", headers=headers).json()
    return [r for r in rows if r["kind"] == kind]


def test_a_later_message_updates_the_incident_through_the_flows(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    doc, iid = _imported(client, sup)
    before = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()
    update = _later(doc, 1)
    inc = update["incidentComponent"]
    inc["incidentTypeInternalCode"] = "assault"
    inc["incidentPriorityInternalText"] = "P1"
    inc["incidentCommonPriorityNumber"] = 9
    location = update["locationComponent"][0]
    location["locationByValue"] = location["locationByValue"].replace(
        f"{JAUDE[1]:.7f} {JAUDE[0]:.7f}", f"{GARE[1]:.7f} {GARE[0]:.7f}"
    )
    call = copy.deepcopy(update["callComponent"][0])
    started = dt.datetime.fromisoformat(call["callStartTimestamp"]) + dt.timedelta(seconds=30)
    call.update(
        {"$id": "call-new", "callStartTimestamp": started.isoformat(), "localCallType": "phone",
         "personReference": [], "notesReference": []}
    )  # fmt: skip
    update["callComponent"].append(call)
    update["notesComponent"].append(
        {"$id": "note-new", "notesActionComments": "un blessé, SAMU demandé",
         "lastUpdateTimeStamp": update["lastUpdateTimeStamp"]}
    )  # fmt: skip
    resource = update["emergencyResourceComponent"][0]
    resource["secondaryUnitStatusRegistryText"] = "OnScene"

    answer = client.post("/api/v1/eido", json=update, headers=sup)
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert out["id"] == iid
    assert (out["type_code"], out["priority"]) == ("assault", 1)
    assert abs(out["lon"] - GARE[0]) < 1e-6
    assert len(out["calls"]) == len(before["calls"]) + 1
    assert out["calls"][-1]["channel"] == "phone"

    (line,) = _lines(client, sup, iid, "eido_update")
    assert line["data"]["changes"] == [
        "type, priorité, lieu",
        f"appel de {started:%H:%M:%S}",
        "1 note(s)",
        "ressource PS-U1",
    ]
    assert line["data"]["not_applied"] == []
    (corrected,) = _lines(client, sup, iid, "incident_updated")
    assert "P3 → P1" in corrected["text"]
    assert "EIDO de police.voisine.example" in corrected["text"]
    notes = [n["data"]["original_text"] for n in _lines(client, sup, iid, "eido_note")]
    assert notes.count("un blessé, SAMU demandé") == 1
    states = [r["data"]["secondaryUnitStatusRegistryText"] for r in
              _lines(client, sup, iid, "eido_resource")]  # fmt: skip
    assert states[-1] == ["OnScene"]  # kept as the document writes it
    audited = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "incident.update_eido")
    ).one()
    assert audited.details["message_id"] == update["eidoMessageIdentifier"]

    # The same state again, sent later: nothing new is written, the message is recorded.
    again = client.post("/api/v1/eido", json=_later(update, 2), headers=sup)
    assert again.status_code == 200, again.text
    last = _lines(client, sup, iid, "eido_update")[-1]
    assert last["data"]["changes"] == []
    assert "aucun changement" in last["text"]
    assert len(_lines(client, sup, iid, "eido_note")) == len(notes)
    assert len(client.get(f"/api/v1/incidents/{iid}", headers=sup).json()["calls"]) == len(
        out["calls"]
    )


def test_repeated_older_and_bad_messages_change_nothing(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    doc, iid = _imported(client, sup)
    newer = _later(doc, 3, minutes=10)
    newer["incidentComponent"]["incidentPriorityInternalText"] = "P2"
    newer["incidentComponent"]["incidentCommonPriorityNumber"] = 7
    assert client.post("/api/v1/eido", json=newer, headers=sup).status_code == 200
    state = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()

    repeated = client.post("/api/v1/eido", json=newer, headers=sup)
    assert repeated.status_code == 409
    assert "already received" in repeated.json()["detail"]
    older = _later(doc, 4, minutes=5)  # sent before the one applied, arriving after it
    older["incidentComponent"]["incidentPriorityInternalText"] = "P4"
    late = client.post("/api/v1/eido", json=older, headers=sup)
    assert late.status_code == 409
    assert "older state is not applied" in late.json()["detail"]
    bad = _later(doc, 5, minutes=20)
    bad["locationComponent"][0]["locationByValue"] = "<presence><oops"
    refused = client.post("/api/v1/eido", json=bad, headers=sup)
    assert refused.status_code == 422
    assert "locationByValue" in refused.json()["errors"][0]["field"]

    assert client.get(f"/api/v1/incidents/{iid}", headers=sup).json() == state
    assert len(_lines(client, sup, iid, "eido_update")) == 1
    assert session.scalar(select(Incident.priority).where(Incident.id == iid)) == 2


def test_closure_applies_once_and_the_partner_may_reopen_within_the_window(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    doc, iid = _imported(client, sup)
    closing = _later(doc, 6)
    inc = closing["incidentComponent"]
    inc["incidentStatusCommonRegistryText"] = ["Closed"]
    inc["dispositionComponent"] = [
        {"$id": "disp-1", "dispositionCommonRegistryCode": "ReportTaken",
         "dispositionPrimaryIndicator": True}
    ]  # fmt: skip
    closed = client.post("/api/v1/eido", json=closing, headers=sup)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert "clôture" in _lines(client, sup, iid, "eido_update")[-1]["data"]["changes"]

    reopened = _later(doc, 7, minutes=30)  # the partner shows it open again, now P1
    reopened["incidentComponent"]["incidentPriorityInternalText"] = "P1"
    reopened["incidentComponent"]["incidentCommonPriorityNumber"] = 9
    answer = client.post("/api/v1/eido", json=reopened, headers=sup)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["priority"]) == ("queued", 1)
    assert _lines(client, sup, iid, "eido_update")[-1]["data"]["changes"] == [
        "réouverture", "priorité"
    ]  # fmt: skip
    (line,) = _lines(client, sup, iid, "incident_reopened")
    assert "police.voisine.example" in line["data"]["reason"]

    # Closed again, long ago: a partner showing it open no longer reopens it.
    closing_again = _later(closing, 8, minutes=40)
    assert client.post("/api/v1/eido", json=closing_again, headers=sup).status_code == 200
    incident = session.get(Incident, iid)
    assert incident is not None
    assert incident.closed_at is not None
    incident.closed_at -= dt.timedelta(days=3)
    session.flush()
    late = _later(reopened, 9, minutes=50)
    answer = client.post("/api/v1/eido", json=late, headers=sup)
    assert answer.status_code == 200, answer.text
    # (the second closing message had P3 again, applied before it closed)
    assert (answer.json()["status"], answer.json()["priority"]) == ("closed", 3)
    line = _lines(client, sup, iid, "eido_update")[-1]
    assert line["data"]["changes"] == []
    reopening, priority = line["data"]["not_applied"]
    assert reopening.startswith("réouverture (")
    assert "ended more than 24 h ago" in reopening
    assert priority == "priorité (incident closed ici)"
    assert "non appliqué" in line["text"]


def test_links_follow_the_partner(client: TestClient, sup: dict[str, str]) -> None:
    doc, iid = _imported(client, sup)
    ours = new_incident(client, sup, "robbery", at=GARE)["incident"]
    ours_tracking = _export(client, sup, ours["id"])["incidentComponent"][
        "incidentTrackingIdentifier"
    ]
    linking = _later(doc, 8)
    linking["linkComponent"] = [
        {"$id": "link-1", "incidentTrackingIdentifier": ours_tracking,
         "linkDirectionCode": "Related", "transactionReasonText": "même auteur"}
    ]  # fmt: skip
    assert client.post("/api/v1/eido", json=linking, headers=sup).status_code == 200
    links = client.get(f"/api/v1/incidents/{iid}/links", headers=sup).json()
    assert [(link["incident_id"], link["reason"]) for link in links] == [
        (ours["id"], "même auteur")
    ]
    assert f"lié à {ours['number']}" in _lines(client, sup, iid, "eido_update")[-1]["text"]
    unlinking = _later(linking, 9)
    unlinking["linkComponent"][0]["linkDirectionCode"] = "Unlink"
    unlinking["linkComponent"][0]["transactionReasonText"] = "erreur"
    assert client.post("/api/v1/eido", json=unlinking, headers=sup).status_code == 200
    assert client.get(f"/api/v1/incidents/{iid}/links", headers=sup).json() == []
    assert "retiré" in _lines(client, sup, iid, "eido_update")[-1]["text"]


def test_a_type_without_equivalent_never_undoes_the_dispatchers_qualification(
    client: TestClient, sup: dict[str, str]
) -> None:
    """A partner's type Arverne cannot map is taken as « nature à préciser »; once the
    dispatcher has qualified the incident, the partner's later messages, still with that
    type, leave the qualification alone (their other changes still apply)."""
    doc, iid = _imported(client, sup)
    unknown = _later(doc, 1)
    unknown["incidentComponent"]["incidentTypeInternalCode"] = "F12"
    unknown["incidentComponent"]["incidentTypeCommonRegistryText"] = "StructureFire"
    # First from a fresh partner incident: imported to be qualified.
    fresh = _later(unknown, 9)  # another message
    fresh["$id"] = fresh["incidentComponent"]["incidentTrackingIdentifier"] = TRACKING.format("F-1")
    created = client.post("/api/v1/eido", json=fresh, headers=sup)
    assert created.status_code == 201, created.text
    fid = created.json()["id"]
    assert created.json()["type_code"] == "to_qualify"
    qualified = client.patch(
        f"/api/v1/incidents/{fid}",
        json={"type_code": "disturbance", "reason": "rappel de l'appelant"},
        headers=sup,
    )
    assert qualified.status_code == 200, qualified.text
    later = _later(fresh, 2)
    later["incidentComponent"]["incidentPriorityInternalText"] = "P1"
    applied = client.post("/api/v1/eido", json=later, headers=sup)
    assert applied.status_code == 200, applied.text
    state = client.get(f"/api/v1/incidents/{fid}", headers=sup).json()
    assert (state["type_code"], state["priority"]) == ("disturbance", 1)
    # The incident imported with a known type keeps it too when the type turns unknown.
    assert client.post("/api/v1/eido", json=unknown, headers=sup).status_code == 200
    assert client.get(f"/api/v1/incidents/{iid}", headers=sup).json()["type_code"] == "noise"
