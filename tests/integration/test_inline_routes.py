"""Short write routes run on the event loop on SQLite, and never stall it.

These tests use a real, separately migrated database where commits are real; a second
:class:`WriterGate` on the same lock file stands for another server process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, make_url, select

from arverne.dispatch import take
from arverne.dispatch.models import Incident
from arverne.security.policy import Role
from arverne.store import gate as gate_module
from arverne.store.gate import WriterGate
from arverne.store.session import make_sessionmaker
from arverne.web.app import create_app
from tests.conftest import make_settings, run_in_new_loop
from tests.data import bearer, make_token, make_user

T = TypeVar("T")
BODY = {"type_code": "theft", "lon": 3.083, "lat": 45.777, "call": {"channel": "phone"}}


@pytest.fixture
def served(real_engine: Engine, migrated_database_url: str) -> Iterator[tuple[TestClient, str]]:
    """A client on an app over the real database, and a dispatcher's token."""
    settings = make_settings(migrated_database_url)
    with make_sessionmaker(real_engine)() as session:
        token = make_token(session, settings, make_user(session, Role.DISPATCHER))
    app = create_app(settings, engine=real_engine)
    with TestClient(app, base_url="https://testserver") as client:
        yield client, token


def _spy_on_intake(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record where the writes of each intake ran: 'loop' or 'thread'."""
    where: list[str] = []
    real: Callable[..., Any] = take.write_intakes

    def spy(**kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            where.append("loop")
        except RuntimeError:
            where.append("thread")
        return real(**kwargs)

    monkeypatch.setattr(take, "write_intakes", spy)
    return where


def _count_incidents(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def test_intake_writes_on_the_event_loop(
    served: tuple[TestClient, str],
    real_engine: Engine,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, token = served
    where = _spy_on_intake(monkeypatch)
    for _ in range(3):
        response = client.post("/api/v1/incidents", json=BODY, headers=bearer(token))
        assert response.status_code == 201, response.text
    # SQLite: with the write lock held; PostgreSQL: statements awaited (asyncio engine).
    assert where == ["loop"] * 3
    assert _count_incidents(real_engine) == 3


def test_a_busy_write_lock_is_awaited_without_stalling_the_loop(
    served: tuple[TestClient, str],
    real_engine: Engine,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend != "sqlite":
        pytest.skip("only SQLite has a writer gate")
    client, token = served
    # Sign in first: resolving a new token records its use, a write of its own.
    assert client.get("/api/v1/incident-types", headers=bearer(token)).status_code == 200
    where = _spy_on_intake(monkeypatch)
    database = make_url(str(real_engine.url)).database
    other_process = WriterGate(Path(f"{database}-writer.lock"), 5.0)  # its own flock
    held = threading.Event()
    hold_s = 0.8

    def hold() -> None:
        other_process.acquire()
        held.set()
        time.sleep(hold_s)
        other_process.release()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    answers: dict[str, Any] = {}

    def intake() -> None:
        answers["intake"] = client.post("/api/v1/incidents", json=BODY, headers=bearer(token))
        answers["intake_done"] = time.monotonic()

    started = time.monotonic()
    writer = threading.Thread(target=intake)
    writer.start()
    time.sleep(0.2)  # the intake now waits for the lock, the event loop free
    probe_started = time.monotonic()
    assert client.get("/healthz").status_code == 200
    probe_s = time.monotonic() - probe_started
    writer.join(30)
    holder.join(30)

    assert answers["intake"].status_code == 201, answers["intake"].text
    assert answers["intake_done"] - started >= hold_s - 0.25  # it did wait for the lock
    assert probe_s < 0.3, f"the event loop stalled for {probe_s:.2f} s"
    assert where == ["loop"]  # written once, by the group commit, once the lock was free
    assert _count_incidents(real_engine) == 1
    response = client.post("/api/v1/incidents", json=BODY, headers=bearer(token))
    assert response.status_code == 201
    assert where[-1] == "loop"
    assert _count_incidents(real_engine) == 2


def test_bounded_wait_gives_up_once_then_later_transactions_wait(tmp_path: Path) -> None:
    """Only the first write transaction of a bounded block may give up (nothing before it
    was written); later ones may follow a commit, so they wait as usual."""
    lock = tmp_path / "db-writer.lock"
    holder, waiter = WriterGate(lock, 5.0), WriterGate(lock, 0.3)
    holder.acquire()
    try:
        with gate_module.bounded_writer_wait(0.02):
            started = time.monotonic()
            with pytest.raises(gate_module.WriterBusy):
                waiter.acquire()
            assert time.monotonic() - started < 0.25
            assert waiter.congested()
    finally:
        holder.release()
    with gate_module.bounded_writer_wait(0.02):
        waiter.acquire()  # free: the first transaction of the block gets it
        waiter.release()
        holder.acquire()
        try:  # an earlier transaction of this block may have committed: wait as usual
            with pytest.raises(gate_module.sqlite3.OperationalError, match="locked"):
                waiter.acquire()
        finally:
            holder.release()


def test_gate_held_beforehand_goes_to_the_first_write_or_back_to_the_gate(
    tmp_path: Path,
) -> None:
    lock = tmp_path / "db-writer.lock"
    gate, other = WriterGate(lock, 5.0), WriterGate(lock, 0.2)

    async def scenario() -> None:
        async with gate_module.writer_gate_held(gate):
            with pytest.raises(gate_module.sqlite3.OperationalError):
                other.acquire()  # held for us: another process waits
            gate.acquire()  # our first write transaction takes it without waiting
            gate.release()  # ... and releases it as it ends
        other.acquire()
        other.release()
        async with gate_module.writer_gate_held(gate):
            pass  # nothing written: released on the way out
        other.acquire()
        other.release()

    run_in_new_loop(scenario)


def test_acquire_async_lets_the_loop_run_while_it_waits(tmp_path: Path) -> None:
    lock = tmp_path / "db-writer.lock"
    holder, gate = WriterGate(lock, 5.0), WriterGate(lock, 5.0)
    holder.acquire()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def scenario() -> float:
        ticker = asyncio.create_task(tick())
        asyncio.get_running_loop().call_later(0.3, holder.release)
        started = time.monotonic()
        await gate.acquire_async()
        waited = time.monotonic() - started
        gate.release()
        ticker.cancel()
        return waited

    waited = run_in_new_loop(scenario)
    assert waited >= 0.25
    assert ticks >= 20  # the loop kept running other work meanwhile


def test_a_waiting_writer_is_next_newcomers_cannot_overtake_it(tmp_path: Path) -> None:
    # Three gates on one lock file stand for three processes.
    lock = tmp_path / "db-writer.lock"
    holder, waiter, newcomer = (WriterGate(lock, 0.2) for _ in range(3))
    holder.acquire()
    waiter._thread_lock.acquire()  # what acquire() does first, then steps:
    assert not waiter._try_file_lock()  # waits, and now holds the queue
    holder.release()
    assert not newcomer._try_file_lock()  # the gate is free, but the waiter is next
    assert waiter._try_file_lock()
    waiter.release()
    newcomer.acquire()  # its turn
    newcomer.release()


def test_a_second_write_on_the_loop_behind_a_waiter_fails_loudly(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / "db-writer.lock", 0.2)
    with gate_module.bounded_writer_wait(0.05):
        gate.acquire()  # the first write transaction
        gate.release()
        gate._loop_waiting = True  # meanwhile a request of this loop waits for the gate
        try:  # waiting would block the loop that waiter needs: refuse, do not hang
            with pytest.raises(RuntimeError, match="second write transaction"):
                gate.acquire()
        finally:
            gate._loop_waiting = False
