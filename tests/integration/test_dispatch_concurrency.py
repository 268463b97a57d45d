"""Concurrent dispatchers never double-commit a unit; retried intakes never duplicate.

These tests use a real, separately migrated database with committed transactions and one
connection per worker, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from arverne.dispatch import flows, service
from arverne.dispatch.citypack import load_city
from arverne.dispatch.errors import IncidentClosedError
from arverne.dispatch.models import Assignment, Incident, Unit
from arverne.dispatch.schemas import CloseIn, DispatchIn, IncidentIn, StatusIn, UnitIn
from arverne.dispatch.status import UnitStatus, UnitType
from arverne.errors import ConflictError
from arverne.security.policy import Role
from arverne.store.session import make_sessionmaker
from arverne.store.types import utcnow
from arverne.web.app import create_app
from tests.conftest import make_settings
from tests.data import TEST_CTX, bearer, make_token, make_user

WORKERS = 24
UNITS = 6


def _setup(factory: sessionmaker[Session], settings_url: str) -> tuple[list[int], list[int]]:
    settings = make_settings(settings_url)
    city = load_city(settings)
    with factory() as session:
        units = []
        for n in range(UNITS):
            unit = service.create_unit(
                session, TEST_CTX, UnitIn(call_sign=f"C-{n}", unit_type=UnitType.CAR)
            )
            flows.set_unit_status(
                session=session,
                ctx=TEST_CTX,
                settings=settings,
                unit_id=unit.id,
                status_in=StatusIn(status=UnitStatus.AVAILABLE),
            )
            units.append(unit.id)
        incidents = []
        for n in range(WORKERS):
            result = flows.intake(
                session=session,
                ctx=TEST_CTX,
                settings=settings,
                city=city,
                incident_in=IncidentIn(
                    type_code="assault", lon=3.08 + n * 1e-3, lat=45.775 + n * 1e-4
                ),
            )
            incidents.append(result.incident.id)
        session.commit()
    return units, incidents


def test_twenty_four_dispatchers_racing_for_six_units(
    real_engine: Engine, migrated_database_url: str
) -> None:
    factory = make_sessionmaker(real_engine)
    settings = make_settings(migrated_database_url)
    units, incidents = _setup(factory, migrated_database_url)
    rng = random.Random(7)
    wanted = {iid: rng.sample(units, 2) for iid in incidents}
    barrier = threading.Barrier(WORKERS)
    outcomes: dict[int, str] = {}

    def worker(incident_id: int) -> None:
        barrier.wait()
        with factory() as session:
            try:
                flows.dispatch(
                    session=session,
                    ctx=TEST_CTX,
                    settings=settings,
                    incident_id=incident_id,
                    dispatch_in=DispatchIn(unit_ids=wanted[incident_id]),
                )
                session.commit()
                outcomes[incident_id] = "ok"
            except ConflictError:
                session.rollback()
                outcomes[incident_id] = "busy"
            except OperationalError:  # deadlock victim or lock timeout: refused, not half-done
                session.rollback()
                outcomes[incident_id] = "retry"

    threads = [threading.Thread(target=worker, args=(iid,)) for iid in incidents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == WORKERS, "a worker hung"
    winners = [iid for iid, o in outcomes.items() if o == "ok"]
    assert 1 <= len(winners) <= UNITS // 2
    assert Counter(outcomes.values())["busy"] >= WORKERS - UNITS

    with factory() as session:
        open_rows = session.scalars(
            select(Assignment).where(Assignment.released_at.is_(None))
        ).all()
        per_unit = Counter(a.unit_id for a in open_rows)
        assert all(n == 1 for n in per_unit.values()), per_unit
        # Winners hold exactly the units they asked for; losers hold nothing (no half-writes).
        by_incident: dict[int, set[int]] = {}
        for a in open_rows:
            by_incident.setdefault(a.incident_id, set()).add(a.unit_id)
        assert set(by_incident) == set(winners)
        for iid in winners:
            assert by_incident[iid] == set(wanted[iid])
        for unit in session.scalars(select(Unit)).all():
            holder = next((a.incident_id for a in open_rows if a.unit_id == unit.id), None)
            assert unit.current_incident_id == holder
            assert unit.status == ("dispatched" if holder else "available")
        statuses = dict(session.execute(select(Incident.id, Incident.status)).all())
        for iid in incidents:
            assert statuses[iid] == ("dispatched" if iid in winners else "queued")


def test_the_database_itself_refuses_a_second_open_assignment(
    real_engine: Engine, migrated_database_url: str
) -> None:
    factory = make_sessionmaker(real_engine)
    units, incidents = _setup(factory, migrated_database_url)
    with factory() as session:
        now = utcnow()
        session.add(
            Assignment(
                incident_id=incidents[0], unit_id=units[0], dispatched_at=now, dispatched_by="a"
            )
        )
        session.commit()
        session.add(
            Assignment(
                incident_id=incidents[1], unit_id=units[0], dispatched_at=now, dispatched_by="b"
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        # A released assignment does not block a new one.
        first = session.scalars(select(Assignment)).one()
        first.released_at = now
        session.add(
            Assignment(
                incident_id=incidents[1], unit_id=units[0], dispatched_at=now, dispatched_by="c"
            )
        )
        session.commit()


def test_concurrent_retries_with_one_idempotency_key_make_one_incident(
    real_engine: Engine, migrated_database_url: str
) -> None:
    settings = make_settings(migrated_database_url)
    factory = make_sessionmaker(real_engine)
    with factory() as session:
        token = make_token(session, settings, make_user(session, Role.DISPATCHER))
    app = create_app(settings, engine=real_engine)
    body = {"type_code": "theft", "lon": 3.083, "lat": 45.777}
    headers = {**bearer(token), "Idempotency-Key": "retry-storm-1"}
    results: list[tuple[int, int]] = []
    barrier = threading.Barrier(20)
    with TestClient(app, base_url="https://testserver") as client:

        def worker() -> None:
            barrier.wait()
            response = client.post("/api/v1/incidents", json=body, headers=headers)
            results.append((response.status_code, response.json()["incident"]["id"]))

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert len(results) == 20
    assert {code for code, _ in results} == {201}
    assert len({iid for _, iid in results}) == 1
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_a_locked_read_sees_what_was_committed_after_an_unlocked_read(
    real_engine: Engine, migrated_database_url: str, backend: str
) -> None:
    """The dispatch route reads the incident first (for ETAs), then locks it: the lock
    must refresh what the first read saw, or a unit could go to a just-closed incident."""
    if backend == "sqlite":
        pytest.skip("SQLite write transactions are serialised whole; no read can go stale")
    factory = make_sessionmaker(real_engine)
    settings = make_settings(migrated_database_url)
    units, incidents = _setup(factory, migrated_database_url)
    with factory() as dispatcher, factory() as other:
        seen = service.get_incident(dispatcher, incidents[0], related=False)
        assert seen.status == "queued"
        flows.close_incident(
            session=other,
            ctx=TEST_CTX,
            settings=settings,
            incident_id=incidents[0],
            close_in=CloseIn(disposition="false_alarm"),
        )
        other.commit()
        with pytest.raises(IncidentClosedError):
            flows.dispatch(
                session=dispatcher,
                ctx=TEST_CTX,
                settings=settings,
                incident_id=incidents[0],
                dispatch_in=DispatchIn(unit_ids=[units[0]]),
            )
        dispatcher.rollback()
    with factory() as session:
        assert session.scalars(select(Assignment)).all() == []
        assert session.get_one(Unit, units[0]).status == "available"
