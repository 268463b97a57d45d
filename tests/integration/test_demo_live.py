"""The demo's live shift drives the real flows: calls, automatic dispatch, movement, closure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.demo.live import LiveShift, Trip
from arverne.demo.roster import CUSTODY, HOSPITAL
from arverne.demo.scene import CREW_CTX, FOUND_ON_SCENE
from arverne.demo.service import seed_accounts, seed_agent_officer
from arverne.demo.world import seed_world
from arverne.dispatch import crew, flows
from arverne.dispatch.citypack import RoadCity
from arverne.dispatch.models import Assignment, DutyLogEntry, Incident, Unit, UnitPosition
from arverne.dispatch.schemas import CallIn, DispatchIn, IncidentIn
from arverne.geo.pack import load_pack
from arverne.security.models import User
from arverne.store.session import make_engine, make_sessionmaker, session_scope
from tests.conftest import make_settings
from tests.data import TEST_CTX

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def town(small_city_pack: Path) -> RoadCity:
    return RoadCity(load_pack(small_city_pack))


def test_trip_interpolates_along_the_polyline() -> None:
    import numpy as np

    trip = Trip(
        points=np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), times=np.array([0.0, 10.0, 30.0])
    )
    trip.elapsed = 20.0
    assert trip.position() == pytest.approx((1.0, 0.5))
    assert not trip.done
    trip.elapsed = 31.0
    assert trip.done


def test_a_simulated_shift_runs_through_the_public_flows(
    migrated_database_url: str, town: RoadCity
) -> None:
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    with session_scope(factory) as session:
        # Put every unit on duty whatever the hour, so the test does not depend on the clock.
        seed_world(session, settings, TEST_CTX, town.pack, history_years=0)
        for unit in session.scalars(select(Unit)).all():
            unit.status = "available"
            unit.last_lon, unit.last_lat = town.pack.drive.node_lon[0], town.pack.drive.node_lat[0]
    # A morning start: the two simulated hours stay inside the day shift.
    live = LiveShift(
        factory,
        settings,
        town,
        speed=120.0,
        rate_per_hour=120.0,
        auto_dispatch_s=0.0,
        start=dt.datetime(2026, 3, 10, 8, 0, tzinfo=PARIS),
    )
    for _ in range(60):
        live.tick(1.0)
    with session_scope(factory) as session:
        incidents = session.scalars(select(Incident)).all()
        assert len(incidents) >= 60  # about 2 calls per tick
        assert all(i.synthetic for i in incidents)
        closed = [i for i in incidents if i.status == "closed"]
        assert closed, "no simulated incident was ever closed"
        assert all(i.first_arrival_at is not None for i in closed)
        assert (session.scalar(select(func.count()).select_from(UnitPosition)) or 0) > 20
        open_per_unit = session.execute(
            select(Assignment.unit_id, func.count())
            .where(Assignment.released_at.is_(None))
            .group_by(Assignment.unit_id)
        ).all()
        assert all(n == 1 for _, n in open_per_unit)
        actors = set(session.scalars(select(DutyLogEntry.author)).all())
        assert any("simulateur" in a for a in actors)
    engine.dispose()


def _world(
    factory: sessionmaker[Session], settings: Settings, town: RoadCity, on_duty: set[str]
) -> None:
    """Seed the demo units; those of ``on_duty`` call signs or shifts are free in town."""
    with session_scope(factory) as session:
        seed_world(session, settings, TEST_CTX, town.pack, history_years=0)
        for unit in session.scalars(select(Unit)).all():
            if unit.shift in on_duty or unit.call_sign in on_duty:
                unit.status = "available"
                unit.last_lon = town.pack.drive.node_lon[0]
                unit.last_lat = town.pack.drive.node_lat[0]
            else:
                unit.status = "off_duty"


def _quiet_shift(
    factory: sessionmaker[Session],
    settings: Settings,
    town: RoadCity,
    *,
    speed: float,
    start: tuple[int, int, int],
    **options: Any,
) -> LiveShift:
    """A live shift without simulated calls nor automatic dispatch, starting on March
    ``start`` = (day, hour, minute) 2026 in Paris: only the units the test sets up move."""
    day, hour, minute = start
    return LiveShift(
        factory,
        settings,
        town,
        speed=speed,
        rate_per_hour=0.0,
        auto_dispatch_s=1e9,
        start=dt.datetime(2026, 3, day, hour, minute, tzinfo=PARIS),
        **options,
    )


def _incident(
    factory: sessionmaker[Session],
    settings: Settings,
    town: RoadCity,
    *,
    code: str,
    node: int,
    call_sign: str,
) -> int:
    """A call of type ``code`` at a road node of the town, dispatched to ``call_sign``."""
    with session_scope(factory) as session:
        result = flows.intake(
            session=session,
            ctx=TEST_CTX,
            settings=settings,
            city=town,
            incident_in=IncidentIn(
                type_code=code,
                lon=float(town.pack.drive.node_lon[node]),
                lat=float(town.pack.drive.node_lat[node]),
                call=CallIn(),
            ),
        )
        unit_id = session.scalar(select(Unit.id).where(Unit.call_sign == call_sign))
        assert unit_id is not None
        flows.dispatch(
            session=session,
            ctx=TEST_CTX,
            settings=settings,
            incident_id=result.incident.id,
            dispatch_in=DispatchIn(unit_ids=[unit_id]),
        )
        return result.incident.id


def _statuses(factory: sessionmaker[Session]) -> dict[str, tuple[str, str | None]]:
    with session_scope(factory) as session:
        return {
            u.call_sign: (u.status, u.shift)
            for u in session.scalars(select(Unit).where(Unit.synthetic.is_(True))).all()
        }


def _moves(factory: sessionmaker[Session], call_sign: str) -> list[tuple[int, str]]:
    """(log id, new status) of a unit's status changes, oldest first."""
    with session_scope(factory) as session:
        unit_id = session.scalar(select(Unit.id).where(Unit.call_sign == call_sign))
        rows = session.scalars(
            select(DutyLogEntry)
            .where(DutyLogEntry.unit_id == unit_id, DutyLogEntry.kind == "unit_status")
            .order_by(DutyLogEntry.id)
        ).all()
        return [(r.id, r.data["to"]) for r in rows]


