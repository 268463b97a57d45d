"""The demo's live shift drives the real flows: calls, automatic dispatch, movement, closure."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from arverne.demo.live import LiveShift, Trip
from arverne.demo.world import seed_world
from arverne.dispatch.citypack import RoadCity
from arverne.dispatch.models import Assignment, DutyLogEntry, Incident, UnitPosition
from arverne.geo.pack import load_pack
from arverne.store.session import make_engine, make_sessionmaker, session_scope
from tests.conftest import make_settings
from tests.data import TEST_CTX


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
        from arverne.dispatch.models import Unit

        for unit in session.scalars(select(Unit)).all():
            unit.status = "available"
            unit.last_lon, unit.last_lat = town.pack.drive.node_lon[0], town.pack.drive.node_lat[0]
    live = LiveShift(factory, settings, town, speed=120.0, rate_per_hour=120.0, auto_dispatch_s=0.0)
    for _ in range(60):
        live.tick(1.0)
    with session_scope(factory) as session:
        incidents = session.scalars(select(Incident)).all()
        assert len(incidents) >= 60  # about 2 calls per tick
        assert all(i.synthetic for i in incidents)
        closed = [i for i in incidents if i.status == "closed"]
        assert closed, "no simulated incident was ever closed"
        assert all(i.first_arrival_at is not None for i in closed)
        assert session.scalar(select(func.count()).select_from(UnitPosition)) > 20
        open_per_unit = session.execute(
            select(Assignment.unit_id, func.count())
            .where(Assignment.released_at.is_(None))
            .group_by(Assignment.unit_id)
        ).all()
        assert all(n == 1 for _, n in open_per_unit)
        actors = set(session.scalars(select(DutyLogEntry.author)).all())
        assert any("simulateur" in a for a in actors)
    engine.dispose()
