"""The audit log is append-only and hash-chained; tampering is detected and named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from arverne.cli import app as cli_app
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.models import AuditEntry
from arverne.store.session import make_engine, make_sessionmaker, session_scope

CTX = AuditContext(actor="tester", actor_id=None, request_id="r1", client_addr="127.0.0.1")


def _append(session: Session, n: int) -> None:
    for i in range(n):
        audit.record(
            session,
            CTX,
            action="test.event",
            object_type="thing",
            object_id=i,
            reason="because",
            details={"i": i, "name": "Hôtel de police"},
        )
    session.commit()


def _drop_guard(connection: Connection) -> None:
    """Remove the append-only triggers, as an attacker with database access could."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        connection.execute(text("DROP TRIGGER audit_entries_no_update"))
        connection.execute(text("DROP TRIGGER audit_entries_no_delete"))


def test_chain_is_intact_after_appends(session: Session) -> None:
    _append(session, 5)
    report = audit.verify_chain(session)
    assert report.ok
    assert report.entries >= 5


def test_entries_chain_to_each_other(session: Session) -> None:
    queued = audit.record(session, CTX, action="chain-a")
    audit.record(session, CTX, action="chain-b")
    stored = select(AuditEntry).where(AuditEntry.action.in_(["chain-a", "chain-b"]))
    assert queued.seq is None  # chained at commit (or write_pending), in one batch
    assert session.scalars(stored).all() == []
    audit.write_pending(session)  # readable from now on, on both databases
    first, second = session.scalars(stored.order_by(AuditEntry.seq)).all()
    assert (first.action, second.action) == ("chain-a", "chain-b")
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert audit.verify_chain(session).ok


def test_the_entries_of_a_transaction_are_one_insert_for_the_server(
    session: Session, backend: str
) -> None:
    """PostgreSQL runs one INSERT for a transaction's entries, not one per entry: the rows
    travel as one JSON document (SQLite takes them in one executemany call, a C loop in
    the same process)."""
    sent: list[tuple[str, Any]] = []

    def spy(*args: Any) -> None:
        if "INSERT INTO audit_entries" in args[2]:
            sent.append((args[2], args[3]))  # the statement and its parameters

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", spy)
    try:
        _append(session, 3)
    finally:
        event.remove(bind, "before_cursor_execute", spy)
    assert len(sent) == 1
    if backend == "postgresql":
        statement, parameters = sent[0]
        assert "json_populate_recordset" in statement
        assert len(json.loads(parameters["rows"])) == 3  # one statement, three rows
    assert audit.verify_chain(session).ok


def test_one_commit_writes_every_field_of_every_entry(session: Session) -> None:
    """Entries are written in one batch: fields empty in one must not vanish in others."""
    audit.record(session, CTX, action="a")  # no object, no reason, no details
    audit.record(
        session, CTX, action="b", object_type="thing", object_id=7, reason="why", details={"k": 1}
    )
    session.rollback()  # a rolled-back transaction writes nothing
    audit.record(session, CTX, action="c")
    audit.record(session, CTX, action="d", object_type="thing", object_id=8, reason="because")
    session.commit()
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(["a", "b", "c", "d"]))
    ).all()
    assert [(r.action, r.object_id, r.reason) for r in rows] == [
        ("c", None, None),
        ("d", "8", "because"),
    ]
    assert rows[1].seq == rows[0].seq + 1
    assert audit.verify_chain(session).ok


def test_database_refuses_update_and_delete(session: Session, connection: Connection) -> None:
    _append(session, 1)
    with pytest.raises(DBAPIError, match="append-only"), connection.begin_nested():
        connection.execute(text("UPDATE audit_entries SET actor = 'mallory'"))
    with pytest.raises(DBAPIError, match="append-only"), connection.begin_nested():
        connection.execute(text("DELETE FROM audit_entries"))


def test_altered_entry_is_named(session: Session, connection: Connection) -> None:
    _append(session, 6)
    target = session.execute(text("SELECT max(seq) - 3 FROM audit_entries")).scalar_one()
    _drop_guard(connection)
    connection.execute(
        text("UPDATE audit_entries SET reason = 'nothing to see' WHERE seq = :s"), {"s": target}
    )
    report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_seq == target
    assert f"#{target} was altered" in (report.problem or "")


def test_deleted_entry_is_named(session: Session, connection: Connection) -> None:
    _append(session, 6)
    target = session.execute(text("SELECT max(seq) - 2 FROM audit_entries")).scalar_one()
    _drop_guard(connection)
    connection.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": target})
    report = audit.verify_chain(session)
    assert report.first_bad_seq == target
    assert "missing" in (report.problem or "")


def test_truncated_tail_is_detected(session: Session, connection: Connection) -> None:
    _append(session, 4)
    last = session.execute(text("SELECT max(seq) FROM audit_entries")).scalar_one()
    _drop_guard(connection)
    connection.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": last})
    report = audit.verify_chain(session)
    assert report.first_bad_seq == last
    assert "removed" in (report.problem or "")


def test_cli_verify_fails_and_names_the_tampered_entry(migrated_database_url: str) -> None:
    runner = CliRunner()
    env = {"ARVERNE_DATABASE_URL": migrated_database_url}
    eng = make_engine(migrated_database_url)
    with session_scope(make_sessionmaker(eng)) as sess:
        _append(sess, 5)
    ok = runner.invoke(cli_app, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 entries" in ok.output

    raw = create_engine(eng.url)
    with raw.begin() as conn:
        _drop_guard(conn)
        conn.execute(text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 3"))
    raw.dispose()
    eng.dispose()
    broken = runner.invoke(cli_app, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert "entry #3 was altered" in broken.output