def test_the_live_shift_changes_shift_at_14h(migrated_database_url: str, town: RoadCity) -> None:
    settings = make_settings(migrated_database_url)
    assert settings.zone == PARIS
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    _world(factory, settings, town, {"day"})
    busy = _incident(factory, settings, town, code="noise", node=12, call_sign="PS-D1")
    live = _quiet_shift(
        factory,
        settings,
        town,
        speed=60.0,  # one simulated minute a tick
        start=(10, 13, 55),
        transport_probability=0.0,
    )
    for _ in range(4):  # 13:56 .. 13:59: the day shift stays on
        live.tick(1.0)
    before = _statuses(factory)
    assert all(s == "off_duty" for s, shift in before.values() if shift != "day")
    assert all(s != "off_duty" for s, shift in before.values() if shift == "day")

    live.tick(1.0)  # 14:00: the evening shift takes over
    after = _statuses(factory)
    assert all(s == "available" for s, shift in after.values() if shift == "evening")
    assert all(s == "off_duty" for s, shift in after.values() if shift == "night")
    assert after["PS-D1"][0] in {"en_route", "on_scene"}  # finishing its intervention
    with session_scope(factory) as session:
        change = session.scalars(
            select(DutyLogEntry).where(DutyLogEntry.text.like("Relève%"))
        ).one()
        assert change.data["event"] == "shift_change"
        assert change.text.startswith("Relève : équipe du soir prend le service (11 unités)")
        assert "équipe de jour relevée (11 unités, dont 1 termine son intervention)" in change.text
        evening = session.scalars(select(Unit).where(Unit.shift == "evening")).all()
        assert all((u.last_lon, u.last_lat) == (u.station_lon, u.station_lat) for u in evening)

    for _ in range(15):  # the free day crews drive back to their station
        live.tick(1.0)
    now = _statuses(factory)
    assert all(s == "off_duty" for c, (s, shift) in now.items() if shift == "day" and c != "PS-D1")
    assert all(s != "off_duty" for s, shift in now.values() if shift == "evening")

    for _ in range(90):
        if _statuses(factory)["PS-D1"][0] == "off_duty":
            break
        live.tick(1.0)
    assert _statuses(factory)["PS-D1"][0] == "off_duty"
    with session_scope(factory) as session:
        incident = session.get(Incident, busy)
        assert incident is not None
        assert incident.status == "closed"
        closed_at = session.scalar(
            select(DutyLogEntry.id).where(
                DutyLogEntry.incident_id == busy, DutyLogEntry.kind == "incident_closed"
            )
        )
    moves = _moves(factory, "PS-D1")
    assert [to for _, to in moves][-2:] == ["on_scene", "off_duty"]
    assert closed_at is not None
    assert moves[-1][0] > closed_at  # off duty only once the intervention was over
    engine.dispose()


