"""A status change reads its incident (with calls and units) and its unit (with its crew)
under lock in one statement each, and writes each changed row in one statement: fewer
round trips and less work on the busiest write path."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from arverne.dispatch import flows, service
from arverne.dispatch.citypack import load_city
from arverne.dispatch.schemas import CallIn, DispatchIn, IncidentIn, StatusIn, UnitIn
from arverne.dispatch.status import UnitStatus, UnitType
from tests.data import TEST_CTX


def _statements(session: Session, work: Any) -> list[str]:
    seen: list[str] = []
    bind = session.get_bind()

    def spy(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(bind, "before_cursor_execute", spy)
    try:
        work()
    finally:
        event.remove(bind, "before_cursor_execute", spy)
    return seen


def _move(session: Session, settings: Any, unit_id: int, status: UnitStatus) -> None:
    flows.set_unit_status(
        session=session,
        ctx=TEST_CTX,
        settings=settings,
        unit_id=unit_id,
        status_in=StatusIn(status=status),
    )


def test_a_status_change_locks_its_incident_and_unit_in_one_read_each(
    session: Session, settings: Any, backend: str
) -> None:
    unit = service.create_unit(session, TEST_CTX, UnitIn(call_sign="LR-1", unit_type=UnitType.CAR))
    _move(session, settings, unit.id, UnitStatus.AVAILABLE)
    body = IncidentIn(type_code="theft", lon=3.0931, lat=45.7791, call=CallIn(channel="phone"))
    incident = flows.intake(
        session=session, ctx=TEST_CTX, settings=settings, city=load_city(settings), incident_in=body
    ).incident
    flows.add_call(
        session=session,
        ctx=TEST_CTX,
        settings=settings,
        incident_id=incident.id,
        call_in=CallIn(channel="emergency"),
    )
    flows.dispatch(
        session=session,
        ctx=TEST_CTX,
        settings=settings,
        incident_id=incident.id,
        dispatch_in=DispatchIn(unit_ids=[unit.id]),
    )
    session.expunge_all()  # nothing loaded before: every read below goes to the database

    en_route = _statements(session, lambda: _move(session, settings, unit.id, UnitStatus.EN_ROUTE))
    selects = [s for s in en_route if s.startswith("SELECT") and "audit_head" not in s]
    # One UPDATE per changed row (the unit, its assignment, the incident's status), with
    # no reload after them.
    updates = sorted(
        s.split(" SET ")[0] for s in en_route if s.startswith("UPDATE") and "audit_head" not in s
    )
    assert updates == ["UPDATE assignments", "UPDATE incidents", "UPDATE units"], en_route
    # The unit's incident with its calls and units, then the unit with its crew: two
    # reads, none of calls, assignments or crews on their own.
    assert len(selects) == 2, selects
    incident_read, unit_read = selects
    assert "(SELECT units.current_incident_id FROM units WHERE units.id =" in incident_read
    assert "JOIN calls" in incident_read
    assert "JOIN assignments" in incident_read
    assert "JOIN (unit_crew" in unit_read
    if backend == "postgresql":  # the lock stays on the rows read, not those joined
        assert incident_read.endswith("FOR UPDATE OF incidents")
        assert unit_read.endswith("FOR UPDATE OF units")
    reread = service.get_incident(session, incident.id)
    assert len(reread.calls) == 2
    assert [a.unit.call_sign for a in reread.assignments] == ["LR-1"]
    assert reread.assignments[0].en_route_at is not None
