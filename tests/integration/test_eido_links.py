"""NENA EIDO merges and transport destinations: exported on both sides of a merge, read
back by the wire model, and imported as links to known incidents or into the duty log."""

from __future__ import annotations

import copy
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.merge import merge_incidents
from arverne.dispatch.schemas import MergeIn
from tests.data import TEST_CTX
from tests.dispatch_data import GARE, JAUDE, new_incident, new_unit, set_status

OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
OTHER = "police.voisine.example"
REASON = "même rixe, deux appelants"


def _export(client: TestClient, headers: dict[str, str], iid: int) -> Any:
    response = client.get(f"/api/v1/incidents/{iid}/eido", headers=headers)
    assert response.status_code == 200, response.text
    doc = response.json()
    # What is sent reads back through the wire model unchanged.
    again = EidoDocument.model_validate(doc)
    assert again.model_dump(mode="json", by_alias=True, exclude_none=True) == doc
    return doc


def _as_foreign(doc: dict[str, Any], suffix: str) -> dict[str, Any]:
    """The same incident as another agency would send it (its own ids)."""
    foreign = copy.deepcopy(doc)
    foreign["eidoMessageIdentifier"] = f"urn:uuid:00000000-0000-4000-8000-0000000000{suffix}"
    foreign["sendingSystemIdentifier"] = foreign["issuingElementIdentification"] = OTHER
    foreign["incidentComponent"]["incidentTrackingIdentifier"] = _foreign_id(suffix)
    return foreign


def _foreign_id(suffix: str) -> str:
    return f"urn:emergency:uid:incidentid:V-{suffix}:{OTHER}"


def _merged_doc(client: TestClient, headers: dict[str, str], merged: int, kept: int) -> Any:
    """A merged incident as a partner would send it: still with its calls.

    An Arverne merged incident has none left (they moved to the incident that stayed),
    and an import needs one, so the calls are borrowed from the incident that stayed.
    """
    doc = _export(client, headers, merged)
    assert doc["callComponent"] == []
    doc["callComponent"] = _export(client, headers, kept)["callComponent"]
    return doc


