"""NENA's EIDO Retrieval Service and Dereference Factory (NENA-STA-024, the paths of
NENA's published ``edfers.yaml``): an incident's current EIDO by its tracking id, a URI
to fetch it by, the versions offered; 404, 403 and 406 as the description lists them;
every retrieval and reference audited."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import JAUDE, new_incident
from tests.integration.test_eido import _as_foreign, _export

BASE = "/api/v1/IncidentData/v1"


def _tracking(doc: dict[str, object]) -> str:
    component = doc["incidentComponent"]
    assert isinstance(component, dict)
    return str(component["incidentTrackingIdentifier"])


def test_retrieval_gives_the_current_eido_of_the_incident(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    call = {"caller_name": "Mme Durand"}
    iid = new_incident(client, sup, "noise", at=JAUDE, call=call)["incident"]["id"]
    tracking = _tracking(_export(client, sup, iid))
    got = client.get(f"{BASE}/incidents/{tracking}", headers=sup)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["cache-control"] == "no-store"
    doc = got.json()
    assert _tracking(doc) == tracking
    assert not doc.get("personComponent")  # no callers' identities unless asked for
    assert "Durand" not in got.text

    changed = client.patch(
        f"/api/v1/incidents/{iid}", json={"priority": 1, "reason": "rixe"}, headers=sup
    )
    assert changed.status_code == 200, changed.text
    again = client.get(f"{BASE}/incidents/{quote(tracking, safe='')}", headers=sup).json()
    assert again["incidentComponent"]["incidentPriorityInternalText"] == "P1"  # current state

    details = session.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "eido.retrieve")
    ).all()
    assert [dict(d)["tracking_id"] for d in details] == [tracking, tracking]


def test_callers_only_with_the_permission_and_a_reason_audited(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    call = {"caller_name": "Mme Durand", "caller_phone": "+33473000000"}
    iid = new_incident(client, sup, "noise", at=JAUDE, call=call)["incident"]["id"]
    url = f"{BASE}/incidents/{_tracking(_export(client, sup, iid))}"
    why = {"X-Access-Reason": "rappel de la requerante par le SDIS"}
    got = client.get(url, params={"include_personal": True}, headers={**sup, **why})
    assert got.status_code == 200, got.text
    assert "Durand" in got.text
    assert "+33473000000" in got.text
    no_reason = client.get(url, params={"include_personal": True}, headers=sup)
    assert no_reason.status_code == 422
    assert "X-Access-Reason" in no_reason.text
    reader = make_user(session, Role.ANALYST, username="analyste")
    analyst = bearer(make_token(session, settings, reader))
    refused = client.get(url, params={"include_personal": True}, headers={**analyst, **why})
    assert refused.status_code == 403, refused.text
    reads = session.scalars(
        select(AuditEntry.reason).where(AuditEntry.action == "call.read_personal")
    ).all()
    assert list(reads) == [why["X-Access-Reason"]]  # only the read that was allowed


def test_an_imported_incident_is_retrieved_by_its_partner_tracking_id(
    client: TestClient, sup: dict[str, str]
) -> None:
    iid = new_incident(client, sup, "theft", at=JAUDE)["incident"]["id"]
    foreign = _as_foreign(_export(client, sup, iid), suffix="4")
    odd = "urn:emergency:uid:incidentid:V/4?#:police.voisine.example"  # a partner's id
    foreign["incidentComponent"]["incidentTrackingIdentifier"] = odd
    imported = client.post("/api/v1/eido", json=foreign, headers=sup)
    assert imported.status_code == 201, imported.text
    reference = client.get(f"{BASE}/references/{quote(odd, safe='')}", headers=sup)
    assert reference.status_code == 200, reference.text
    assert reference.text.endswith(
        "/incidents/urn:emergency:uid:incidentid:V%2F4%3F%23:police.voisine.example"
    )
    got = client.get(reference.text, headers=sup)
    assert got.status_code == 200, got.text
    # This system's document of the incident it imported (its own number here).
    assert got.json()["incidentComponent"]["internalIncidentId"] == imported.json()["number"]


def test_the_dereference_factory_gives_a_uri_that_retrieves_the_eido(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    iid = new_incident(client, sup, "noise", at=JAUDE)["incident"]["id"]
    tracking = _tracking(_export(client, sup, iid))
    made = client.get(f"{BASE}/references/{tracking}", headers=sup)
    assert made.status_code == 200, made.text
    assert made.headers["content-type"].startswith("text/plain")
    uri = made.text
    assert uri == f"https://testserver{BASE}/incidents/{tracking}"
    fetched = client.get(uri, headers=sup)
    assert fetched.status_code == 200, fetched.text
    assert _tracking(fetched.json()) == tracking
    assert client.get(uri).status_code == 401  # the URI alone grants nothing
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("eido.re%"))
    ).all()
    assert list(actions) == ["eido.reference", "eido.retrieve"]


def test_refusals_are_those_the_description_lists(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    iid = new_incident(client, sup, "noise", at=JAUDE)["incident"]["id"]
    tracking = _tracking(_export(client, sup, iid))
    unknown = "urn:emergency:uid:incidentid:2026-999999:ailleurs.example"
    for path in ("incidents", "references"):
        missing = client.get(f"{BASE}/{path}/{unknown}", headers=sup)
        assert missing.status_code == 404, missing.text
        assert unknown in missing.json()["detail"]
    xml = client.get(f"{BASE}/incidents/{tracking}", headers={**sup, "Accept": "application/xml"})
    assert xml.status_code == 406
    assert "application/json" in xml.json()["detail"]
    json_only = {**sup, "Accept": "application/json"}
    assert client.get(f"{BASE}/references/{tracking}", headers=json_only).status_code == 406
    trainer = bearer(make_token(session, settings, make_user(session, Role.TRAINER)))
    assert client.get(f"{BASE}/incidents/{tracking}", headers=trainer).status_code == 403
    assert client.get(f"{BASE}/references/{tracking}", headers=trainer).status_code == 403
    assert not session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("eido.re%"))
    ).all()  # nothing refused was recorded as read


def test_versions(client: TestClient, sup: dict[str, str]) -> None:
    got = client.get(f"{BASE}/Versions", headers=sup)
    assert got.status_code == 200
    assert got.json()["versions"] == [{"major": 1, "minor": 0, "vendor": "Arverne"}]
