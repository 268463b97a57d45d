"""NENA EIDO export and import through the HTTP API, and the round trip between them."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.models import Call, DutyLogEntry, Incident
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import GARE, JAUDE, new_incident, new_unit, set_status

OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
OTHER = "police.voisine.example"


def _lifecycle(client: TestClient, sup: dict[str, str]) -> int:
    """An incident with two calls, a unit dispatched then on scene, a note, closed."""
    unit = new_unit(client, sup, "PS-EIDO", at=JAUDE)
    answer = new_incident(
        client,
        sup,
        "burglary_in_progress",
        at=GARE,
        description="Deux individus forcent une porte",
        call={"channel": "emergency", "caller_name": "A. Témoin", "caller_phone": "0600000000"},
    )
    iid = int(answer["incident"]["id"])
    second = client.post(
        f"/api/v1/incidents/{iid}/calls",
        json={"channel": "phone", "description": "Voisin : ils partent à pied"},
        headers=sup,
    )
    assert second.status_code == 201, second.text
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    assert set_status(client, sup, unit["id"], "on_scene").status_code == 200
    note = client.post(
        "/api/v1/dutylog",
        json={"text": "Suspects interpellés rue Blatin <angle> & sac", "incident_id": iid},
        headers=sup,
    )
    assert note.status_code == 201, note.text
    return iid


def _export(client: TestClient, headers: dict[str, str], iid: int, **params: Any) -> Any:
    response = client.get(f"/api/v1/incidents/{iid}/eido", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _as_foreign(doc: dict[str, Any], suffix: str = "1") -> dict[str, Any]:
    """The same incident as another agency would send it (its own ids)."""
    foreign = copy.deepcopy(doc)
    foreign["eidoMessageIdentifier"] = f"urn:uuid:00000000-0000-4000-8000-00000000000{suffix}"
    foreign["sendingSystemIdentifier"] = OTHER
    foreign["issuingElementIdentification"] = OTHER
    tracking = f"urn:emergency:uid:incidentid:V-{suffix}:{OTHER}"
    foreign["$id"] = foreign["incidentComponent"]["incidentTrackingIdentifier"] = tracking
    return foreign


def _normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """What must survive a round trip (no ids, no times of the import itself)."""
    inc = doc["incidentComponent"]
    agents = {a["$id"]: json.loads(a["agentJcard"])[1][1][3] for a in doc.get("agentComponent", [])}
    loc = doc["locationComponent"][0]
    return {
        "type": (inc["incidentTypeCommonRegistryText"], inc["incidentTypeInternalCode"]),
        "priority": (inc["incidentCommonPriorityNumber"], inc["incidentPriorityInternalText"]),
        "status": inc["incidentStatusCommonRegistryText"],
        "dispositions": [
            (d["dispositionCommonRegistryCode"], d.get("dispositionCategoryText"))
            for d in inc.get("dispositionComponent", [])
        ],
        "location": (
            loc["locationByValue"].split("<gml:pos>")[1].split("<")[0],
            loc.get("locationDescriptionText"),
        ),
        "calls": [
            (c["standardPrimaryCallType"], c["localCallType"], c["callStartTimestamp"])
            for c in doc["callComponent"]
        ],
        "notes": sorted(
            (
                n["notesActionComments"],
                n["lastUpdateTimeStamp"],
                agents[n["agentReference"]["$ref"]],
            )
            for n in doc["notesComponent"]
        ),
    }


def test_export_has_the_eido_structure(client: TestClient, sup: dict[str, str]) -> None:
    iid = _lifecycle(client, sup)
    doc = _export(client, sup, iid)
    for key in (
        "eidoMessageIdentifier",
        "eidoVersion",
        "lastUpdateTimeStamp",
        "sendingSystemIdentifier",
        "incidentComponent",
        "callComponent",
        "locationComponent",
        "emergencyResourceComponent",
        "dispatchComponent",
        "agencyComponent",
        "agentComponent",
        "notesComponent",
    ):
        assert key in doc, key
    inc = doc["incidentComponent"]
    assert inc["incidentTypeInternalCode"] == "burglary_in_progress"
    assert inc["incidentTypeCommonRegistryText"] == "Burglary"
    assert inc["incidentPriorityInternalText"] == "P1"
    assert inc["incidentStatusCommonRegistryText"] == ["Active", "ResourcesOnscene"]
    assert inc["incidentTrackingIdentifier"].startswith("urn:emergency:uid:incidentid:")
    assert inc["locationReference"][0]["$ref"] == doc["locationComponent"][0]["$id"]
    assert len(doc["callComponent"]) == 2
    (resource,) = doc["emergencyResourceComponent"]
    assert resource["emergencyResourceName"] == "PS-EIDO"
    assert resource["primaryUnitStatusRegistryText"] == "NotAvailable"
    assert resource["secondaryUnitStatusRegistryText"] == ["OnScene"]
    assert resource["onSceneTimeStamp"] >= resource["dispatchTimeStamp"]
    pidf = doc["locationComponent"][0]["locationByValue"]
    assert f"{GARE[1]:.7f} {GARE[0]:.7f}" in pidf  # gml:pos is latitude first
    texts = {n["notesActionComments"] for n in doc["notesComponent"]}
    # Notes are HTML5 in the schema: the dispatcher's "<" and "&" are escaped, not markup.
    escaped = "Suspects interpellés rue Blatin &lt;angle&gt; &amp; sac"
    assert {escaped, "Deux individus forcent une porte"} <= texts
    stamps = [
        doc["lastUpdateTimeStamp"],
        inc["incidentCreationTimeStamp"],
        resource["dispatchTimeStamp"],
    ] + [c["callStartTimestamp"] for c in doc["callComponent"]]
    assert all(OFFSET.match(s) for s in stamps), stamps

    closed = client.post(
        f"/api/v1/incidents/{iid}/close", json={"disposition": "arrest"}, headers=sup
    )
    assert closed.status_code == 200
    after = _export(client, sup, iid)
    assert after["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Closed"]
    (disposition,) = after["incidentComponent"]["dispositionComponent"]
    assert disposition["dispositionCommonRegistryCode"] == "Arrest"
    assert after["emergencyResourceComponent"][0]["secondaryUnitStatusRegistryText"] == ["Cleared"]
    assert after["emergencyResourceComponent"][0]["primaryUnitStatusRegistryText"] == "Available"


# What NENA's EIDO schema (EIDO-JSON Schema/openapi.yaml 1.0.0) requires of the
# components Arverne writes, restated here: every component has the prologue, and these
# fields besides.
PROLOGUE = ("$id", "lastUpdateTimeStamp", "updatedByAgencyReference")
REQUIRED = {
    "callComponent": (),
    "locationComponent": ("locationTypeDescriptionRegistryText",),
    "emergencyResourceComponent": (
        "agentReference", "emergencyResourceTypeCommonRegistryText",
        "primaryUnitStatusRegistryText", "resourceAttributeRegistryText",
        "secondaryUnitStatusRegistryText",
    ),
    "dispatchComponent": (),
    "agencyComponent": ("agencyRoleDescriptionRegistryText", "agencyType"),
    "agentComponent": ("agentRoleRegistryText", "agencyReference"),
    "personComponent": ("personIncidentRoleRegistryText",),
    "notesComponent": ("notesActionComments",),
    "mergeComponent": ("incidentMergeDirectionCode", "incidentTrackingIdentifier"),
    "linkComponent": ("incidentTrackingIdentifier", "linkDirectionCode"),
}  # fmt: skip


def test_export_meets_the_schema_requirements(client: TestClient, sup: dict[str, str]) -> None:
    """Every component of a full document (calls, a unit, notes, a disposition, the
    caller) carries the prologue and its required fields, in the schema's types."""
    iid = _lifecycle(client, sup)
    assert (
        client.post(
            f"/api/v1/incidents/{iid}/close", json={"disposition": "arrest"}, headers=sup
        ).status_code
        == 200
    )
    got = client.get(
        f"/api/v1/incidents/{iid}/eido", params={"include_personal": True},
        headers={**sup, "X-Access-Reason": "test de conformite"},
    )  # fmt: skip
    assert got.status_code == 200, got.text
    doc = got.json()
    assert doc["$id"] == doc["incidentComponent"]["incidentTrackingIdentifier"]
    assert doc["$id"].startswith("urn:emergency:uid:incidentid:")
    components = [("incidentComponent", doc["incidentComponent"])]
    components += [
        ("dispositionComponent", d) for d in doc["incidentComponent"]["dispositionComponent"]
    ]
    for key in REQUIRED:
        assert key in doc or key in ("mergeComponent", "linkComponent", "personComponent"), key
        components += [(key, c) for c in doc.get(key, [])]
    assert {k for k, _ in components} >= {"personComponent", "dispositionComponent"}
    for key, component in components:
        for name in (*PROLOGUE, *REQUIRED.get(key, ())):
            assert name in component, f"{key} {component.get('$id')} lacks {name}"
    calls = {c["$id"] for c in doc["callComponent"]}
    assert all(c.startswith("urn:emergency:uid:callid:") for c in calls)
    assert all(set(p["callIdentifier"]) <= calls for p in doc["personComponent"])
    (resource,) = doc["emergencyResourceComponent"]
    assert isinstance(resource["agentReference"], list)
    assert isinstance(resource["secondaryUnitStatusRegistryText"], list)
    (agency,) = doc["agencyComponent"]
    assert agency["agencyType"] == ["police"]  # without urn:emergency:service:responder.
    for card in [agency["agencyJcard"], *(a["agentJcard"] for a in doc["agentComponent"])]:
        assert isinstance(card, str)  # the schema's type: the jCard's JSON text
        assert json.loads(card)[0] == "vcard"