def _import(client: TestClient, headers: dict[str, str], doc: dict[str, Any]) -> Any:
    response = client.post("/api/v1/eido", json=doc, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _import_line(client: TestClient, headers: dict[str, str], iid: int) -> Any:
    log = client.get("/api/v1/dutylog", params={"incident_id": iid}, headers=headers).json()
    return next(e for e in log if e["kind"] == "eido_import")


def _merged_pair(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> tuple[int, int, int]:
    """A fight reported twice, with a unit en route, merged: (kept, merged, unit) ids."""
    kept = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    merged = new_incident(client, sup, "fight", at=GARE)["incident"]["id"]
    unit = new_unit(client, sup, "PS-FUS", at=GARE)["id"]
    sent = client.post(
        f"/api/v1/incidents/{merged}/dispatch", json={"unit_ids": [unit]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    assert set_status(client, sup, unit, "en_route").status_code == 200
    merge_incidents(
        session=session,
        ctx=TEST_CTX,
        settings=settings,
        incident_id=merged,
        merge_in=MergeIn(into=kept, reason=REASON),
    )
    session.commit()
    return kept, merged, unit


def test_a_merge_is_on_both_sides_and_the_moved_unit_is_not_stood_down(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    kept, merged, _ = _merged_pair(client, sup, session, settings)
    kept_doc, merged_doc = _export(client, sup, kept), _export(client, sup, merged)
    kept_tid = kept_doc["incidentComponent"]["incidentTrackingIdentifier"]
    merged_tid = merged_doc["incidentComponent"]["incidentTrackingIdentifier"]

    (went,) = merged_doc["mergeComponent"]
    assert went["incidentTrackingIdentifier"] == kept_tid
    assert went["incidentMergeDirectionCode"] == "REPLACED"
    assert went["transactionReasonText"] == REASON
    assert OFFSET.match(went["lastUpdateTimeStamp"])
    inc = merged_doc["incidentComponent"]
    assert inc["incidentStatusCommonRegistryText"] == ["Cancelled"]
    assert inc["dispositionComponent"][0]["dispositionCommonRegistryCode"] == "Duplicate"

    (took,) = kept_doc["mergeComponent"]
    assert took["incidentTrackingIdentifier"] == merged_tid
    assert took["incidentMergeDirectionCode"] == "REPLACING"
    assert took["transactionReasonText"] == REASON
    assert took["lastUpdateTimeStamp"] == went["lastUpdateTimeStamp"]

    # On the merged incident the unit was moved, not stood down: it is still en route.
    (moved,) = merged_doc["emergencyResourceComponent"]
    assert (moved["primaryUnitStatusRegistryText"], moved["secondaryUnitStatusRegistryText"]) == (
        "NotAvailable", ["EnRoute"]
    )  # fmt: skip
    assert moved["unitStatusInternal"] == ["merged"]
    assert "clearedTimeStamp" not in moved
    (working,) = kept_doc["emergencyResourceComponent"]
    assert working["unitStatusInternal"] == ["en_route"]
    assert working["dispatchTimeStamp"] == moved["dispatchTimeStamp"]


def test_a_transport_destination_is_a_location_the_resource_points_at(
    client: TestClient, sup: dict[str, str]
) -> None:
    iid = new_incident(client, sup, "assault", at=GARE)["incident"]["id"]
    unit = new_unit(client, sup, "PS-TR", at=GARE)["id"]
    assert (
        client.post(
            f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit]}, headers=sup
        ).status_code
        == 200
    )
    assert set_status(client, sup, unit, "on_scene").status_code == 200
    moving = set_status(client, sup, unit, "transporting", destination="CHU Gabriel-Montpied")
    assert moving.status_code == 200, moving.text
    doc = _export(client, sup, iid)

    (resource,) = doc["emergencyResourceComponent"]
    assert resource["secondaryUnitStatusRegistryText"] == ["Transporting"]
    locations = {loc["$id"]: loc for loc in doc["locationComponent"]}
    destination = locations[resource["unitDestinationReference"]["$ref"]]
    assert destination["locationTypeDescriptionRegistryText"] == "Destination"
    assert destination["locationDescriptionText"] == "CHU Gabriel-Montpied"
    # The incident keeps its own location, first and referenced.
    incident_loc = doc["incidentComponent"]["locationReference"][0]["$ref"]
    assert doc["locationComponent"][0]["$id"] == incident_loc != destination["$id"]
    assert locations[incident_loc]["locationTypeDescriptionRegistryText"] == "CurrentIncident"

    # Another agency's resources are not units: the destination goes to the duty log.
    imported = _import(client, sup, _as_foreign(doc, "31"))
    assert (imported["lon"], imported["lat"]) == (GARE[0], GARE[1])
    log = client.get("/api/v1/dutylog", params={"incident_id": imported["id"]}, headers=sup)
    (line,) = [e for e in log.json() if e["kind"] == "eido_resource"]
    assert line["text"].endswith("transport vers CHU Gabriel-Montpied")
    assert line["data"]["destination"] == "CHU Gabriel-Montpied"
    assert line["data"]["unitDestinationReference"] == resource["unitDestinationReference"]


def test_an_import_merged_into_a_known_incident_points_at_it(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    kept, merged, _ = _merged_pair(client, sup, session, settings)
    kept_tid = _export(client, sup, kept)["incidentComponent"]["incidentTrackingIdentifier"]

    # Merged into one of this system's incidents.
    first = _import(client, sup, _as_foreign(_merged_doc(client, sup, merged, kept), "41"))
    assert (first["status"], first["merged_into"]) == ("cancelled", kept)
    (link,) = _import_line(client, sup, first["id"])["data"]["merges"]
    assert (link["tracking_id"], link["direction"], link["incident_id"]) == (
        kept_tid, "REPLACED", kept
    )  # fmt: skip
    assert link["reason"] == REASON

    # Merged into an incident already imported from the same agency.
    other = new_incident(client, sup, "noise", at=JAUDE)["incident"]["id"]
    host = _import(client, sup, _as_foreign(_export(client, sup, other), "42"))
    doc = _as_foreign(_merged_doc(client, sup, merged, kept), "43")
    doc["mergeComponent"][0]["incidentTrackingIdentifier"] = _foreign_id("42")
    doc["mergeComponent"][0]["incidentMergeDirectionCode"] = "REPLACED"  # any case is read
    second = _import(client, sup, doc)
    assert (second["status"], second["merged_into"]) == ("cancelled", host["id"])

    # Sent on, it names the incident it went into (now by this system's tracking id).
    host_tid = _export(client, sup, host["id"])["incidentComponent"]["incidentTrackingIdentifier"]
    (went,) = _export(client, sup, second["id"])["mergeComponent"]
    assert (went["incidentTrackingIdentifier"], went["incidentMergeDirectionCode"]) == (
        host_tid, "REPLACED"
    )  # fmt: skip
    assert went["transactionReasonText"] == REASON
    (took,) = _export(client, sup, host["id"])["mergeComponent"]
    assert took["incidentMergeDirectionCode"] == "REPLACING"


def test_links_to_unknown_incidents_are_kept_in_the_duty_log(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    kept, merged, _ = _merged_pair(client, sup, session, settings)
    doc = _as_foreign(_merged_doc(client, sup, merged, kept), "51")
    doc["mergeComponent"][0]["incidentTrackingIdentifier"] = _foreign_id("99")
    doc["linkComponent"] = [
        {
            "$id": "link-1",
            "incidentTrackingIdentifier": _foreign_id("98"),
            "linkDirectionCode": "related",
            "transactionReasonText": "même auteur présumé",
        }
    ]
    imported = _import(client, sup, doc)
    assert (imported["status"], imported["merged_into"]) == ("cancelled", None)
    line = _import_line(client, sup, imported["id"])
    (merge,) = line["data"]["merges"]
    assert (merge["tracking_id"], merge["direction"], merge["incident_id"]) == (
        _foreign_id("99"), "REPLACED", None
    )  # fmt: skip
    assert merge["reason"] == REASON
    (link,) = line["data"]["links"]
    assert link == {
        "tracking_id": _foreign_id("98"),
        "direction": "RELATED",
        "reason": "même auteur présumé",
        "incident_id": None,
    }
    assert _foreign_id("99") in line["text"]
    assert _foreign_id("98") in line["text"]


def test_a_split_is_exported_on_both_sides(client: TestClient, sup: dict[str, str]) -> None:
    first = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    split = client.post(
        f"/api/v1/incidents/{first['id']}/split",
        json={"type_code": "burglary_report", "reason": "cambriolage à côté", "lon": GARE[0],
              "lat": GARE[1]},
        headers=sup,
    )  # fmt: skip
    assert split.status_code == 201, split.text
    created = split.json()["created"]
    source_doc, new_doc = _export(client, sup, first["id"]), _export(client, sup, created["id"])
    (on_source,) = source_doc["mergeComponent"]
    (on_new,) = new_doc["mergeComponent"]
    assert (
        on_source["incidentMergeDirectionCode"] == on_new["incidentMergeDirectionCode"] == "SPLIT"
    )
    assert (
        on_source["incidentTrackingIdentifier"]
        == new_doc["incidentComponent"]["incidentTrackingIdentifier"]
    )
    assert (
        on_new["incidentTrackingIdentifier"]
        == source_doc["incidentComponent"]["incidentTrackingIdentifier"]
    )
    assert (
        on_source["transactionReasonText"]
        == on_new["transactionReasonText"]
        == ("cambriolage à côté")
    )
    assert OFFSET.match(on_new["lastUpdateTimeStamp"])


def test_a_link_is_exported_and_an_imported_link_to_a_known_incident_is_made(
    client: TestClient, sup: dict[str, str]
) -> None:
    robbery = new_incident(client, sup, "robbery", at=JAUDE)["incident"]
    crash = new_incident(client, sup, "traffic_damage", at=GARE)["incident"]
    made = client.post(
        f"/api/v1/incidents/{robbery['id']}/links",
        json={"other": crash["id"], "reason": "la voiture en fuite"},
        headers=sup,
    )
    assert made.status_code == 201, made.text
    doc = _export(client, sup, robbery["id"])
    (link,) = doc["linkComponent"]
    crash_doc = _export(client, sup, crash["id"])
    assert (
        link["incidentTrackingIdentifier"]
        == crash_doc["incidentComponent"]["incidentTrackingIdentifier"]
    )
    assert (link["linkDirectionCode"], link["transactionReasonText"]) == (
        "RELATED", "la voiture en fuite"
    )  # fmt: skip
    assert OFFSET.match(link["lastUpdateTimeStamp"])
    # A partner's incident linked to our crash: imported, it is linked here too.
    foreign = _as_foreign(doc, "61")
    imported = _import(client, sup, foreign)
    links = client.get(f"/api/v1/incidents/{imported['id']}/links", headers=sup).json()
    assert [x["incident_id"] for x in links] == [crash["id"]]
    assert links[0]["reason"] == "la voiture en fuite"
