"""A crew's distress call: a P1 incident where the crew is, linked to its incident, an
alarm line in the duty log, one incident however often the button is pressed while it is
open; refused off duty, or without a place; through the API and the CLI."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.citypack import load_city
from arverne.dispatch.crew_schemas import DistressIn
from arverne.dispatch.distress import raise_distress
from arverne.dispatch.models import Incident, Unit
from arverne.security.audit import AuditContext
from arverne.security.policy import Role
from arverne.store.session import make_sessionmaker, session_scope
from tests.conftest import at_once, make_settings
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import GARE, JAUDE, NORD, new_incident, new_unit, set_status
from tests.integration.conftest import Cli


def test_a_crew_in_trouble_gets_a_p1_where_it_is_once(
    client: TestClient, sup: dict[str, str]
) -> None:
    crew = new_unit(client, sup, "PS-D1", at=GARE)
    for sign, at in (("PS-D2", JAUDE), ("PS-D3", NORD), ("PS-D4", JAUDE)):
        new_unit(client, sup, sign, at=at)
    theft = new_incident(client, sup, "theft", at=GARE)["incident"]["id"]
    client.post(f"/api/v1/incidents/{theft}/dispatch", json={"unit_ids": [crew["id"]]}, headers=sup)
    assert set_status(client, sup, crew["id"], "on_scene").status_code == 200

    pressed = client.post(
        f"/api/v1/units/{crew['id']}/distress", json={"note": "ils sont nombreux"}, headers=sup
    )
    assert pressed.status_code == 201, pressed.text
    out = pressed.json()
    assert out["created"] is True
    incident = out["incident"]
    assert (incident["type_code"], incident["priority"], incident["status"]) == (
        "officer_distress",
        1,
        "queued",
    )
    assert abs(incident["lon"] - GARE[0]) < 1e-6  # the crew's last position
    assert abs(incident["lat"] - GARE[1]) < 1e-6
    assert incident["description"] == "Appel de détresse de PS-D1 : « ils sont nombreux »"
    assert incident["calls"][0]["channel"] == "officer"
    (link,) = client.get(f"/api/v1/incidents/{incident['id']}/links", headers=sup).json()
    assert link["incident_id"] == theft
    log = client.get(f"/api/v1/dutylog?incident_id={incident['id']}", headers=sup).json()
    (alarm,) = [line for line in log if line["kind"] == "unit_distress"]
    assert alarm["unit_id"] == crew["id"]
    assert alarm["text"].startswith("APPEL DE DÉTRESSE : PS-D1, ")
    assert alarm["data"]["working"] == theft
    # Pressed again (or relayed by radio meanwhile): the same incident, nothing new.
    again = client.post(f"/api/v1/units/{crew['id']}/distress", json={}, headers=sup)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["incident"]["id"] == incident["id"]
    mine = [
        i
        for i in client.get("/api/v1/incidents?status=open", headers=sup).json()
        if i["type_code"] == "officer_distress"
    ]
    assert len(mine) == 1
    # Three crews go to a colleague in trouble; the crew itself is not proposed.
    rec = client.get(f"/api/v1/incidents/{incident['id']}/recommendations", headers=sup).json()
    assert rec["plan"]["units"] == 3
    assert set(rec["plan"]["proposed_call_signs"]) == {"PS-D2", "PS-D3", "PS-D4"}
    # Once it is closed, a new alarm is a new incident.
    closed = client.post(
        f"/api/v1/incidents/{incident['id']}/close", json={"disposition": "arrest"}, headers=sup
    )
    assert closed.status_code == 200, closed.text
    third = client.post(f"/api/v1/units/{crew['id']}/distress", json={}, headers=sup)
    assert third.status_code == 201
    assert third.json()["incident"]["id"] != incident["id"]


def test_refusals_name_the_fix(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    home = new_unit(client, sup, "PS-D5", at=JAUDE, status="off_duty")
    refused = client.post(f"/api/v1/units/{home['id']}/distress", json={}, headers=sup)
    assert refused.status_code == 409
    assert "calls 17" in refused.json()["detail"]
    blind = client.post(
        "/api/v1/units", json={"call_sign": "PS-D6", "unit_type": "car"}, headers=sup
    ).json()
    assert set_status(client, sup, blind["id"], "available").status_code == 200
    nowhere = client.post(f"/api/v1/units/{blind['id']}/distress", json={}, headers=sup)
    assert nowhere.status_code == 422
    assert nowhere.json()["errors"][0]["field"] == "lon"
    half = client.post(f"/api/v1/units/{blind['id']}/distress", json={"lon": 3.08}, headers=sup)
    assert half.status_code == 422
    told = client.post(
        f"/api/v1/units/{blind['id']}/distress",
        json={"lon": JAUDE[0], "lat": JAUDE[1]},
        headers=sup,
    )
    assert told.status_code == 201, told.text
    analyst = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    denied = client.post(f"/api/v1/units/{blind['id']}/distress", json={}, headers=analyst)
    assert denied.status_code == 403


def test_a_distress_call_from_the_terminal(cli: Cli) -> None:
    assert cli("unit", "add", "PS-T9", "--type", "car", "--station", "3.083,45.777")[0] == 0
    assert cli("unit", "status", "PS-T9", "available")[0] == 0
    code, out = cli("unit", "distress", "PS-T9", "--note", "renfort")
    assert code == 0, out
    assert "created (P1)" in out
    code, out = cli("unit", "distress", "PS-T9")
    assert code == 0
    assert "already open" in out
    code, out = cli("dutylog")
    assert "APPEL DE DÉTRESSE : PS-T9" in out


def test_presses_at_the_same_moment_make_one_incident(
    real_engine: Engine, migrated_database_url: str
) -> None:
    """The crew's button and the dispatcher relaying the radio call, at once."""
    settings = make_settings(migrated_database_url)
    factory = make_sessionmaker(real_engine)
    city = load_city(settings)
    with session_scope(factory) as session:
        unit = Unit(call_sign="PS-R1", unit_type="car", status="on_scene")
        unit.last_lon, unit.last_lat = JAUDE
        session.add(unit)
        session.flush()
        unit_id = unit.id

    def press() -> tuple[int, bool]:
        with session_scope(factory) as session:
            incident, created = raise_distress(
                session=session,
                ctx=AuditContext(actor="test"),
                settings=settings,
                city=city,
                unit_id=unit_id,
                distress_in=DistressIn(),
            )
            return incident.id, created

    outcomes = at_once(6, press)
    assert len({incident_id for incident_id, _ in outcomes}) == 1
    assert sorted(created for _, created in outcomes) == [False] * 5 + [True]
    with session_scope(factory) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Incident)
            .where(Incident.type_code == "officer_distress")
        )
        assert count == 1