def test_caller_identity_only_on_request_with_reason_and_audited(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    iid = _lifecycle(client, sup)
    plain = client.get(f"/api/v1/incidents/{iid}/eido", headers=sup)
    assert "A. Témoin" not in plain.text
    assert "0600000000" not in plain.text
    assert not plain.json().get("personComponent")
    no_reason = client.get(
        f"/api/v1/incidents/{iid}/eido", params={"include_personal": True}, headers=sup
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "X-Access-Reason"
    officer = bearer(make_token(session, settings, make_user(session, Role.OFFICER)))
    refused = client.get(
        f"/api/v1/incidents/{iid}/eido",
        params={"include_personal": True},
        headers={**officer, "X-Access-Reason": "enquete"},
    )
    assert refused.status_code == 403
    investigator = bearer(make_token(session, settings, make_user(session, Role.INVESTIGATOR)))
    ok = client.get(
        f"/api/v1/incidents/{iid}/eido",
        params={"include_personal": True},
        headers={**investigator, "X-Access-Reason": "PV 2026/123"},
    )
    assert ok.status_code == 200, ok.text
    (person,) = ok.json()["personComponent"]
    assert person["personIncidentRoleRegistryText"] == ["Caller"]
    assert person["ncPersonComponent"]["name"] == [{"personFullName": [{"value": "A. Témoin"}]}]
    call = ok.json()["callComponent"][0]
    assert call["personReference"] == [{"$ref": person["$id"]}]
    reads = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "call.read_personal", AuditEntry.object_id == str(iid)
        )
    ).all()
    assert [r.reason for r in reads] == ["PV 2026/123"]