def test_units_take_people_to_custody_and_to_hospital(
    migrated_database_url: str, town: RoadCity
) -> None:
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    _world(factory, settings, town, {"PS-D1", "PS-D2"})
    fight = _incident(factory, settings, town, code="fight", node=12, call_sign="PS-D1")
    crash = _incident(factory, settings, town, code="traffic_injury", node=20, call_sign="PS-D2")
    live = _quiet_shift(
        factory,
        settings,
        town,
        speed=120.0,
        start=(10, 8, 0),
        transport_probability=1.0,
        requalify=False,  # the fight stays a fight
    )
    for _ in range(120):
        if (
            _statuses(factory)["PS-D1"][0] == "available"
            and _statuses(factory)["PS-D2"][0] == "available"
        ):
            break
        live.tick(1.0)
    with session_scope(factory) as session:
        done = {i.id: i for i in session.scalars(select(Incident)).all()}
        assert done[fight].status == "closed"
        assert done[fight].disposition == "arrest"
        assert done[crash].status == "closed"
        transports = {
            a.incident_id: a
            for a in session.scalars(select(Assignment).where(Assignment.transport_to.is_not(None)))
        }
        assert transports[fight].transport_to == CUSTODY[0]
        assert transports[crash].transport_to == HOSPITAL[0]
        assert all(a.released_at is not None for a in transports.values())
    # Custody: the crew hands over at the Hôtel de police (its own station), does the
    # paperwork there, then patrols again; the hospital crew is free as it leaves the CHU.
    custody = [to for _, to in _moves(factory, "PS-D1")]
    assert custody[-4:] == ["on_scene", "transporting", "at_station", "available"]
    hospital = _moves(factory, "PS-D2")
    assert [to for _, to in hospital][-2:] == ["on_scene", "transporting"]
    with session_scope(factory) as session:
        released = session.scalars(
            select(DutyLogEntry).where(
                DutyLogEntry.incident_id == crash, DutyLogEntry.kind == "unit_released"
            )
        ).one()  # the closure of the incident freed the last unit out
        assert released.id > hospital[-1][0]
    engine.dispose()


