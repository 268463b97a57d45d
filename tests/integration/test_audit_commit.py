"""Audit entries and live events are chained at commit, in commit order, with real commits.

On PostgreSQL the chain head is locked inside ``COMMIT`` by deferred triggers (migration
0012): a transaction that has written its entries but not yet committed holds no lock
that another writer waits for.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text

from arverne.dispatch.models import Event, EventStaging
from arverne.dispatch.service import emit
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.models import AuditEntry, AuditEntryStaging
from arverne.store.session import make_sessionmaker

CTX = AuditContext(actor="tester", actor_id=3, request_id="r-commit", client_addr="10.0.0.1")


def _write(engine: Engine, action: str, **details: Any) -> None:
    with make_sessionmaker(engine)() as session:
        audit.record(session, CTX, action=action, object_type="thing", details=details)
        emit(session, kind="test.commit", permission="dutylog:read", payload={"action": action})
        session.commit()


def test_awkward_content_chains_and_verifies(real_engine: Engine) -> None:
    """The database hashes the same text as the application (quotes, accents, the split's
    own marks, nested keys named like the hashed fields)."""
    _write(
        real_engine,
        "awkward",
        text='say "hi" ,"prev_hash":"" ","seq":0} 🚓 Hôtel',
        prev_hash="",
        seq=7,
        nested={"prev_hash": "", "reason": None},
    )
    _write(real_engine, "plain")
    with make_sessionmaker(real_engine)() as session:
        report = audit.verify_chain(session)
        assert report.ok, report.problem
        assert report.entries == 2
        stored = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [e.action for e in stored] == ["awkward", "plain"]
        assert stored[0].details["text"] == 'say "hi" ,"prev_hash":"" ","seq":0} 🚓 Hôtel'
        assert [e.payload["action"] for e in session.scalars(select(Event))] == [
            "awkward",
            "plain",
        ]
        # Staging rows exist only inside their transaction.
        for staging in (AuditEntryStaging, EventStaging):
            assert session.scalar(select(func.count()).select_from(staging)) == 0


def test_a_rolled_back_transaction_chains_nothing(real_engine: Engine) -> None:
    with make_sessionmaker(real_engine)() as session:
        audit.record(session, CTX, action="undone")
        audit.write_pending(session)  # written (and on PostgreSQL chained) ...
        session.rollback()  # ... then undone with the rest
    _write(real_engine, "kept")
    with make_sessionmaker(real_engine)() as session:
        assert [e.action for e in session.scalars(select(AuditEntry))] == ["kept"]
        assert audit.verify_chain(session).ok


def test_a_commit_does_not_wait_for_another_transactions_entries(
    real_engine: Engine, backend: str
) -> None:
    """Transaction A has written its audit entry and live event and is about to commit;
    B, which started later, commits meanwhile without waiting for any lock, and the chain
    and the event ids follow the order of the commits: B's before A's."""
    if backend == "sqlite":
        pytest.skip("a SQLite transaction holds the database's only write lock until it ends")
    a_at_commit, b_committed = threading.Event(), threading.Event()

    def pause_a(_connection: Any) -> None:  # fires just before the DBAPI COMMIT
        if threading.current_thread().name == "slow-writer":
            a_at_commit.set()
            b_committed.wait(10)

    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            _write(real_engine, "slow")
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    event.listen(real_engine, "commit", pause_a)
    thread = threading.Thread(target=slow_writer, name="slow-writer")
    thread.start()
    try:
        assert a_at_commit.wait(10), "the slow writer never reached its commit"
        with make_sessionmaker(real_engine)() as session:
            session.execute(text("SET LOCAL lock_timeout = '2s'"))  # fail, not hang
            audit.record(session, CTX, action="fast")
            emit(session, kind="test.commit", permission="dutylog:read", payload={"action": "fast"})
            session.commit()
    finally:
        b_committed.set()
        thread.join(10)
        event.remove(real_engine, "commit", pause_a)
    assert errors == []
    with make_sessionmaker(real_engine)() as session:
        report = audit.verify_chain(session)
        assert report.ok, report.problem
        chained = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        assert chained == ["fast", "slow"]
        published = session.scalars(select(Event.payload).order_by(Event.id)).all()
        assert [p["action"] for p in published] == ["fast", "slow"]