def test_round_trip(client: TestClient, sup: dict[str, str], session: Session) -> None:
    iid = _lifecycle(client, sup)
    closed = client.post(
        f"/api/v1/incidents/{iid}/close", json={"disposition": "arrest"}, headers=sup
    )
    assert closed.status_code == 200
    original = _export(client, sup, iid)

    response = client.post("/api/v1/eido", json=_as_foreign(original), headers=sup)
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["id"] != iid
    source = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()
    for field in (
        "type_code",
        "priority",
        "lon",
        "lat",
        "address",
        "description",
        "status",
        "disposition",
    ):
        assert imported[field] == source[field], field
    assert len(imported["calls"]) == 2
    assert [c["received_at"] for c in imported["calls"]] == [
        c["received_at"] for c in source["calls"]
    ]
    log = client.get("/api/v1/dutylog", params={"incident_id": imported["id"]}, headers=sup).json()
    kinds = [e["kind"] for e in log]
    for kind in (
        "incident_created",
        "call_received",
        "eido_import",
        "eido_note",
        "eido_resource",
        "incident_closed",
    ):
        assert kind in kinds, kinds
    trace = next(e for e in log if e["kind"] == "eido_import")
    assert trace["data"]["sender"] == OTHER
    assert "V-1" in trace["data"]["incident_tracking_id"]
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "incident.import_eido")
        )
        == 1
    )

    again = _export(client, sup, imported["id"])
    assert _normalise(again) == _normalise(original)