def test_a_crew_on_scene_requalifies_the_incident(
    migrated_database_url: str, town: RoadCity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(FOUND_ON_SCENE, "noise", (1.0, "fight", 1, "sur place : rixe"))
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    _world(factory, settings, town, {"PS-D1"})
    noise = _incident(factory, settings, town, code="noise", node=12, call_sign="PS-D1")
    live = _quiet_shift(
        factory,
        settings,
        town,
        speed=120.0,
        start=(10, 8, 0),
        transport_probability=0.0,
    )
    for _ in range(60):
        if _statuses(factory)["PS-D1"][0] == "on_scene":
            break
        live.tick(1.0)
    with session_scope(factory) as session:
        incident = session.get(Incident, noise)
        assert incident is not None
        assert (incident.type_code, incident.priority) == ("fight", 1)
        line = session.scalars(
            select(DutyLogEntry).where(
                DutyLogEntry.incident_id == noise, DutyLogEntry.kind == "incident_updated"
            )
        ).one()
        assert line.author == CREW_CTX.actor
        assert "P3 → P1" in line.text
        assert "sur place : rixe" in line.text
    engine.dispose()


def test_a_demo_restarted_in_another_shift_puts_the_roster_in_order(
    migrated_database_url: str, town: RoadCity
) -> None:
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    _world(factory, settings, town, {"day"})  # seeded (or stopped) during the day
    live = _quiet_shift(
        factory,
        settings,
        town,
        speed=60.0,
        start=(10, 15, 0),  # restarted in the evening
        transport_probability=0.0,
    )
    live.tick(1.0)
    first = _statuses(factory)
    assert all(s == "available" for s, shift in first.values() if shift == "evening")
    for _ in range(20):
        live.tick(1.0)
    now = _statuses(factory)
    assert all(s == "off_duty" for s, shift in now.values() if shift in ("day", "night"))
    assert all(s == "available" for s, shift in now.values() if shift == "evening")
    with session_scope(factory) as session:
        (line,) = session.scalars(
            select(DutyLogEntry).where(DutyLogEntry.kind == "shift_change")
        ).all()
        assert line.text.startswith("Reprise de la démo : équipe du soir en service")
    live.tick(1.0)  # in order now: nothing more is logged
    with session_scope(factory) as session:
        count = select(func.count()).select_from(DutyLogEntry)
        assert session.scalar(count.where(DutyLogEntry.kind == "shift_change")) == 1
    engine.dispose()


def test_the_simulation_leaves_alone_a_unit_a_person_crews(
    migrated_database_url: str, town: RoadCity
) -> None:
    settings = make_settings(migrated_database_url)
    engine = make_engine(migrated_database_url)
    factory = make_sessionmaker(engine)
    _world(factory, settings, town, {"day"})
    with session_scope(factory) as session:
        seed_accounts(session=session, ctx=TEST_CTX)
        assert seed_agent_officer(session=session, ctx=TEST_CTX)
        assert not seed_agent_officer(session=session, ctx=TEST_CTX)  # once
        agent = session.scalar(select(User.id).where(User.username == "agent"))
        unit_id = session.scalar(select(Unit.id).where(Unit.call_sign == "PS-D2"))
        assert agent is not None
        assert unit_id is not None
        crew.sign_on(
            session=session, ctx=TEST_CTX, settings=settings, unit_id=unit_id, user_id=agent
        )
    _incident(factory, settings, town, code="noise", node=12, call_sign="PS-D2")
    _incident(factory, settings, town, code="noise", node=14, call_sign="PS-D1")
    # Moves so far (the seed puts the real clock's shift on duty): none may follow.
    moved = _moves(factory, "PS-D2")
    live = _quiet_shift(factory, settings, town, speed=60.0, start=(10, 13, 50))
    for _ in range(12):  # 13:51 .. 14:02: a shift change on the way
        live.tick(1.0)
    after = _statuses(factory)
    assert after["PS-D1"][0] in {"en_route", "on_scene"}  # the simulation drives PS-D1...
    assert after["PS-D2"][0] == "dispatched"  # ...never the unit Camille Agent crews
    assert _moves(factory, "PS-D2") == moved  # no status change since its dispatch
    with session_scope(factory) as session:
        change = session.scalars(
            select(DutyLogEntry).where(DutyLogEntry.kind == "shift_change")
        ).one()
        assert change.data["incoming"] == "evening"
        assert unit_id not in change.data["relieved"] + change.data["finishing"]
    engine.dispose()
