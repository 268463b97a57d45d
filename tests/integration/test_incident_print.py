"""The print view of one incident: facts, response times, calls without callers'
identities, units with their times and transport, and the incident's duty log."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from arverne.security.policy import Role
from tests.data import login, make_user
from tests.dispatch_data import GARE, set_status


def test_an_incident_prints_without_callers_identities(
    client: TestClient, session: Session
) -> None:
    make_user(session, Role.SUPERVISOR, Role.DISPATCHER, username="chef")
    csrf = {"X-CSRF-Token": login(client, "chef")}
    unit = client.post(
        "/api/v1/units",
        json={
            "call_sign": "PS-41",
            "unit_type": "car",
            "station_lon": GARE[0],
            "station_lat": GARE[1],
        },
        headers=csrf,
    ).json()
    assert set_status(client, csrf, unit["id"], "available").status_code == 200
    made = client.post(
        "/api/v1/incidents",
        json={
            "type_code": "assault", "lon": GARE[0], "lat": GARE[1],
            "description": "Altercation devant la gare",
            "call": {"channel": "emergency", "caller_name": "Jeanne Témoin",
                     "caller_phone": "0611223344", "description": "deux hommes se battent"},
        },
        headers=csrf,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    incident = made.json()["incident"]
    iid = incident["id"]
    client.post(f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=csrf)
    for status, extra in (("on_scene", {}), ("transporting", {"destination": "CHU Estaing"})):
        assert set_status(client, csrf, unit["id"], status, **extra).status_code == 200

    # A related incident, linked with a reason: the print view lists it.
    other = client.post(
        "/api/v1/incidents",
        json={"type_code": "traffic_damage", "lon": GARE[0], "lat": GARE[1]},
        headers=csrf,
    )
    assert other.status_code == 201, other.text
    other_number = other.json()["incident"]["number"]
    linked = client.post(
        f"/api/v1/incidents/{iid}/links",
        json={"other": other.json()["incident"]["id"], "reason": "véhicule des agresseurs"},
        headers=csrf,
    )
    assert linked.status_code == 201, linked.text

    page = client.get(f"/console/incidents/{iid}/print")
    assert page.status_code == 200
    text = page.text
    assert incident["number"] in text
    assert "Altercation devant la gare" in text
    assert "deux hommes se battent" in text
    assert "Jeanne" not in text
    assert "0611223344" not in text
    assert "ne sont pas imprimés" in text
    assert 'data-unit="{}"'.format(unit["id"]) in text
    assert "CHU Estaing" in text
    assert "appel → engagement 0:" in text  # response times, in minutes:seconds
    assert 'data-kind="unit_dispatched"' in text  # the incident's duty log
    links = text.split('id="print-links"')[1].split("</table>")[0]
    assert other_number in links
    assert "véhicule des agresseurs" in links
    assert "Accident matériel" in links
    assert "En attente" in links  # its status
    assert client.get("/console/incidents/999999/print").status_code == 404


def test_the_print_view_needs_a_session_and_the_right(client: TestClient, session: Session) -> None:
    answer = client.get("/console/incidents/1/print", follow_redirects=False)
    assert answer.status_code == 303
    make_user(session, Role.TRAINER, username="formateur")
    login(client, "formateur")
    assert client.get("/console/incidents/1/print").status_code == 403
