"""direct.update and rows.relate: writes of loaded objects that leave nothing to flush."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arverne.dispatch.models import Assignment, Incident, Unit
from arverne.store import direct
from arverne.store.rows import insert_persistent, relate


def _statements(session: Session, work: Any) -> list[str]:
    seen: list[str] = []
    engine = session.get_bind()
    spy = lambda *args: seen.append(" ".join(str(args[2]).split()))  # noqa: E731
    event.listen(engine, "before_cursor_execute", spy)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    return [s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE"))]


def _incident_and_unit(session: Session) -> tuple[Incident, Unit]:
    now = dt.datetime.now(dt.UTC)
    incident = Incident(
        type_code="theft", priority=3, lon=3.08, lat=45.77, created_by="t", first_call_at=now
    )
    unit = Unit(call_sign="D-1", unit_type="car", status="available", capabilities=[])
    session.add_all([incident, unit])
    session.flush()
    return incident, unit


def test_an_update_is_one_statement_and_leaves_nothing_to_flush(session: Session) -> None:
    incident, _unit = _incident_and_unit(session)
    before = incident.updated_at
    now = dt.datetime.now(dt.UTC)
    statements = _statements(
        session,
        lambda: direct.update(session, incident, status="dispatched", first_dispatch_at=now),
    )
    assert len(statements) == 1
    assert statements[0].startswith("UPDATE incidents SET")
    assert "updated_at" in statements[0]  # the column's onupdate stamp, as a flush gives
    assert incident.status == "dispatched"
    assert incident.first_dispatch_at == now
    assert incident.updated_at >= before
    assert not session.dirty
    assert _statements(session, session.flush) == []
    session.expire_all()
    stored = session.execute(
        select(Incident.status, Incident.first_dispatch_at, Incident.updated_at).where(
            Incident.id == incident.id
        )
    ).one()
    assert stored.status == "dispatched"
    assert stored.first_dispatch_at == now
    assert stored.updated_at >= before


def test_other_pending_changes_stay_for_the_next_flush(session: Session) -> None:
    incident, unit = _incident_and_unit(session)
    incident.description = "changed through the ORM"
    direct.update(session, unit, status="en_route")
    assert list(session.dirty) == [incident]
    session.flush()
    session.expire_all()
    assert session.get(Incident, incident.id).description == "changed through the ORM"  # type: ignore[union-attr]
    assert session.get(Unit, unit.id).status == "en_route"  # type: ignore[union-attr]


def test_an_update_names_its_mistakes(session: Session) -> None:
    incident, _unit = _incident_and_unit(session)
    with pytest.raises(ValueError, match="incidents has no column colour"):
        direct.update(session, incident, colour="red")
    with pytest.raises(ValueError, match="Incident is not persistent"):
        direct.update(session, Incident(type_code="theft"), status="queued")


def test_a_related_new_row_joins_the_loaded_collection_without_a_flush(
    session: Session,
) -> None:
    incident, unit = _incident_and_unit(session)
    assert incident.assignments == []  # loaded
    assignment = Assignment(
        incident_id=incident.id,
        unit_id=unit.id,
        dispatched_at=dt.datetime.now(dt.UTC),
        dispatched_by="t",
    )
    insert_persistent(session, assignment)
    relate(assignment, incident=incident, unit=unit)
    assert incident.assignments == [assignment]
    assert assignment.incident is incident
    assert assignment.unit is unit
    assert not session.dirty
    assert _statements(session, session.flush) == []


def test_a_refused_row_is_not_added(session: Session) -> None:
    incident, unit = _incident_and_unit(session)
    now = dt.datetime.now(dt.UTC)
    first = Assignment(
        incident_id=incident.id, unit_id=unit.id, dispatched_at=now, dispatched_by="t"
    )
    insert_persistent(session, first)
    second = Assignment(
        incident_id=incident.id, unit_id=unit.id, dispatched_at=now, dispatched_by="t"
    )
    nested = session.begin_nested()
    with pytest.raises(IntegrityError):  # one open assignment per unit
        insert_persistent(session, second)
    nested.rollback()
    assert second not in session
    assert session.scalars(select(Assignment.id).where(Assignment.unit_id == unit.id)).all() == [
        first.id
    ]
