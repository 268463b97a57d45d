"""Status checks of committed units (contrôle de situation): the timer, its expiry in the
duty log (once, even with several server processes), the crew's answer or its absence,
and the refusals; through the API, the CLI and the background round."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.dispatch.checks import raise_due_checks
from arverne.dispatch.models import DutyLogEntry, Unit
from arverne.security.policy import Role
from arverne.store.session import make_sessionmaker, session_scope
from arverne.store.types import utcnow
from arverne.web.scheduler import check_once
from tests.conftest import app_client, at_once, make_settings
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import JAUDE, new_incident, new_unit, set_status
from tests.integration.conftest import Cli


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _lines(client: TestClient, headers: dict[str, str], kind: str) -> list[dict[str, Any]]:
    rows = client.get(f"/api/v1/dutylog?kind={kind}&limit=500", headers=headers).json()
    return [r for r in rows if r["kind"] == kind]


def _on_scene(client: TestClient, sup: dict[str, str], call_sign: str) -> tuple[int, int]:
    unit = new_unit(client, sup, call_sign, at=JAUDE)
    iid = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    assert set_status(client, sup, unit["id"], "on_scene").status_code == 200
    return unit["id"], iid


def _age(session: Session, unit_id: int, minutes: float) -> None:
    """Move the unit's status and check times ``minutes`` back, as if time had passed."""
    session.expire_all()  # the API wrote through another session
    unit = session.get(Unit, unit_id)
    assert unit is not None
    for field in ("status_changed_at", "checked_at", "check_missed_at", "check_alerted_at"):
        if getattr(unit, field) is not None:
            setattr(unit, field, getattr(unit, field) - dt.timedelta(minutes=minutes))
    session.flush()
    session.expire_all()