def test_duplicate_import_is_a_conflict(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    iid = new_incident(client, sup, "noise")["incident"]["id"]
    doc = _as_foreign(_export(client, sup, iid))
    first = client.post("/api/v1/eido", json=doc, headers=sup)
    assert first.status_code == 201, first.text
    count = session.scalar(select(func.count()).select_from(Incident))
    again = client.post("/api/v1/eido", json=doc, headers=sup)
    assert again.status_code == 409
    assert f"/api/v1/incidents/{first.json()['id']}" in again.json()["allowed"][0]
    assert "already received" in again.json()["detail"]
    # Same incident in a new message sent at the same time: not newer, refused (a newer
    # one updates the incident: test_eido_update.py).
    doc["eidoMessageIdentifier"] = "urn:uuid:11111111-1111-4111-8111-111111111111"
    same_time = client.post("/api/v1/eido", json=doc, headers=sup)
    assert same_time.status_code == 409
    assert "older state is not applied" in same_time.json()["detail"]
    assert session.scalar(select(func.count()).select_from(Incident)) == count
    # Our own export sent back is one of our incidents.
    own = client.post("/api/v1/eido", json=_export(client, sup, iid), headers=sup)
    assert own.status_code == 409


def _bad(doc: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(doc)
    target = bad
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return bad


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (
            ["locationComponent", 0, "locationByValue"],
            "<presence><oops",
            "locationComponent[0].locationByValue",
        ),
        (["callComponent"], [], "callComponent"),
        (
            ["callComponent", 0, "callStartTimestamp"],
            "2999-01-01T00:00:00+00:00",
            "callComponent[0].callStartTimestamp",
        ),
        (["lastUpdateTimeStamp"], "2026-01-01T10:00:00", "body.lastUpdateTimeStamp"),
    ],
)
def test_bad_documents_name_the_field_and_store_nothing(
    client: TestClient,
    sup: dict[str, str],
    session: Session,
    path: list[Any],
    value: Any,
    field: str,
) -> None:
    iid = new_incident(client, sup, "theft")["incident"]["id"]
    doc = _as_foreign(_export(client, sup, iid))
    before = (
        session.scalar(select(func.count()).select_from(Incident)),
        session.scalar(select(func.count()).select_from(Call)),
        session.scalar(select(func.count()).select_from(DutyLogEntry)),
    )
    response = client.post("/api/v1/eido", json=_bad(doc, path, value), headers=sup)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    after = (
        session.scalar(select(func.count()).select_from(Incident)),
        session.scalar(select(func.count()).select_from(Call)),
        session.scalar(select(func.count()).select_from(DutyLogEntry)),
    )
    assert after == before


