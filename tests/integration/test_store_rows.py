"""insert_persistent: Core inserts that leave ordinary persistent ORM objects behind."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, inspect, select
from sqlalchemy.orm import Session, registry

from arverne.dispatch.models import Call, Incident
from arverne.store.rows import insert_persistent


def _incident() -> Incident:
    now = dt.datetime.now(dt.UTC)
    return Incident(
        type_code="theft", priority=3, lon=3.08, lat=45.77, created_by="t", first_call_at=now,
        calls=[], assignments=[],
    )  # fmt: skip


def test_rows_are_inserted_with_defaults_and_foreign_keys(session: Session) -> None:
    incident = _incident()
    call = Call(
        incident=incident, channel="phone", received_at=incident.first_call_at, taken_by="t"
    )
    statements: list[str] = []
    engine = session.get_bind()
    spy = lambda *args: statements.append(str(args[2]).split()[0])  # noqa: E731
    event.listen(engine, "before_cursor_execute", spy)
    try:
        insert_persistent(session, incident, call)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    # Two INSERTs (after the test harness's SAVEPOINT): no flush, no reload.
    assert [s for s in statements if s != "SAVEPOINT"] == ["INSERT", "INSERT"]
    assert incident.id is not None
    assert call.incident_id == incident.id
    assert incident.status == "queued"  # the column default, applied in Python
    assert incident.offence_codes == []
    for state in (inspect(incident), inspect(call)):
        assert state.persistent
        assert not state.expired_attributes
    assert not session.new
    assert not session.dirty
    stored = session.execute(select(Incident.status, Incident.synthetic)).all()
    assert ("queued", False) in stored


def test_later_changes_flush_as_updates(session: Session) -> None:
    incident = _incident()
    insert_persistent(session, incident)
    incident.status = "dispatched"
    session.flush()
    session.expire_all()
    assert session.get(Incident, incident.id).status == "dispatched"  # type: ignore[union-attr]
    assert session.scalar(select(Incident.id).where(Incident.id == incident.id)) == incident.id


def test_a_database_side_default_must_be_set_explicitly(session: Session) -> None:
    metadata = MetaData()
    table = Table(
        "t",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("n", Integer, server_default="1"),
    )

    class Row:
        pass

    registry().map_imperatively(Row, table)
    with pytest.raises(ValueError, match="database-side default"):
        insert_persistent(session, Row())


def test_a_run_of_objects_of_one_class_is_one_statement(session: Session, backend: str) -> None:
    incidents = [_incident() for _ in range(5)]
    calls = [
        Call(incident=i, channel="phone", received_at=i.first_call_at, taken_by="t")
        for i in incidents
    ]
    statements: list[str] = []
    engine = session.get_bind()
    spy = lambda *args: statements.append(str(args[2]).split()[0])  # noqa: E731
    event.listen(engine, "before_cursor_execute", spy)
    try:
        insert_persistent(session, *incidents, *calls)
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    ids = [i.id for i in incidents]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert [c.incident_id for c in calls] == ids
    if backend == "postgresql":  # multi-row INSERTs (SQLite's driver sends row by row)
        assert [s for s in statements if s != "SAVEPOINT"] == ["INSERT", "INSERT"]
    stored = dict(
        session.execute(select(Call.id, Call.incident_id).where(Call.incident_id.in_(ids))).all()
    )
    assert sorted(stored.values()) == ids
    assert {c.id: c.incident_id for c in calls} == stored
