"""The dispatch lifecycle through the HTTP API: intake to closure, with every step logged."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.dispatch.models import Assignment, DutyLogEntry, Incident, OffenceCode
from arverne.security.models import AuditEntry
from tests.dispatch_data import GARE, JAUDE, NORD, new_incident, new_unit, set_status


def test_full_lifecycle_is_logged_step_by_step(client: TestClient, sup: dict[str, str]) -> None:
    near = new_unit(client, sup, "PS-11", at=JAUDE)
    far = new_unit(client, sup, "PS-12", at=NORD)
    answer = new_incident(
        client,
        sup,
        "burglary_in_progress",
        at=GARE,
        call={"channel": "emergency", "caller_name": "A. Témoin", "caller_phone": "0600000000"},
    )
    incident = answer["incident"]
    assert incident["priority"] == 1
    assert incident["status"] == "queued"
    assert incident["number"].startswith(f"{dt.datetime.now(dt.UTC).year}-")
    assert incident["calls"][0]["caller_name"] is None  # redacted by default
    iid = incident["id"]

    rec = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=sup).json()
    ranked = [c["unit_id"] for c in rec["candidates"]]
    assert ranked == [near["id"], far["id"]]  # Jaude is closer to the station than the north
    etas = [c["eta_s"] for c in rec["candidates"]]
    assert etas == sorted(etas)
    assert all(c["why"] and c["distance_m"] > 0 for c in rec["candidates"])
    best = rec["candidates"][0]["unit_id"]

    response = client.post(
        f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [best]}, headers=sup
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dispatched"
    # The assignment keeps the ETA the dispatcher was shown for that unit.
    (assignment,) = response.json()["assignments"]
    assert assignment["eta_s"] == rec["candidates"][0]["eta_s"]
    assert set_status(client, sup, best, "en_route").status_code == 200
    on_scene = set_status(client, sup, best, "on_scene")
    assert on_scene.status_code == 200
    assert on_scene.json()["eido_primary"] == "NotAvailable"
    detail = client.get(f"/api/v1/incidents/{iid}", headers=sup).json()
    assert detail["status"] == "on_scene"
    assert detail["first_arrival_at"] is not None

    closed = client.post(
        f"/api/v1/incidents/{iid}/close",
        json={"disposition": "arrest", "note": "Deux interpellations"},
        headers=sup,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    unit = client.get(f"/api/v1/units/{best}", headers=sup).json()
    assert unit["status"] == "available"
    assert unit["current_incident_id"] is None

    log = client.get("/api/v1/dutylog", params={"incident_id": iid}, headers=sup).json()
    kinds = [e["kind"] for e in log]
    for kind in ("incident_created", "call_received", "unit_dispatched", "unit_status"):
        assert kind in kinds, kinds
    assert "incident_closed" in kinds


def test_closing_twice_is_a_conflict(client: TestClient, sup: dict[str, str]) -> None:
    iid = new_incident(client, sup, "noise")["incident"]["id"]
    body = {"disposition": "warning"}
    assert client.post(f"/api/v1/incidents/{iid}/close", json=body, headers=sup).status_code == 200
    again = client.post(f"/api/v1/incidents/{iid}/close", json=body, headers=sup)
    assert again.status_code == 409
    assert "closed" in again.json()["detail"]


def test_closure_offence_codes_must_be_known(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    session.add(OffenceCode(code="7151", label="Vol simple", category="atteintes aux biens"))
    session.commit()
    iid = new_incident(client, sup, "noise")["incident"]["id"]
    refused = client.post(
        f"/api/v1/incidents/{iid}/close",
        json={"disposition": "arrest", "offence_codes": ["7151", "9999"]},
        headers=sup,
    )
    assert refused.status_code == 422
    assert "9999" in refused.text
    assert "7151" not in refused.json()["detail"]  # only the unknown code is named
    assert "offence_codes" in refused.text
    assert client.get(f"/api/v1/incidents/{iid}", headers=sup).json()["status"] == "queued"
    body = {"disposition": "arrest", "offence_codes": ["7151"]}
    closed = client.post(f"/api/v1/incidents/{iid}/close", json=body, headers=sup)
    assert closed.status_code == 200
    assert closed.json()["offence_codes"] == ["7151"]


def test_illegal_transition_lists_the_allowed_ones(client: TestClient, sup: dict[str, str]) -> None:
    unit = new_unit(client, sup, "PS-20")
    response = set_status(client, sup, unit["id"], "on_scene")
    assert response.status_code == 409
    problem = response.json()
    assert set(problem["allowed"]) == set(unit["allowed_next"])
    assert "on_scene" not in problem["allowed"]


def test_unavailable_needs_a_reason(client: TestClient, sup: dict[str, str]) -> None:
    unit = new_unit(client, sup, "PS-21")
    response = set_status(client, sup, unit["id"], "unavailable")
    assert response.status_code == 422
    ok = set_status(client, sup, unit["id"], "unavailable", reason="meal")
    assert ok.status_code == 200
    assert ok.json()["status_reason"] == "meal"
    assert ok.json()["eido_primary"] in {"ConditionallyAvailable", "NotAvailable"}


def test_busy_and_off_duty_units_cannot_be_dispatched(
    client: TestClient, sup: dict[str, str]
) -> None:
    unit = new_unit(client, sup, "PS-30")
    off = new_unit(client, sup, "PS-31", status="off_duty")
    first = new_incident(client, sup, "theft")["incident"]["id"]
    second = new_incident(client, sup, "vandalism", at=NORD)["incident"]["id"]
    ok = client.post(
        f"/api/v1/incidents/{first}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert ok.status_code == 200
    busy = client.post(
        f"/api/v1/incidents/{second}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup
    )
    assert busy.status_code == 409
    assert "reassign" in busy.json()["allowed"]
    off_duty = client.post(
        f"/api/v1/incidents/{second}/dispatch", json={"unit_ids": [off["id"]]}, headers=sup
    )
    assert off_duty.status_code == 409
    assert "available" in off_duty.json()["allowed"]


def test_p1_preempts_a_p3_unit_and_the_p3_goes_back_to_the_queue(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    unit = new_unit(client, sup, "PS-40")
    low = new_incident(client, sup, "noise")["incident"]["id"]  # P3
    urgent = new_incident(client, sup, "fight", at=GARE)["incident"]["id"]  # P1
    client.post(f"/api/v1/incidents/{low}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup)

    rec = client.get(f"/api/v1/incidents/{urgent}/recommendations", headers=sup).json()
    cand = next(c for c in rec["candidates"] if c["unit_id"] == unit["id"])
    assert cand["preemptable"] is True
    assert cand["committed_to"] == low

    no_reason = client.post(
        f"/api/v1/incidents/{urgent}/dispatch",
        json={"unit_ids": [unit["id"]], "preempt": True},
        headers=sup,
    )
    assert no_reason.status_code == 422
    taken = client.post(
        f"/api/v1/incidents/{urgent}/dispatch",
        json={"unit_ids": [unit["id"]], "preempt": True, "reason": "rixe en cours"},
        headers=sup,
    )
    assert taken.status_code == 200, taken.text
    assert client.get(f"/api/v1/incidents/{low}", headers=sup).json()["status"] == "queued"
    open_rows = session.scalar(
        select(func.count())
        .select_from(Assignment)
        .where(Assignment.unit_id == unit["id"], Assignment.released_at.is_(None))
    )
    assert open_rows == 1
    log = client.get("/api/v1/dutylog", params={"incident_id": low}, headers=sup).json()
    assert any(e["kind"] == "preemption" and "rixe" in e["text"] for e in log)


def test_p2_cannot_preempt(client: TestClient, sup: dict[str, str]) -> None:
    unit = new_unit(client, sup, "PS-41")
    low = new_incident(client, sup, "noise")["incident"]["id"]
    p2 = new_incident(client, sup, "assault", at=GARE)["incident"]["id"]
    client.post(f"/api/v1/incidents/{low}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup)
    response = client.post(
        f"/api/v1/incidents/{p2}/dispatch",
        json={"unit_ids": [unit["id"]], "preempt": True, "reason": "x"},
        headers=sup,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "preempt"


def test_recommendation_filters_by_capability(client: TestClient, sup: dict[str, str]) -> None:
    car = new_unit(client, sup, "PS-50", at=GARE)
    dog = new_unit(client, sup, "CYNO-1", unit_type="dog", at=NORD)
    iid = new_incident(client, sup, "drug_dealing", at=GARE)["incident"]["id"]
    rec = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=sup).json()
    assert "dog" in rec["required_capabilities"]
    assert [c["unit_id"] for c in rec["candidates"]] == [dog["id"]]
    excluded = {e["unit_id"]: e["reason"] for e in rec["excluded"]}
    assert "dog" in excluded[car["id"]]


def test_duplicates_are_proposed_and_calls_can_be_linked(
    client: TestClient, sup: dict[str, str]
) -> None:
    first = new_incident(client, sup, "noise", at=JAUDE)["incident"]
    near = (JAUDE[0] + 0.0005, JAUDE[1])  # about 40 m east
    second = new_incident(client, sup, "noise", at=near)
    assert [d["incident_id"] for d in second["duplicates"]] == [first["id"]]
    assert second["duplicates"][0]["distance_m"] < 60
    far = new_incident(client, sup, "noise", at=NORD)
    assert far["duplicates"] == []
    other_type = new_incident(client, sup, "traffic_injury", at=near)
    assert first["id"] not in [d["incident_id"] for d in other_type["duplicates"]]

    linked = client.post(
        "/api/v1/incidents",
        json={"type_code": "noise", "link_to": first["id"], "call": {"channel": "phone"}},
        headers=sup,
    )
    assert linked.status_code == 201
    assert linked.json()["linked"] is True
    assert len(linked.json()["incident"]["calls"]) == 2


def test_idempotent_intake_creates_one_incident(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    before = session.scalar(select(func.count()).select_from(Incident))
    body = {"type_code": "theft", "lon": JAUDE[0], "lat": JAUDE[1]}
    headers = {**sup, "Idempotency-Key": "call-7f3a"}
    first = client.post("/api/v1/incidents", json=body, headers=headers)
    again = client.post("/api/v1/incidents", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replay") == "true"
    assert again.json()["incident"]["id"] == first.json()["incident"]["id"]
    assert session.scalar(select(func.count()).select_from(Incident)) == (before or 0) + 1
    changed = client.post("/api/v1/incidents", json={**body, "type_code": "noise"}, headers=headers)
    assert changed.status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type_code": "no_such_type", "lon": JAUDE[0], "lat": JAUDE[1]}, "type_code"),
        ({"type_code": "theft", "lon": 2.35, "lat": 48.85}, "lon/lat"),
        ({"type_code": "theft", "lon": JAUDE[0]}, None),
        ({"type_code": "theft"}, None),
    ],
)
def test_bad_intake_is_refused_and_nothing_is_stored(
    client: TestClient,
    sup: dict[str, str],
    session: Session,
    body: dict[str, object],
    field: str | None,
) -> None:
    before = session.scalar(select(func.count()).select_from(Incident))
    logs = session.scalar(select(func.count()).select_from(DutyLogEntry))
    response = client.post("/api/v1/incidents", json=body, headers=sup)
    assert response.status_code == 422, response.text
    if field:
        assert response.json()["errors"][0]["field"] == field
    assert session.scalar(select(func.count()).select_from(Incident)) == before
    assert session.scalar(select(func.count()).select_from(DutyLogEntry)) == logs


def test_caller_identity_needs_a_reason_and_is_audited(
    client: TestClient, sup: dict[str, str], session: Session
) -> None:
    iid = new_incident(
        client, sup, "theft", call={"caller_name": "Jeanne Essai", "caller_phone": "0473000000"}
    )["incident"]["id"]
    url = f"/api/v1/incidents/{iid}"
    refused = client.get(url, params={"include_personal": True}, headers=sup)
    assert refused.status_code == 422
    shown = client.get(
        url, params={"include_personal": True}, headers={**sup, "X-Access-Reason": "rappel"}
    )
    assert shown.status_code == 200
    assert shown.json()["calls"][0]["caller_name"] == "Jeanne Essai"
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "call.read_personal")
    ).first()
    assert entry is not None
    assert entry.reason == "rappel"


def test_positions_feed_recommendation(client: TestClient, sup: dict[str, str]) -> None:
    a = new_unit(client, sup, "PS-60", at=NORD)
    b = new_unit(client, sup, "PS-61", at=JAUDE)
    iid = new_incident(client, sup, "theft", at=NORD)["incident"]["id"]
    first = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=sup).json()
    assert first["candidates"][0]["unit_id"] == a["id"]
    now = dt.datetime.now(dt.UTC).isoformat()
    moved = client.post(
        f"/api/v1/units/{b['id']}/positions",
        json={"lon": NORD[0], "lat": NORD[1] - 0.0001, "at": now, "speed_mps": 0},
        headers=sup,
    )
    assert moved.status_code == 202
    client.post(
        f"/api/v1/units/{a['id']}/positions", json={"lon": JAUDE[0], "lat": JAUDE[1]}, headers=sup
    )
    second = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=sup).json()
    assert second["candidates"][0]["unit_id"] == b["id"]


def test_duty_log_corrections_point_at_the_original(
    client: TestClient, sup: dict[str, str]
) -> None:
    note = client.post("/api/v1/dutylog", json={"text": "Patrouille rue Blatin"}, headers=sup)
    assert note.status_code == 201
    fix = client.post(
        "/api/v1/dutylog",
        json={"text": "Patrouille rue Montlosier", "corrects_id": note.json()["id"]},
        headers=sup,
    )
    assert fix.status_code == 201
    assert fix.json()["corrects_id"] == note.json()["id"]


def test_response_time_kpis(client: TestClient, sup: dict[str, str]) -> None:
    unit = new_unit(client, sup, "PS-70")
    iid = new_incident(client, sup, "fight")["incident"]["id"]
    client.post(f"/api/v1/incidents/{iid}/dispatch", json={"unit_ids": [unit["id"]]}, headers=sup)
    set_status(client, sup, unit["id"], "en_route")
    set_status(client, sup, unit["id"], "on_scene")
    kpi = client.get("/api/v1/kpi/response-times", headers=sup)
    assert kpi.status_code == 200, kpi.text
    body = kpi.json()
    p1 = body["groups"]["P1"]
    assert p1["total"]["n"] == 1
    assert p1["total"]["target_s"] > 0
    assert p1["total"]["within_target"] == 1.0  # arrived within seconds
    assert p1["dispatch_to_arrival"]["p50_s"] >= 0


def test_recommendations_rank_by_eta_and_say_who_is_left_out_and_why(
    client: TestClient, sup: dict[str, str]
) -> None:
    new_unit(client, sup, "PS-50", at=GARE)  # a car: no firearms
    new_unit(client, sup, "BAC-51", unit_type="bac", at=NORD)
    new_unit(client, sup, "BAC-52", unit_type="bac", at=JAUDE)
    blind = client.post(
        "/api/v1/units", json={"call_sign": "BAC-53", "unit_type": "bac"}, headers=sup
    ).json()
    assert set_status(client, sup, blind["id"], "available").status_code == 200
    far = client.get("/api/v1/units", headers=sup).json()
    far_id = next(u["id"] for u in far if u["call_sign"] == "BAC-51")
    half_hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).isoformat()
    moved = client.post(
        f"/api/v1/units/{far_id}/positions",
        json={"lon": NORD[0], "lat": NORD[1], "at": half_hour_ago},
        headers=sup,
    )
    assert moved.status_code in (200, 202), moved.text
    iid = new_incident(client, sup, "armed_person", at=GARE)["incident"]["id"]

    everyone = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=sup).json()
    assert [c["call_sign"] for c in everyone["candidates"]] == ["BAC-52", "BAC-51"]
    assert everyone["required_capabilities"] == ["firearms"]
    first, second = everyone["candidates"]
    assert first["eta_s"] <= second["eta_s"]
    assert "has firearms" in first["why"]
    assert "min old" not in first["why"]
    assert "position 30 min old" in second["why"]
    reasons = {e["call_sign"]: e["reason"] for e in everyone["excluded"]}
    assert reasons == {"PS-50": "lacks firearms", "BAC-53": "no known position"}

    best = client.get(
        f"/api/v1/incidents/{iid}/recommendations", params={"limit": 1}, headers=sup
    ).json()
    assert [c["call_sign"] for c in best["candidates"]] == ["BAC-52"]
    assert best["excluded"] == everyone["excluded"]  # the limit cuts candidates only