def test_the_timer_runs_from_the_status_change_and_an_answer_restarts_it(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    unit = new_unit(client, sup, "PS-C1", at=JAUDE)
    assert unit["check_due_at"] is None  # available: no timer
    iid = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200
    board = client.get(f"/api/v1/units/{unit['id']}", headers=sup).json()
    assert board["status"] == "dispatched"
    due = _when(board["check_due_at"]) - _when(board["status_changed_at"])
    assert due == dt.timedelta(minutes=3)  # sent but not yet en route
    on_scene = set_status(client, sup, unit["id"], "on_scene").json()
    due = _when(on_scene["check_due_at"]) - _when(on_scene["status_changed_at"])
    assert due == dt.timedelta(minutes=20)
    (row,) = client.get("/api/v1/units/checks", headers=sup).json()
    assert (row["call_sign"], row["incident_id"], row["missed"]) == ("PS-C1", iid, False)
    assert -1200 <= row["overdue_s"] < -1190
    assert client.get("/api/v1/units/checks?due=true", headers=sup).json() == []
    assert raise_due_checks(session, settings) == []  # not due yet

    _age(session, unit["id"], 25)  # on scene for 25 minutes without a word
    (row,) = client.get("/api/v1/units/checks?due=true", headers=sup).json()
    assert 295 <= row["overdue_s"] < 310
    assert row["alerted"] is False
    raised = raise_due_checks(session, settings)
    assert [u.call_sign for u in raised] == ["PS-C1"]
    assert raise_due_checks(session, settings) == []  # one line per expiry
    (line,) = _lines(client, sup, "status_check_due")
    assert line["incident_id"] == iid
    assert line["unit_id"] == unit["id"]
    assert line["text"] == "PS-C1 : contrôle de situation dû (sur les lieux depuis 25 min)"
    assert line["author"] == "system"
    assert client.get("/api/v1/units/checks", headers=sup).json()[0]["alerted"] is True

    answer = client.post(
        f"/api/v1/units/{unit['id']}/check",
        json={"outcome": "ok", "note": "interpellation en cours, RAS"},
        headers=sup,
    )
    assert answer.status_code == 200, answer.text
    out = answer.json()
    assert _when(out["check_due_at"]) - _when(out["checked_at"]) == dt.timedelta(minutes=20)
    assert out["check_missed_at"] is None
    assert client.get("/api/v1/units/checks?due=true", headers=sup).json() == []
    (line,) = _lines(client, sup, "status_check")
    assert line["text"] == (
        "PS-C1 : contrôle de situation, RAS (sur les lieux depuis 25 min)"
        " — interpellation en cours, RAS"
    )
    assert line["data"]["outcome"] == "ok"
    assert line["data"]["overdue_s"] >= 295
    # The next expiry, 20 minutes after the answer, is logged again.
    _age(session, unit["id"], 21)
    assert [u.call_sign for u in raise_due_checks(session, settings)] == ["PS-C1"]
    assert len(_lines(client, sup, "status_check_due")) == 2


def test_no_answer_stays_an_alarm_until_the_crew_answers_or_moves(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    quiet, iid = _on_scene(client, sup, "PS-C2")
    _on_scene(client, sup, "PS-C3")
    _age(session, quiet, 22)
    missed = client.post(
        f"/api/v1/units/{quiet}/check", json={"outcome": "no_answer"}, headers=sup
    ).json()
    assert missed["check_missed_at"] is not None
    rows = client.get("/api/v1/units/checks", headers=sup).json()
    assert [(r["call_sign"], r["missed"]) for r in rows] == [("PS-C2", True), ("PS-C3", False)]
    (line,) = _lines(client, sup, "status_check_missed")
    assert (
        line["text"] == "PS-C2 : contrôle de situation, SANS RÉPONSE (sur les lieux depuis 22 min)"
    )
    assert line["incident_id"] == iid
    # A later answer clears the alarm...
    answered = client.post(f"/api/v1/units/{quiet}/check", json={"outcome": "ok"}, headers=sup)
    assert answered.json()["check_missed_at"] is None
    # ... and so does a status report, which is a sign of life too.
    client.post(f"/api/v1/units/{quiet}/check", json={"outcome": "no_answer"}, headers=sup)
    moved = set_status(client, sup, quiet, "transporting", destination="CHU Gabriel-Montpied")
    assert moved.json()["check_missed_at"] is None
    assert _when(moved.json()["check_due_at"]) - _when(
        moved.json()["status_changed_at"]
    ) == dt.timedelta(minutes=30)


def test_refusals_say_what_is_allowed(
    client: TestClient, sup: dict[str, str], session: Session, settings: Settings
) -> None:
    free = new_unit(client, sup, "PS-C4", at=JAUDE)
    refused = client.post(f"/api/v1/units/{free['id']}/check", json={"outcome": "ok"}, headers=sup)
    assert refused.status_code == 409
    problem = refused.json()
    assert "PS-C4 is available" in problem["detail"]
    assert set(problem["allowed"]) == {"dispatched", "en_route", "on_scene", "transporting"}
    busy, _iid = _on_scene(client, sup, "PS-C5")
    bad = client.post(f"/api/v1/units/{busy}/check", json={"outcome": "maybe"}, headers=sup)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.outcome"
    assert (
        client.post("/api/v1/units/9999/check", json={"outcome": "ok"}, headers=sup).status_code
        == 404
    )
    analyst = bearer(make_token(session, settings, make_user(session, Role.ANALYST)))
    denied = client.post(f"/api/v1/units/{busy}/check", json={"outcome": "ok"}, headers=analyst)
    assert denied.status_code == 403
    assert _lines(client, sup, "status_check") == []  # nothing written by the refusals


def test_a_city_sets_its_own_timers(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], session: Session
) -> None:
    own = settings.model_copy(update={"status_check_minutes": '{"on_scene": 0, "unavailable": 45}'})
    for client in app_client(own, engine, session_factory):
        sup = bearer(make_token(session, own, make_user(session, Role.SUPERVISOR, Role.DISPATCHER)))
        busy, _iid = _on_scene(client, sup, "PS-C6")
        assert client.get(f"/api/v1/units/{busy}", headers=sup).json()["check_due_at"] is None
        meal = new_unit(client, sup, "PS-C7", at=JAUDE)
        out = set_status(client, sup, meal["id"], "unavailable", reason="meal").json()
        assert _when(out["check_due_at"]) - _when(out["status_changed_at"]) == dt.timedelta(
            minutes=45
        )
        refused = client.post(f"/api/v1/units/{busy}/check", json={"outcome": "ok"}, headers=sup)
        assert refused.status_code == 409
        assert "on_scene" not in refused.json()["allowed"]


def test_concurrent_rounds_log_each_expiry_once(
    real_engine: Engine, migrated_database_url: str
) -> None:
    """Several server processes run the background round at the same moment: every
    expiry is logged exactly once."""
    settings = make_settings(migrated_database_url)
    factory = make_sessionmaker(real_engine)
    long_ago = utcnow() - dt.timedelta(minutes=40)
    with session_scope(factory) as session:
        for i in range(6):
            unit = Unit(call_sign=f"PS-R{i}", unit_type="car", status="on_scene")
            unit.status_changed_at = long_ago
            session.add(unit)
        session.add(Unit(call_sign="PS-R9", unit_type="car", status="available"))
    counts = at_once(8, lambda: check_once(factory, settings))
    assert sum(counts) == 6
    with session_scope(factory) as session:
        lines = session.scalars(
            select(DutyLogEntry).where(DutyLogEntry.kind == "status_check_due")
        ).all()
        assert sorted(line.text.split(" ")[0] for line in lines) == [f"PS-R{i}" for i in range(6)]
    assert check_once(factory, settings) == 0


def test_status_checks_from_the_terminal(cli: Cli) -> None:
    assert cli("unit", "add", "PS-T1", "--type", "car", "--station", "3.083,45.777")[0] == 0
    assert cli("unit", "status", "PS-T1", "available")[0] == 0
    code, out = cli("unit", "check", "PS-T1")
    assert code == 2
    assert "only units in a status with a timer" in out
    assert cli("incident", "create", "--type", "fight", "--at", "3.083,45.777")[0] == 0
    assert cli("incident", "dispatch", "1", "PS-T1")[0] == 0
    code, out = cli("unit", "checks")
    assert code == 0, out
    assert "PS-T1" in out
    assert "dispatched" in out
    assert "in 0:0" in out
    code, out = cli("unit", "checks", "--due")
    assert code == 0
    assert "no unit in a status with a timer is due" in out
    code, out = cli("unit", "check", "PS-T1", "--no-answer", "--note", "radio muette")
    assert code == 0, out
    assert "no answer, logged" in out
    code, out = cli("unit", "checks")
    assert "NO ANSWER" in out
    code, out = cli("dutylog", "--incident", "1")
    assert "SANS RÉPONSE" in out
    assert "radio muette" in out
