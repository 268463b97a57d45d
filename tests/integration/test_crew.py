"""Crews: an officer signs on to a unit and then acts for it only (status, checks,
position, distress); a supervisor sets crews by badge; every change is in the duty log;
the same from the command line."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import crew
from arverne.dispatch.models import DutyLogEntry, Unit, UnitCrew
from arverne.people import service as people
from arverne.people.schemas import OfficerIn
from arverne.security.models import User
from arverne.security.policy import Role
from arverne.store.session import make_sessionmaker, session_scope
from tests.conftest import at_once, make_settings
from tests.data import TEST_CTX, bearer, make_token, make_user
from tests.dispatch_data import JAUDE, new_incident, new_unit, set_status
from tests.integration.conftest import Cli


def _officer(
    session: Session, settings: Settings, badge: str, *, linked: bool = True
) -> tuple[dict[str, str], User]:
    """An officer account (role officer) linked to officer ``badge``; its headers."""
    user = make_user(session, Role.OFFICER)
    officer = people.create_officer(
        session, TEST_CTX, OfficerIn(badge=badge, first_name="Camille", last_name=badge)
    )
    if linked:
        people.link_user(session, TEST_CTX, officer, user)
    session.commit()
    return bearer(make_token(session, settings, user)), user


def _log(client: TestClient, headers: dict[str, str], kind: str) -> list[dict[str, Any]]:
    rows = client.get(f"/api/v1/dutylog?kind={kind}&limit=100", headers=headers).json()
    return [r for r in rows if r["kind"] == kind]


def test_an_officer_acts_only_for_the_unit_they_signed_on_to(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    one = new_unit(client, sup, "PS-K1")
    two = new_unit(client, sup, "PS-K2")
    me, _ = _officer(session, settings, "B-101")
    mine = client.get("/api/v1/units/mine", headers=me).json()
    assert mine == {"officer": {"badge": "B-101", "name": "Camille B-101"}, "units": []}
    refused = set_status(client, me, one["id"], "unavailable", reason="meal")
    assert refused.status_code == 403
    assert "yours: none" in refused.json()["detail"]

    signed = client.post(f"/api/v1/units/{one['id']}/crew/me", headers=me)
    assert signed.status_code == 200, signed.text
    assert signed.json()["crew"] == ["Camille B-101"]
    again = client.post(f"/api/v1/units/{one['id']}/crew/me", headers=me)
    assert again.status_code == 200  # harmless: logged once
    (line,) = _log(client, sup, "crew_sign_on")
    assert line["text"] == "PS-K1 : prise de service de Camille B-101 (B-101)"
    assert [
        u["call_sign"] for u in client.get("/api/v1/units/mine", headers=me).json()["units"]
    ] == ["PS-K1"]

    assert set_status(client, me, one["id"], "unavailable", reason="meal").status_code == 200
    other = set_status(client, me, two["id"], "unavailable", reason="meal")
    assert other.status_code == 403
    assert "yours: PS-K1" in other.json()["detail"]
    here = {"lon": JAUDE[0], "lat": JAUDE[1]}
    assert (
        client.post(f"/api/v1/units/{one['id']}/positions", json=here, headers=me).status_code
        == 202
    )
    assert (
        client.post(f"/api/v1/units/{two['id']}/positions", json=here, headers=me).status_code
        == 403
    )
    # The dispatcher still acts for every unit.
    assert set_status(client, sup, two["id"], "unavailable", reason="meal").status_code == 200

    # Signing on to another unit moves the officer, logged on both units.
    moved = client.post(f"/api/v1/units/{two['id']}/crew/me", headers=me)
    assert moved.status_code == 200
    assert client.get(f"/api/v1/units/{one['id']}", headers=sup).json()["crew"] == []
    (left,) = _log(client, sup, "crew_changed")
    assert left["unit_id"] == one["id"]
    assert "quitte l'équipage (passe sur PS-K2)" in left["text"]
    assert set_status(client, me, one["id"], "available").status_code == 403

    not_on = client.delete(f"/api/v1/units/{one['id']}/crew/me", headers=me)
    assert not_on.status_code == 409
    assert client.delete(f"/api/v1/units/{two['id']}/crew/me", headers=me).status_code == 200
    assert client.get("/api/v1/units/mine", headers=me).json()["units"] == []
    (off,) = _log(client, sup, "crew_sign_off")
    assert off["text"] == "PS-K2 : fin de service de Camille B-101 (B-101)"


def test_a_crew_answers_its_checks_and_raises_its_distress_call(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    unit = new_unit(client, sup, "PS-K3")
    me, _ = _officer(session, settings, "B-102")
    assert client.post(f"/api/v1/units/{unit['id']}/crew/me", headers=me).status_code == 200
    iid = new_incident(client, sup, "fight")["incident"]["id"]
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200
    assert set_status(client, me, unit["id"], "en_route").status_code == 200
    assert set_status(client, me, unit["id"], "on_scene").status_code == 200
    ok = client.post(f"/api/v1/units/{unit['id']}/check", json={"outcome": "ok"}, headers=me)
    assert ok.status_code == 200
    assert ok.json()["checked_at"] is not None
    silent = client.post(
        f"/api/v1/units/{unit['id']}/check", json={"outcome": "no_answer"}, headers=me
    )
    assert silent.status_code == 403
    assert "'no_answer' is recorded by the dispatcher" in silent.json()["detail"]
    by_dispatcher = client.post(
        f"/api/v1/units/{unit['id']}/check", json={"outcome": "no_answer"}, headers=sup
    )
    assert by_dispatcher.status_code == 200
    alarm = client.post(f"/api/v1/units/{unit['id']}/distress", json={}, headers=me)
    assert alarm.status_code == 201, alarm.text
    assert alarm.json()["incident"]["type_code"] == "officer_distress"
    stranger, _ = _officer(session, settings, "B-103")
    assert (
        client.post(f"/api/v1/units/{unit['id']}/distress", json={}, headers=stranger).status_code
        == 403
    )


def test_an_account_without_an_officer_cannot_sign_on(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    unit = new_unit(client, sup, "PS-K4")
    me, _ = _officer(session, settings, "B-104", linked=False)
    assert client.get("/api/v1/units/mine", headers=me).json() == {"officer": None, "units": []}
    refused = client.post(f"/api/v1/units/{unit['id']}/crew/me", headers=me)
    assert refused.status_code == 409
    assert "arverne officer link" in refused.json()["detail"]


def test_a_supervisor_sets_crews_by_badge(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    one = new_unit(client, sup, "PS-K5")
    two = new_unit(client, sup, "PS-K6")
    for badge in ("B-105", "B-106", "B-107"):
        _officer(session, settings, badge)
    put = client.put(
        f"/api/v1/units/{one['id']}/crew", json={"badges": ["B-105", "B-106"]}, headers=sup
    )
    assert put.status_code == 200, put.text
    assert sorted(put.json()["crew"]) == ["Camille B-105", "Camille B-106"]
    moved = client.put(
        f"/api/v1/units/{two['id']}/crew", json={"badges": ["B-106", "B-107"]}, headers=sup
    )
    assert moved.status_code == 200
    assert client.get(f"/api/v1/units/{one['id']}", headers=sup).json()["crew"] == ["Camille B-105"]
    texts = [line["text"] for line in _log(client, sup, "crew_changed")]
    assert any(
        t.startswith("PS-K6 : équipage Camille B-106 (B-106), Camille B-107 (B-107)") for t in texts
    )
    assert "PS-K5 : Camille B-106 (B-106) quitte l'équipage (passe sur PS-K6)" in texts

    unknown = client.put(
        f"/api/v1/units/{one['id']}/crew", json={"badges": ["B-105", "NOPE"]}, headers=sup
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "badges"
    assert "NOPE" in unknown.json()["errors"][0]["message"]
    assert client.get(f"/api/v1/units/{one['id']}", headers=sup).json()["crew"] == ["Camille B-105"]
    dispatcher = bearer(make_token(session, settings, make_user(session, Role.DISPATCHER)))
    refused = client.put(f"/api/v1/units/{one['id']}/crew", json={"badges": []}, headers=dispatcher)
    assert refused.status_code == 403
    cleared = client.put(f"/api/v1/units/{one['id']}/crew", json={"badges": []}, headers=sup)
    assert cleared.json()["crew"] == []


def test_officers_and_crews_from_the_terminal(cli: Cli) -> None:
    assert (
        cli("user", "add", "cagent", "--name", "C Agent", "--role", "officer", "--generate")[0] == 0
    )
    code, out = cli(
        "officer",
        "add",
        "M-1",
        "--first-name",
        "Camille",
        "--last-name",
        "Salers",
        "--user",
        "cagent",
    )
    assert code == 0, out
    assert "linked to cagent" in out
    code, out = cli("officer", "add", "M-1", "--first-name", "X", "--last-name", "Y")
    assert code == 2
    assert "already used" in out
    assert cli("officer", "add", "M-2", "--first-name", "Enzo", "--last-name", "Aligot")[0] == 0
    assert cli("unit", "add", "PS-T9", "--type", "car", "--station", "3.083,45.777")[0] == 0
    code, out = cli("unit", "crew", "PS-T9", "--badge", "M-1", "--badge", "M-2")
    assert code == 0, out
    assert "PS-T9: Camille Salers, Enzo Aligot" in out
    code, out = cli("unit", "crew", "PS-T9", "--badge", "M-9")
    assert code == 2
    assert "no active officer with badge M-9" in out
    code, out = cli("officer", "list", "--reason", "shift briefing")
    assert code == 0, out
    for shown in ("M-1", "cagent", "PS-T9"):
        assert shown in out
    assert cli("officer", "list")[0] == 2  # a personal-data read needs a reason
    code, out = cli("officer", "link", "M-2", "cagent")
    assert code == 2
    assert "already linked to officer M-1" in out
    assert cli("officer", "link", "M-1", "--unlink")[0] == 0
    assert cli("officer", "link", "M-2", "cagent")[0] == 0
    code, out = cli("officer", "disable", "M-2")  # left the force
    assert code == 0, out
    code, out = cli("officer", "list", "--reason", "check")
    (row,) = [line for line in out.splitlines() if "M-2" in line]
    assert "PS-T9" not in row  # off every crew
    assert row.rstrip(" │").endswith("no")  # not active
    assert cli("officer", "disable", "M-9")[0] == 2
    assert cli("officer", "enable", "M-2")[0] == 0
    assert cli("unit", "status", "PS-T9", "available")[0] == 0
    code, out = cli("unit", "initiative", "PS-T9", "--type", "theft", "--at", "3.083,45.777")
    assert code == 0, out
    assert "PS-T9 on scene on its own initiative" in out
    code, out = cli("unit", "initiative", "PS-T9", "--type", "theft")
    assert code == 2
    assert "only a free unit" in out
    code, out = cli("dutylog")
    assert code == 0, out
    assert "PS-T9 : équipage Camille Salers (M-1), Enzo Aligot (M-2) (avant : aucun)" in out
    assert "PS-T9 : Enzo Aligot (M-2) quitte l'équipage (agent désactivé)" in out


def test_a_crew_handles_an_event_on_its_own_initiative(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    unit = new_unit(client, sup, "PS-K7")
    me, _ = _officer(session, settings, "B-108")
    assert client.post(f"/api/v1/units/{unit['id']}/crew/me", headers=me).status_code == 200
    here = {"lon": JAUDE[0], "lat": JAUDE[1]}
    assert (
        client.post(f"/api/v1/units/{unit['id']}/positions", json=here, headers=me).status_code
        == 202
    )
    made = client.post(
        f"/api/v1/units/{unit['id']}/initiative",
        json={"type_code": "shoplifting", "description": "Vol à l'étalage constaté"},
        headers=me,
    )
    assert made.status_code == 201, made.text
    incident = made.json()
    assert (incident["type_code"], incident["status"]) == ("shoplifting", "on_scene")
    assert (incident["lon"], incident["lat"]) == JAUDE  # the unit's position
    assert incident["calls"][0]["channel"] == "officer"
    (assignment,) = incident["assignments"]
    assert assignment["call_sign"] == "PS-K7"
    view = client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()
    assert (view["status"], view["current_incident_id"]) == ("on_scene", incident["id"])
    (line,) = _log(client, sup, "initiative")
    assert line["text"].startswith(f"PS-K7 : intervention d'initiative, {incident['number']}")
    # A crew already on scene has no response time: the KPIs leave it out, and say so.
    kpi = client.get("/api/v1/kpi/response-times", headers=sup).json()
    assert (kpi["incidents"], kpi["own_initiative"]) == (0, 1)
    other_call = new_incident(client, sup, "theft")["incident"]["id"]
    kpi = client.get("/api/v1/kpi/response-times", headers=sup).json()
    assert (kpi["incidents"], kpi["own_initiative"]) == (1, 1)
    assert (
        client.post(
            f"/api/v1/incidents/{other_call}/cancel", json={"reason": "test"}, headers=sup
        ).status_code
        == 200
    )

    busy = client.post(
        f"/api/v1/units/{unit['id']}/initiative", json={"type_code": "theft"}, headers=me
    )
    assert busy.status_code == 409
    assert busy.json()["allowed"] == ["available", "at_station"]
    other = new_unit(client, sup, "PS-K8", status="available")
    refused = client.post(
        f"/api/v1/units/{other['id']}/initiative", json={"type_code": "theft"}, headers=me
    )
    assert refused.status_code == 403
    unknown = client.post(
        f"/api/v1/units/{other['id']}/initiative", json={"type_code": "nope"}, headers=sup
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "type_code"
    made = client.post(
        "/api/v1/units", json={"call_sign": "PS-K9", "unit_type": "car"}, headers=sup
    )
    assert made.status_code == 201, made.text
    nowhere = made.json()["id"]
    assert set_status(client, sup, nowhere, "available").status_code == 200
    lost = client.post(
        f"/api/v1/units/{nowhere}/initiative", json={"type_code": "theft"}, headers=sup
    )
    assert lost.status_code == 422
    assert lost.json()["errors"][0]["field"] == "lon"
    still = client.get("/api/v1/incidents?status=open", headers=sup).json()
    assert [i["type_code"] for i in still] == ["shoplifting"]  # nothing half-saved
    assert client.get(f"/api/v1/units/{nowhere}", headers=sup).json()["status"] == "available"


def test_officers_through_the_api(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    made = client.post(
        "/api/v1/officers",
        json={"badge": "B-200", "first_name": "Zoé", "last_name": "Gergovie", "rank": "major"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert made.json() == {
        "id": made.json()["id"],
        "badge": "B-200",
        "name": "Zoé Gergovie",
        "first_name": "Zoé",
        "last_name": "Gergovie",
        "rank": "major",
        "username": None,
        "units": [],
        "active": True,
    }
    again = client.post(
        "/api/v1/officers",
        json={"badge": "B-200", "first_name": "X", "last_name": "Y"},
        headers=admin,
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/v1/officers",
        json={"badge": "B 2", "first_name": "X", "last_name": "Y"},
        headers=admin,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.badge"
    refused = client.post(
        "/api/v1/officers",
        json={"badge": "B-201", "first_name": "X", "last_name": "Y"},
        headers=sup,
    )
    assert refused.status_code == 403  # officer:manage is the administrator's

    unit = new_unit(client, sup, "PS-L1")
    me, user = _officer(session, settings, "B-202")
    assert client.post(f"/api/v1/units/{unit['id']}/crew/me", headers=me).status_code == 200
    listed = client.get(
        "/api/v1/officers", headers={**sup, "X-Access-Reason": "composition des patrouilles"}
    )
    assert listed.status_code == 200
    mine = next(o for o in listed.json() if o["badge"] == "B-202")
    assert (mine["username"], mine["units"]) == (user.username, ["PS-L1"])
    trail = client.get(
        "/api/v1/audit?action=officer.list", headers={**sup, "X-Access-Reason": "controle"}
    ).json()
    assert trail[0]["reason"] == "composition des patrouilles"
    dispatcher = bearer(make_token(session, settings, make_user(session, Role.DISPATCHER)))
    assert client.get("/api/v1/officers", headers=dispatcher).status_code == 403


def test_crew_moves_at_the_same_moment_never_deadlock_nor_split_an_officer(
    real_engine: Engine, migrated_database_url: str
) -> None:
    """Supervisors moving the same two officers between two units, and the officer
    signing on to each, all at once: every change goes through (the units are locked in
    id order) and each officer ends up on exactly one crew."""
    settings = make_settings(migrated_database_url)
    factory = make_sessionmaker(real_engine)
    with session_scope(factory) as session:
        units = [Unit(call_sign=f"PS-M{i}", unit_type="car", status="available") for i in (1, 2)]
        session.add_all(units)
        user = make_user(session, Role.OFFICER)
        officers = [
            people.create_officer(
                session, TEST_CTX, OfficerIn(badge=f"M-{i}", first_name="A", last_name=str(i))
            )
            for i in (1, 2)
        ]
        people.link_user(session, TEST_CTX, officers[0], user)
        session.flush()
        unit_ids = [u.id for u in units]
    turn = itertools.count()

    def change() -> None:
        i = next(turn)
        target = unit_ids[i % 2]
        with session_scope(factory) as session:
            if i % 4 == 3:
                crew.sign_on(
                    session=session,
                    ctx=TEST_CTX,
                    settings=settings,
                    unit_id=target,
                    user_id=user.id,
                )
            else:
                crew.set_crew(
                    session=session,
                    ctx=TEST_CTX,
                    settings=settings,
                    unit_id=target,
                    badges=["M-1", "M-2"],
                )

    at_once(8, change)  # raises the first error (a deadlock would be one)
    with session_scope(factory) as session:
        rows = session.execute(select(UnitCrew.officer_id, UnitCrew.unit_id)).all()
        by_officer: dict[int, list[int]] = {}
        for officer_id, unit_id in rows:
            by_officer.setdefault(officer_id, []).append(unit_id)
        assert sorted(len(v) for v in by_officer.values()) == [1, 1]
        changes = session.scalar(
            select(func.count()).select_from(DutyLogEntry).where(DutyLogEntry.kind.like("crew_%"))
        )
        assert changes is not None
        assert changes >= 2


def test_a_new_unit_takes_only_officers_on_no_crew(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    _officer(session, settings, "B-300")
    _officer(session, settings, "B-301")
    ids = {o.badge: o.id for o in people.list_officers(session)}
    body = {"call_sign": "PS-N1", "unit_type": "car", "crew_officer_ids": [ids["B-300"]]}
    made = client.post("/api/v1/units", json=body, headers=sup)
    assert made.status_code == 201, made.text
    assert made.json()["crew"] == ["Camille B-300"]
    again = client.post(
        "/api/v1/units",
        json={
            "call_sign": "PS-N2",
            "unit_type": "car",
            "crew_officer_ids": [ids["B-300"], ids["B-301"]],
        },
        headers=sup,
    )
    assert again.status_code == 422
    error = again.json()["errors"][0]
    assert error["field"] == "crew_officer_ids"
    assert "already on a crew: B-300 on PS-N1" in error["message"]
    unknown = client.post(
        "/api/v1/units",
        json={"call_sign": "PS-N3", "unit_type": "car", "crew_officer_ids": [999999]},
        headers=sup,
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["message"] == "no officer with id [999999]"
    assert [u["call_sign"] for u in client.get("/api/v1/units", headers=sup).json()] == ["PS-N1"]


def test_an_administrator_links_and_disables_officers_through_the_api(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    admin = bearer(make_token(session, settings, make_user(session, Role.ADMIN)))
    me, user = _officer(session, settings, "B-400", linked=False)
    unit = new_unit(client, sup, "PS-P1")
    linked = client.patch("/api/v1/officers/B-400", json={"username": user.username}, headers=admin)
    assert linked.status_code == 200, linked.text
    assert linked.json()["username"] == user.username
    assert client.post(f"/api/v1/units/{unit['id']}/crew/me", headers=me).status_code == 200
    assert set_status(client, me, unit["id"], "unavailable", reason="meal").status_code == 200

    nobody = client.patch("/api/v1/officers/B-400", json={"username": "nobody"}, headers=admin)
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "username"
    left = client.patch("/api/v1/officers/B-400", json={"active": False}, headers=admin)
    assert left.status_code == 200
    assert (left.json()["active"], left.json()["units"]) == (False, [])
    assert client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()["crew"] == []
    refused = set_status(client, me, unit["id"], "available")
    assert refused.status_code == 403  # a disabled officer's account acts for no unit
    assert client.get("/api/v1/units/mine", headers=me).json() == {"officer": None, "units": []}
    assert (
        client.patch("/api/v1/officers/B-400", json={"active": True}, headers=sup).status_code
        == 403
    )
    assert (
        client.patch("/api/v1/officers/NOPE", json={"active": True}, headers=admin).status_code
        == 404
    )
    unlinked = client.patch("/api/v1/officers/B-400", json={"username": None}, headers=admin)
    assert unlinked.json()["username"] is None
