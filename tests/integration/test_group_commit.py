"""Group commit: jobs share a transaction, each stays all-or-nothing.

These tests use a real, separately migrated database where commits are real. On SQLite
the batches run on the event loop with the writer gate held (a second
:class:`WriterGate` on the same lock file stands for another server process); on
PostgreSQL they run on the event loop through an asyncio engine, and only intakes use
them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, make_url, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from arverne.dispatch import dutylog
from arverne.dispatch.models import DutyLogEntry, Incident, Unit
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.store.batch import GroupCommit
from arverne.store.gate import WriterGate, gate_of
from arverne.store.session import make_sessionmaker
from arverne.web.app import create_app
from tests.conftest import make_settings, run_in_new_loop
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import new_unit

T = TypeVar("T")
CTX = AuditContext(actor="test")


@pytest.fixture
def group(real_engine: Engine, backend: str) -> GroupCommit:
    """A group commit as the app makes it (audit rows written once per batch)."""
    gate = gate_of(real_engine)
    assert (gate is not None) == (backend == "sqlite")
    return GroupCommit(
        make_sessionmaker(real_engine), real_engine, gate=gate, finish=audit.write_batch_rows
    )


def _run(group: GroupCommit, scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``scenario()`` on a fresh loop, then close the group's connection in it."""

    async def closing() -> T:
        try:
            return await scenario()
        finally:
            await group.aclose()

    return run_in_new_loop(closing)


def _note(text_: str, *, fail: bool = False) -> Callable[[Session], int]:
    """A job that writes a duty-log line and an audit entry, then maybe fails."""

    def work(session: Session) -> int:
        line = dutylog.log(session, CTX, kind="note", text=text_)
        audit.record(
            session, CTX, action="note.create", object_type="dutylog", details={"text": text_}
        )
        if fail:
            raise InvalidInputError("text", "is refused by this test")
        return line.id

    return work


def _notes(engine: Engine) -> list[str]:
    with make_sessionmaker(engine)() as session:
        return list(session.scalars(select(DutyLogEntry.text).order_by(DutyLogEntry.id)))