def test_a_transfer_without_a_known_type_is_taken_to_be_qualified(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    """A partner's call is never refused for its type: a type Arverne has no equivalent
    for, or no incident component at all (optional in NENA's schema: a call transferred
    alone), gives an incident « Nature à préciser » (P2 unless the sender gave a
    priority) that says what was sent, and may be the duplicate of any incident."""
    iid = new_incident(client, sup, "theft", at=GARE)["incident"]["id"]
    doc = _as_foreign(_export(client, sup, iid), suffix="6")
    doc["incidentComponent"]["incidentTypeInternalCode"] = "F12"
    doc["incidentComponent"]["incidentTypeInternalText"] = "Feu de local"
    doc["incidentComponent"]["incidentTypeCommonRegistryText"] = "StructureFire"
    doc["incidentComponent"]["incidentPriorityInternalText"] = "P1"
    created = client.post("/api/v1/eido", json=doc, headers=sup)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["type_code"], body["priority"]) == ("to_qualify", 1)
    assert "StructureFire / Feu de local / F12" in body["description"]
    line = next(
        e
        for e in client.get(
            "/api/v1/dutylog", params={"incident_id": body["id"]}, headers=sup
        ).json()
        if e["kind"] == "eido_import"
    )
    assert "Nature à préciser" in line["text"]
    assert line["data"]["stated_type"] == "StructureFire"

    alone = _as_foreign(_export(client, sup, iid), suffix="8")
    del alone["incidentComponent"]
    taken = client.post("/api/v1/eido", json=alone, headers=sup)
    assert taken.status_code == 201, taken.text
    assert (taken.json()["type_code"], taken.json()["priority"]) == ("to_qualify", 2)
    assert "n'a pas transmis de type" in taken.json()["description"]
    # Sent again: the same message (the root $id at its time), not a second incident.
    assert client.post("/api/v1/eido", json=alone, headers=sup).status_code == 409
    # A new call at the same place proposes the incident to be qualified as a duplicate.
    near = new_incident(client, sup, "assault", at=GARE)
    assert body["id"] in [d["incident_id"] for d in near["duplicates"]]


def test_the_tracking_id_is_the_root_id_when_the_incident_component_has_none(
    client: TestClient, sup: dict[str, str]
) -> None:
    """NENA's schema puts the incident tracking id in the root ``$id`` only; older
    Arverne documents have it in the incident component. Neither: 422 naming it."""
    iid = new_incident(client, sup, "theft")["incident"]["id"]
    doc = _as_foreign(_export(client, sup, iid), suffix="5")
    del doc["incidentComponent"]["incidentTrackingIdentifier"]
    del doc["eidoMessageIdentifier"]  # the message is then the root $id at its time
    created = client.post("/api/v1/eido", json=doc, headers=sup)
    assert created.status_code == 201, created.text
    again = client.post("/api/v1/eido", json=doc, headers=sup)
    assert again.status_code == 409  # the same message: not applied twice
    nameless = copy.deepcopy(doc)
    del nameless["$id"]
    refused = client.post("/api/v1/eido", json=nameless, headers=sup)
    assert refused.status_code == 422
    fields = [e["field"] for e in refused.json()["errors"]]
    assert "body.incidentComponent.incidentTrackingIdentifier" in fields


def test_location_outside_the_city_is_refused(client: TestClient, sup: dict[str, str]) -> None:
    iid = new_incident(client, sup, "theft")["incident"]["id"]
    doc = _as_foreign(_export(client, sup, iid))
    loc = doc["locationComponent"][0]
    loc["locationByValue"] = re.sub(
        r"<gml:pos>[^<]+</gml:pos>", "<gml:pos>48.8566 2.3522</gml:pos>", loc["locationByValue"]
    )
    response = client.post("/api/v1/eido", json=doc, headers=sup)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "locationComponent[0].locationByValue"
    assert "outside" in problem["detail"]


def test_closed_document_without_known_disposition_is_refused(
    client: TestClient, sup: dict[str, str]
) -> None:
    iid = new_incident(client, sup, "noise")["incident"]["id"]
    assert (
        client.post(
            f"/api/v1/incidents/{iid}/close", json={"disposition": "warning"}, headers=sup
        ).status_code
        == 200
    )
    doc = _as_foreign(_export(client, sup, iid))
    disposition = doc["incidentComponent"]["dispositionComponent"][0]
    disposition["dispositionCommonRegistryCode"] = "AbductedByAliens"
    disposition.pop("dispositionCategoryText")
    response = client.post("/api/v1/eido", json=doc, headers=sup)
    assert response.status_code == 422
    assert "dispositionCommonRegistryCode" in response.json()["errors"][0]["field"]


def test_permissions(client: TestClient, session: Session, settings: Settings) -> None:
    analyst = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    assert client.post("/api/v1/eido", json={}, headers=analyst).status_code == 403
    assert client.get("/api/v1/incidents/999999/eido", headers=analyst).status_code == 404
    assert client.get("/api/v1/incidents/1/eido").status_code == 401
