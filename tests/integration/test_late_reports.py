"""Reports sent late by a crew terminal that was offline: status changes keep the time
the crew made them (arrival times, the duty log says they came late), notes keep theirs,
and a request sent again with the same ``Idempotency-Key`` is applied once; refusals
(future, too old, before the unit's last change) write nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import flows, idempotency
from arverne.dispatch.idempotency import Answer
from arverne.dispatch.models import Assignment, DutyLogEntry, Incident, Unit, UnitPosition
from arverne.dispatch.schemas import StatusIn
from arverne.store.session import make_sessionmaker, session_scope
from arverne.store.types import utcnow
from tests.conftest import at_once, make_settings
from tests.data import TEST_CTX
from tests.dispatch_data import JAUDE, new_incident, new_unit, set_status


def _iso(value: dt.datetime) -> str:
    return value.isoformat()


def _lines(client: TestClient, headers: dict[str, str], kind: str) -> list[dict[str, Any]]:
    rows = client.get(f"/api/v1/dutylog?kind={kind}&limit=500", headers=headers).json()
    return [r for r in rows if r["kind"] == kind]


def _dispatched_minutes_ago(
    client: TestClient, sup: dict[str, str], session: Session, call_sign: str, minutes: int
) -> tuple[int, int, dt.datetime]:
    """A unit dispatched to a new incident, with the dispatch moved ``minutes`` back."""
    unit = new_unit(client, sup, call_sign, at=JAUDE)
    iid = new_incident(client, sup, "fight", at=JAUDE)["incident"]["id"]
    sent = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert sent.status_code == 200, sent.text
    then = utcnow() - dt.timedelta(minutes=minutes)
    session.execute(update(Unit).where(Unit.id == unit["id"]).values(status_changed_at=then))
    session.execute(
        update(Assignment).where(Assignment.incident_id == iid).values(dispatched_at=then)
    )
    session.execute(
        update(Incident)
        .where(Incident.id == iid)
        .values(first_dispatch_at=then, created_at=then - dt.timedelta(minutes=1))
    )
    session.commit()
    return unit["id"], iid, then


def test_a_late_status_change_keeps_the_time_the_crew_made_it(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    uid, iid, dispatched = _dispatched_minutes_ago(client, sup, session, "PS-L1", 10)
    en_route = dispatched + dt.timedelta(minutes=1)
    on_scene = dispatched + dt.timedelta(minutes=6)
    assert set_status(client, sup, uid, "en_route", at=_iso(en_route)).status_code == 200
    answer = set_status(client, sup, uid, "on_scene", at=_iso(on_scene))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "on_scene"

    view = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()
    (assignment,) = view["assignments"]
    assert dt.datetime.fromisoformat(assignment["en_route_at"]) == en_route
    assert dt.datetime.fromisoformat(assignment["arrived_at"]) == on_scene
    assert dt.datetime.fromisoformat(view["first_arrival_at"]) == on_scene
    # The response time counts to when the crew arrived, not to when the phone got back.
    kpi = client.get("/api/v1/kpi/response-times", headers=sup).json()
    assert kpi["groups"][f"P{view['priority']}"]["dispatch_to_arrival"]["p50_s"] == 360

    lines = [ln for ln in _lines(client, sup, "unit_status") if ln["unit_id"] == uid]
    arrived = next(ln for ln in lines if ln["data"]["to"] == "on_scene")
    local = on_scene.astimezone(Settings().zone).strftime("%H:%M:%S")
    assert arrived["text"].endswith(f"(signalé à {local}, reçu en différé)")
    assert dt.datetime.fromisoformat(arrived["data"]["reported_at"]) == on_scene
    # The duty log stays in the order things were received.
    assert dt.datetime.fromisoformat(arrived["at"]) > on_scene

    # Clearing late frees the unit with the crew's time too.
    cleared = dispatched + dt.timedelta(minutes=9)
    assert set_status(client, sup, uid, "available", at=_iso(cleared)).status_code == 200
    view = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()
    assert dt.datetime.fromisoformat(view["assignments"][0]["released_at"]) == cleared
    (released,) = [ln for ln in _lines(client, sup, "unit_released") if ln["unit_id"] == uid]
    assert "reçu en différé" in released["text"]


def test_refused_late_changes_write_nothing(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    uid, _, dispatched = _dispatched_minutes_ago(client, sup, session, "PS-L2", 20)
    before = session.scalar(select(func.count()).select_from(DutyLogEntry))

    future = set_status(client, sup, uid, "en_route", at=_iso(utcnow() + dt.timedelta(minutes=9)))
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "at"
    assert "future" in future.json()["errors"][0]["message"]

    old = set_status(client, sup, uid, "en_route", at=_iso(utcnow() - dt.timedelta(minutes=40)))
    assert old.status_code == 422
    assert "more than 30 minutes old" in old.json()["errors"][0]["message"]
    assert "radio" in old.json()["errors"][0]["message"]

    earlier = set_status(
        client, sup, uid, "en_route", at=_iso(dispatched - dt.timedelta(minutes=3))
    )
    assert earlier.status_code == 409, earlier.text
    assert "PS-L2 changed status at" in earlier.json()["detail"]

    session.expire_all()
    assert session.get(Unit, uid).status == "dispatched"  # type: ignore[union-attr]
    assert session.scalar(select(func.count()).select_from(DutyLogEntry)) == before


def test_a_phone_clock_a_little_behind_places_the_change_after_the_last_one(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    uid, iid, dispatched = _dispatched_minutes_ago(client, sup, session, "PS-L6", 5)
    # A phone 90 s slow: "en route" pressed just after the dispatch reads as before it.
    sent = set_status(client, sup, uid, "en_route", at=_iso(dispatched - dt.timedelta(seconds=90)))
    assert sent.status_code == 200, sent.text
    view = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()
    assert dt.datetime.fromisoformat(view["assignments"][0]["en_route_at"]) == dispatched


def test_a_status_change_sent_again_with_its_key_is_applied_once(
    client: TestClient, sup: dict[str, str]
) -> None:
    uid = new_unit(client, sup, "PS-L3")["id"]
    body = {"status": "unavailable", "reason": "meal"}
    key = {"Idempotency-Key": "terminal-1-0001", **sup}
    url = f"/api/v1/units/{uid}/status"
    first = client.post(url, json=body, headers=key)
    assert first.status_code == 200, first.text
    again = client.post(url, json=body, headers=key)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    meals = [
        ln
        for ln in _lines(client, sup, "unit_status")
        if ln["unit_id"] == uid and ln["data"]["to"] == "unavailable"
    ]
    assert len(meals) == 1

    other = client.post(url, json={"status": "available"}, headers=key)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    # A refused request does not use its key up: sent again, it is tried again.
    refused = client.post(
        url, json={"status": "on_scene"}, headers={**sup, "Idempotency-Key": "k2"}
    )
    assert refused.status_code == 409
    assert set_status(client, sup, uid, "available").status_code == 200


def test_notes_and_positions_sent_again_are_written_once(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    uid = new_unit(client, sup, "PS-L4")["id"]
    written = utcnow() - dt.timedelta(minutes=50)
    note = {"text": "Témoin parti vers la gare", "unit_id": uid, "at": _iso(written)}
    headers = {"Idempotency-Key": "terminal-1-0002", **sup}
    first = client.post("/api/v1/dutylog", json=note, headers=headers)
    assert first.status_code == 201, first.text
    assert dt.datetime.fromisoformat(first.json()["data"]["reported_at"]) == written
    again = client.post("/api/v1/dutylog", json=note, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert [ln["text"] for ln in _lines(client, sup, "note")].count(note["text"]) == 1
    # A key is one request's: the same key for a position is refused.
    here = {"lon": JAUDE[0], "lat": JAUDE[1], "at": _iso(written)}
    reused = client.post(f"/api/v1/units/{uid}/positions", json=here, headers=headers)
    assert reused.status_code == 422

    headers["Idempotency-Key"] = "terminal-1-0003"
    for _ in range(3):
        sent = client.post(f"/api/v1/units/{uid}/positions", json=here, headers=headers)
        assert sent.status_code == 202, sent.text
    count = select(func.count()).select_from(UnitPosition).where(UnitPosition.unit_id == uid)
    assert session.scalar(count) == 1


def test_concurrent_sends_of_one_key_change_the_status_once(
    real_engine: Engine, migrated_database_url: str
) -> None:
    """Eight sends of one key at the same moment (a terminal retrying while the first
    is still in flight): one changes the status, the others get its answer."""
    settings = make_settings(migrated_database_url)
    factory = make_sessionmaker(real_engine)
    with session_scope(factory) as setup:
        unit = Unit(call_sign="PS-L5", unit_type="car", status="available")
        setup.add(unit)
        setup.flush()
        uid = unit.id
    body = StatusIn.model_validate({"status": "unavailable", "reason": "meal"})
    fingerprint = idempotency.fingerprint("POST status", body.model_dump(mode="json"))

    def send() -> bool:
        with session_scope(factory) as own:
            if idempotency.claim(own, 1, "same-key", fingerprint) is not None:
                return False
            flows.set_unit_status(
                session=own, ctx=TEST_CTX, settings=settings, unit_id=uid, status_in=body
            )
            idempotency.settle(own, 1, "same-key", Answer(200, {"ok": True}))
            return True

    applied = at_once(8, send)  # raises the first error (a 409 would be one)
    assert applied.count(True) == 1
    with session_scope(factory) as check:
        lines = select(func.count()).select_from(DutyLogEntry).where(DutyLogEntry.unit_id == uid)
        assert check.scalar(lines) == 1