def _count(engine: Engine, model: type) -> int:
    with make_sessionmaker(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_jobs_share_one_commit_and_a_failing_job_rolls_back_alone(
    group: GroupCommit, real_engine: Engine
) -> None:
    async def scenario() -> list[Any]:
        return await asyncio.gather(
            group.run(_note("first")),
            group.run(_note("refused", fail=True)),
            group.run(_note("third")),
            return_exceptions=True,
        )

    audit_writes: list[str] = []

    def count_audit_writes(*args: Any) -> None:
        # The entries themselves on SQLite, their staging twins on PostgreSQL.
        if "INSERT INTO audit_entries" in args[2]:  # the statement
            audit_writes.append(args[2])

    # On the Engine class: PostgreSQL batches run on an asyncio engine of their own.
    event.listen(Engine, "before_cursor_execute", count_audit_writes)
    try:
        first, refused, third = _run(group, scenario)
    finally:
        event.remove(Engine, "before_cursor_execute", count_audit_writes)
    assert len(audit_writes) == 1  # the batch's entries are written (and chained) at once
    assert isinstance(first, int)
    assert isinstance(third, int)
    assert isinstance(refused, InvalidInputError)
    assert (group.stats.batches, group.stats.jobs, group.stats.failed_jobs) == (1, 3, 1)
    assert _notes(real_engine) == ["first", "third"]
    assert _count(real_engine, AuditEntry) == 2  # the refused job's entry went with it
    with make_sessionmaker(real_engine)() as session:
        report = audit.verify_chain(session)
        # Chained once for the batch, in the order of the jobs.
        chained = list(session.scalars(select(AuditEntry.details).order_by(AuditEntry.seq)))
    assert report.ok, report.problem
    assert report.entries == 2
    assert [d["text"] for d in chained] == ["first", "third"]


def _notes_together(calls: list[int]) -> Callable[[Session, list[str]], list[Any]]:
    """A handler of items queued together: one duty-log line per item (``calls`` counts
    its calls); "refused" is refused in its place, "boom" breaks the whole call, and
    "bad sql" breaks it in the database (which aborts the transaction on PostgreSQL)."""

    def together(session: Session, items: list[str]) -> list[Any]:
        calls.append(len(items))
        results: list[Any] = []
        for item in items:
            if item == "boom":
                raise RuntimeError("boom")
            if item == "bad sql":
                session.execute(text("SELECT * FROM no_such_table"))
            if item == "refused":
                results.append(InvalidInputError("text", "is refused by this test"))
                continue
            results.append(_note(item)(session))
        return results

    return together


def test_items_queued_together_are_handled_in_one_call(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    calls: list[int] = []
    together = _notes_together(calls)

    async def scenario() -> list[Any]:
        return await asyncio.gather(
            *(group.run_together(together, t) for t in ("a", "refused", "b", "c")),
            return_exceptions=True,
        )

    statements: list[str] = []

    def spy(*args: Any) -> None:
        statements.append(args[2])

    # On the Engine class: PostgreSQL batches run on an asyncio engine of their own.
    event.listen(Engine, "before_cursor_execute", spy)
    try:
        a, refused, b, c = _run(group, scenario)
    finally:
        event.remove(Engine, "before_cursor_execute", spy)
    savepoints = [s for s in statements if "SAVEPOINT" in s.upper()]
    if backend == "postgresql":  # the call is the whole batch: the transaction guards it
        assert savepoints == []
    else:  # SQLite keeps the savepoint (free there: no round trip)
        assert savepoints
    assert calls == [4]  # one call for the four items
    assert all(isinstance(answer, int) for answer in (a, b, c))
    assert isinstance(refused, InvalidInputError)  # to its caller only; it wrote nothing
    assert _notes(real_engine) == ["a", "b", "c"]
    assert (group.stats.batches, group.stats.together, group.stats.apart) == (1, 4, 0)
    with make_sessionmaker(real_engine)() as session:
        assert audit.verify_chain(session).entries == 3


def test_a_failed_call_together_is_taken_again_item_by_item(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    """The call raised: its savepoint is rolled back, each item is handled alone, and
    the failure stays with the item that caused it."""
    calls: list[int] = []
    together = _notes_together(calls)

    async def scenario() -> list[Any]:
        return await asyncio.gather(
            *(group.run_together(together, t) for t in ("a", "boom", "b")),
            return_exceptions=True,
        )

    a, boom, b = _run(group, scenario)
    assert calls == [3, 1, 1, 1]
    assert isinstance(a, int)
    assert isinstance(b, int)
    assert isinstance(boom, RuntimeError)
    assert _notes(real_engine) == ["a", "b"]  # written once each, not twice
    assert (group.stats.batches, group.stats.apart, group.stats.failed_jobs) == (1, 3, 1)
    with make_sessionmaker(real_engine)() as session:
        assert audit.verify_chain(session).entries == 2


def test_a_call_together_broken_in_the_database_is_taken_again_item_by_item(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    """The batch was that one call, in the transaction itself: the database error rolls
    the transaction back, and the items are taken again in a new one."""
    calls: list[int] = []
    together = _notes_together(calls)

    async def scenario() -> list[Any]:
        return await asyncio.gather(
            *(group.run_together(together, t) for t in ("a", "bad sql", "b")),
            return_exceptions=True,
        )

    a, bad, b = _run(group, scenario)
    assert calls == [3, 1, 1, 1]
    assert isinstance(a, int)
    assert isinstance(b, int)
    assert isinstance(bad, DBAPIError)
    assert _notes(real_engine) == ["a", "b"]
    assert (group.stats.batches, group.stats.apart, group.stats.failed_jobs) == (1, 3, 1)
    with make_sessionmaker(real_engine)() as session:
        assert audit.verify_chain(session).entries == 2


def test_a_failure_writing_the_batch_rows_fails_every_job(
    real_engine: Engine, backend: str
) -> None:
    """If the final step (the audit chain) fails, no job is told it succeeded."""

    def broken_finish(session: Session, rows: list[Any]) -> None:
        audit.write_batch_rows(session, rows)
        raise RuntimeError("disk full while chaining")

    gate = gate_of(real_engine)
    broken = GroupCommit(
        make_sessionmaker(real_engine), real_engine, gate=gate, finish=broken_finish
    )

    async def scenario() -> list[Any]:
        return await asyncio.gather(
            broken.run(_note("a")), broken.run(_note("b")), return_exceptions=True
        )

    answers = _run(broken, scenario)
    assert all(isinstance(answer, RuntimeError) for answer in answers), answers
    assert _notes(real_engine) == []
    assert _count(real_engine, AuditEntry) == 0


def test_a_failed_commit_fails_every_job_and_stores_nothing(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("made with SQLite's deferred foreign keys")

    def breaks_the_commit(session: Session) -> None:
        # A foreign key checked only at COMMIT: the savepoint is released, the commit fails.
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        dutylog.log(session, CTX, kind="note", text="dangling", incident_id=10**9)

    async def scenario() -> list[Any]:
        return await asyncio.gather(
            group.run(_note("innocent")), group.run(breaks_the_commit), return_exceptions=True
        )

    answers = _run(group, scenario)
    assert all(isinstance(answer, IntegrityError) for answer in answers), answers
    assert _notes(real_engine) == []  # no caller was told of a success that was not kept
    assert _count(real_engine, AuditEntry) == 0
    assert group.stats.failed_jobs == 2

    async def afterwards() -> int:
        return await group.run(_note("later"))

    assert isinstance(_run(group, afterwards), int)  # the next batch works
    assert _notes(real_engine) == ["later"]


def test_jobs_queue_while_another_process_writes_then_commit_together(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite's writer gate")
    database = make_url(str(real_engine.url)).database
    other_process = WriterGate(Path(f"{database}-writer.lock"), 5.0)
    hold_s = 0.4

    async def scenario() -> tuple[list[Any], float, float]:
        other_process.acquire()
        started = time.monotonic()
        first = asyncio.ensure_future(group.run(_note("one")))
        await asyncio.sleep(0.05)  # the batch now waits for the lock; the loop runs
        rest = [asyncio.ensure_future(group.run(_note(f"n{i}"))) for i in range(5)]
        tick = time.monotonic()
        await asyncio.sleep(0)
        loop_lag = time.monotonic() - tick
        await asyncio.sleep(hold_s)
        other_process.release()
        answers = await asyncio.gather(first, *rest)
        return answers, time.monotonic() - started, loop_lag

    answers, waited, loop_lag = _run(group, scenario)
    assert all(isinstance(answer, int) for answer in answers)
    assert waited >= hold_s
    assert loop_lag < 0.05
    # The jobs queued while the batch waited for the lock are written with it.
    assert (group.stats.batches, group.stats.jobs, group.stats.largest) == (1, 6, 6)
    assert _notes(real_engine) == ["one", "n0", "n1", "n2", "n3", "n4"]


def test_postgresql_batches_wait_for_the_database_without_blocking_the_loop(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite answers without network waits; its gate wait is tested above")
    hold_s = 0.3

    def slow(session: Session) -> int:
        session.execute(text(f"SELECT pg_sleep({hold_s})"))  # the database is busy
        return _note("slow")(session)

    async def scenario() -> tuple[list[Any], float, float]:
        first = asyncio.ensure_future(group.run(slow))
        await asyncio.sleep(0.05)  # the first batch is waiting for the database
        rest = [asyncio.ensure_future(group.run(_note(f"n{i}"))) for i in range(4)]
        tick = time.monotonic()
        await asyncio.sleep(0.01)
        loop_lag = time.monotonic() - tick - 0.01
        started = time.monotonic()
        answers = await asyncio.gather(first, *rest)
        return answers, loop_lag, time.monotonic() - started

    answers, loop_lag, _waited = _run(group, scenario)
    assert all(isinstance(answer, int) for answer in answers)
    assert loop_lag < 0.05  # the loop went on while the batch waited
    # The jobs queued during the first batch are written together in the second.
    assert (group.stats.batches, group.stats.jobs, group.stats.largest) == (2, 5, 4)
    assert _notes(real_engine) == ["slow", "n0", "n1", "n2", "n3"]
    with make_sessionmaker(real_engine)() as session:
        assert audit.verify_chain(session).entries == 5


def test_postgresql_a_lost_connection_fails_its_batch_only(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    """Batches follow each other on one connection; once it is lost, the next batch
    (queued while the lost one ran) takes a new connection and is written."""
    if backend != "postgresql":
        pytest.skip("SQLite batches open the database file for each batch")

    def doomed(session: Session) -> int:
        session.execute(text("SELECT pg_sleep(0.2)"))  # time for the next job to queue
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return 0

    async def scenario() -> list[Any]:
        first = asyncio.ensure_future(group.run(doomed))
        await asyncio.sleep(0.05)  # the first batch is running
        second = asyncio.ensure_future(group.run(_note("after")))
        return list(await asyncio.gather(first, second, return_exceptions=True))

    first, second = _run(group, scenario)
    assert isinstance(first, Exception)
    assert isinstance(second, int)
    assert _notes(real_engine) == ["after"]
    with make_sessionmaker(real_engine)() as session:
        assert audit.verify_chain(session).ok


def test_postgresql_a_job_alone_waits_for_a_row_lock_without_holding_up_others(
    group: GroupCommit, real_engine: Engine, backend: str
) -> None:
    """Jobs run alone each have their own transaction and connection: one waiting for a
    row lock held elsewhere holds up neither the event loop nor the other jobs."""
    if backend != "postgresql":
        pytest.skip("run_alone is PostgreSQL's; SQLite writes take turns under its gate")
    line_id = _run(group, lambda: group.run(_note("locked line")))
    order: list[str] = []

    def locking(session: Session) -> str:
        session.execute(
            select(DutyLogEntry.id).where(DutyLogEntry.id == line_id).with_for_update()
        ).one()
        order.append("locking")
        return "locked"

    def free(session: Session) -> int:
        order.append("free")
        return _note("free")(session)

    async def scenario() -> tuple[list[Any], float]:
        with real_engine.connect() as holder:  # another process holds the row
            holder.execute(
                select(DutyLogEntry.id).where(DutyLogEntry.id == line_id).with_for_update()
            )
            waiting = asyncio.ensure_future(group.run_alone(locking))
            await asyncio.sleep(0.05)  # it is waiting for the lock
            tick = time.monotonic()
            await asyncio.sleep(0.01)
            loop_lag = time.monotonic() - tick - 0.01
            done = await asyncio.wait_for(group.run_alone(free), timeout=5)
            assert not waiting.done()
            holder.commit()  # releases the row
        return [done, await asyncio.wait_for(waiting, timeout=5)], loop_lag

    (free_id, locked), loop_lag = _run(group, scenario)
    assert isinstance(free_id, int)
    assert locked == "locked"
    assert order == ["free", "locking"]
    assert loop_lag < 0.05
    assert group.stats.alone == 2
    assert _notes(real_engine) == ["locked line", "free"]


def _served(engine: Engine, database_url: str, role: Role) -> tuple[FastAPI, str]:
    """An app over the real database (with its group commit) and a token."""
    settings = make_settings(database_url)
    with make_sessionmaker(engine)() as session:
        token = make_token(session, settings, make_user(session, role))
    return create_app(settings, engine=engine), token


def test_concurrent_intakes_are_written_in_shared_transactions(
    real_engine: Engine, migrated_database_url: str, backend: str
) -> None:
    """Over HTTP: near-simultaneous calls at one place all land, duplicates see each
    other even inside one shared transaction, and the audit chain stays whole."""
    app, token = _served(real_engine, migrated_database_url, Role.DISPATCHER)
    body = {"type_code": "theft", "lon": 3.083, "lat": 45.777, "call": {"channel": "phone"}}
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(12)
    with TestClient(app, base_url="https://testserver") as client:

        def worker() -> None:
            barrier.wait()
            response = client.post("/api/v1/incidents", json=body, headers=bearer(token))
            assert response.status_code == 201, response.text
            answers.append(response.json())

        threads = [threading.Thread(target=worker) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        stats = app.state.group_commit.stats
    assert len(answers) == 12
    assert _count(real_engine, Incident) == 12
    assert stats.jobs == 12
    assert stats.batches < 12  # some were written together
    # Each intake lists every earlier one as a possible duplicate (same place, same type).
    assert sorted(len(answer["duplicates"]) for answer in answers) == list(range(12))
    with make_sessionmaker(real_engine)() as session:
        report = audit.verify_chain(session)
    assert report.ok, report.problem


def test_write_routes_run_in_the_group_commit_and_refusals_roll_back_alone(
    real_engine: Engine, migrated_database_url: str, backend: str
) -> None:
    """Status changes share commits on SQLite; on PostgreSQL, where they lock rows, each
    runs in a transaction of its own on the event loop. An illegal move (409) leaves the
    others intact."""
    app, token = _served(real_engine, migrated_database_url, Role.SUPERVISOR)
    headers = bearer(token)
    with TestClient(app, base_url="https://testserver") as client:
        units = [new_unit(client, headers, f"PS-{i}") for i in range(6)]
        stats = app.state.group_commit.stats
        before, before_writes, before_alone = stats.jobs, stats.writes, stats.alone
        before_gave_way = stats.gave_way
        codes: dict[int, int] = {}
        barrier = threading.Barrier(len(units))

        def move(unit: dict[str, Any], index: int) -> None:
            barrier.wait()
            # Even units take a legal step; odd ones an illegal one (available -> on_scene).
            target = "unavailable" if index % 2 == 0 else "on_scene"
            body = {"status": target, "reason": "meal"} if index % 2 == 0 else {"status": target}
            response = client.post(f"/api/v1/units/{unit['id']}/status", json=body, headers=headers)
            codes[index] = response.status_code

        threads = [threading.Thread(target=move, args=(u, i)) for i, u in enumerate(units)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        writes, alone = stats.writes - before_writes, stats.alone - before_alone
        gave_way = stats.gave_way - before_gave_way
        after = {
            u["id"]: client.get(f"/api/v1/units/{u['id']}", headers=headers).json() for u in units
        }
    assert codes == {0: 200, 1: 409, 2: 200, 3: 409, 4: 200, 5: 409}
    if backend == "sqlite":
        assert stats.jobs - before == 6
        assert stats.failed_jobs >= 3
    else:
        assert stats.jobs == before  # no shared transaction
        assert writes == 6  # one transaction each, on the event loop
        assert alone == gave_way  # run again awaited only after meeting a row lock
    assert [after[u["id"]]["status"] for u in units] == [
        "unavailable", "available", "unavailable", "available", "unavailable", "available"
    ]  # fmt: skip
    with make_sessionmaker(real_engine)() as session:
        report = audit.verify_chain(session)
    assert report.ok, report.problem


def test_a_linked_call_is_taken_in_a_transaction_of_its_own_on_postgresql(
    real_engine: Engine, migrated_database_url: str, backend: str
) -> None:
    """A call linked to an incident locks the incident's row: on PostgreSQL it is taken
    alone (not in a shared transaction), on SQLite with the other writes."""
    app, token = _served(real_engine, migrated_database_url, Role.DISPATCHER)
    headers = bearer(token)
    body = {"type_code": "theft", "lon": 3.083, "lat": 45.777, "call": {"channel": "phone"}}
    with TestClient(app, base_url="https://testserver") as client:
        first = client.post("/api/v1/incidents", json=body, headers=headers)
        assert first.status_code == 201, first.text
        stats = app.state.group_commit.stats
        before_writes, before_jobs = stats.writes, stats.jobs
        linked = client.post(
            "/api/v1/incidents",
            json={**body, "link_to": first.json()["incident"]["id"]},
            headers={**headers, "Idempotency-Key": "link-1"},
        )
        assert linked.status_code == 201, linked.text
        again = client.post(
            "/api/v1/incidents",
            json={**body, "link_to": first.json()["incident"]["id"]},
            headers={**headers, "Idempotency-Key": "link-1"},
        )
        assert again.headers.get("Idempotent-Replay") == "true"
    assert linked.json()["linked"] is True
    assert len(linked.json()["incident"]["calls"]) == 2
    assert again.json() == linked.json()
    if backend == "postgresql":
        assert (stats.writes - before_writes, stats.jobs - before_jobs) == (2, 0)
    else:
        assert (stats.writes - before_writes, stats.jobs - before_jobs) == (0, 2)
    assert _count(real_engine, Incident) == 1


def test_postgresql_short_writes_give_way_to_a_row_lock_held_elsewhere(
    real_engine: Engine, migrated_database_url: str, backend: str
) -> None:
    """A status change runs on the loop, blocking it; when another process holds the
    unit's row it stops waiting after a moment (rolled back, nothing written) and is run
    again awaited, and lands once the row is free."""
    if backend != "postgresql":
        pytest.skip("writes on the loop are PostgreSQL's; SQLite writes take turns under its gate")
    app, token = _served(real_engine, migrated_database_url, Role.SUPERVISOR)
    headers = bearer(token)
    with TestClient(app, base_url="https://testserver") as client:
        unit = new_unit(client, headers, "PS-LOCK")
        lines_before = _status_lines(real_engine, unit["id"])
        url = f"/api/v1/units/{unit['id']}/status"
        stats = app.state.group_commit.stats
        writes, gave_way, alone = stats.writes, stats.gave_way, stats.alone
        meal = client.post(url, json={"status": "unavailable", "reason": "meal"}, headers=headers)
        assert meal.status_code == 200, meal.text
        assert (stats.writes - writes, stats.gave_way - gave_way, stats.alone - alone) == (1, 0, 0)

        holder = real_engine.connect()  # another process, in the middle of a transaction
        holder.execute(select(Unit.id).where(Unit.id == unit["id"]).with_for_update())
        release = threading.Timer(0.4, holder.commit)
        release.start()
        started = time.monotonic()
        back = client.post(url, json={"status": "available"}, headers=headers)
        waited = time.monotonic() - started
        release.join()
        holder.close()
        assert back.status_code == 200, back.text
        assert waited >= 0.35  # it waited for the row...
        assert stats.gave_way - gave_way == 1  # ...awaited, after giving way on the loop
        assert stats.alone - alone == 1
        assert client.get(f"/api/v1/units/{unit['id']}", headers=headers).json()["status"] == (
            "available"
        )
    assert _status_lines(real_engine, unit["id"]) == lines_before + 2  # the try wrote nothing


def _status_lines(engine: Engine, unit_id: int) -> int:
    with make_sessionmaker(engine)() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DutyLogEntry)
                .where(DutyLogEntry.unit_id == unit_id, DutyLogEntry.kind == "unit_status")
            )
            or 0
        )
