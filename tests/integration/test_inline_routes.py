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
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, make_url, select

from arverne.dispatch import flows
from arverne.dispatch.models import Incident
from arverne.security.policy import Role
from arverne.store import gate as gate_module
from arverne.store.gate import WriterGate, gate_of
from arverne.store.session import make_engine, make_sessionmaker
from arverne.web.app import create_app
from tests.conftest import make_settings
from tests.data import bearer, make_token, make_user

BODY = {"type_code": "theft", "lon": 3.083, "lat": 45.777, "call": {"channel": "phone"}}


@pytest.fixture
def real_engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on a database of its own, where commits are real."""
    engine = make_engine(migrated_database_url)
    yield engine
    engine.dispose()


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
    """Record where each call of ``flows.intake`` ran: 'loop' or 'thread'."""
    where: list[str] = []
    real: Callable[..., Any] = flows.intake

    def spy(**kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            where.append("loop")
        except RuntimeError:
            where.append("thread")
        return real(**kwargs)

    monkeypatch.setattr(flows, "intake", spy)
    return where


def _count_incidents(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def test_intake_runs_on_the_event_loop_on_sqlite_and_in_a_thread_on_postgresql(
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
    assert where == (["loop"] * 3 if backend == "sqlite" else ["thread"] * 3)
    assert _count_incidents(real_engine) == 3


def test_a_busy_write_lock_moves_the_request_to_a_thread_without_stalling_the_loop(
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
    time.sleep(0.2)  # the intake now waits for the lock, in a worker thread
    probe_started = time.monotonic()
    assert client.get("/healthz").status_code == 200
    probe_s = time.monotonic() - probe_started
    gate = gate_of(real_engine)
    assert gate is not None
    assert gate.congested()  # meanwhile requests go straight to worker threads
    writer.join(30)
    holder.join(30)

    assert answers["intake"].status_code == 201, answers["intake"].text
    assert answers["intake_done"] - started >= hold_s - 0.25  # it did wait for the lock
    assert probe_s < 0.3, f"the event loop stalled for {probe_s:.2f} s"
    assert where == ["loop", "thread"]  # gave up on the loop before writing, then retried
    assert _count_incidents(real_engine) == 1  # the attempt on the loop wrote nothing
    monkeypatch.setattr(gate, "congested_until", 0.0)  # the moment has passed
    response = client.post("/api/v1/incidents", json=BODY, headers=bearer(token))
    assert response.status_code == 201
    assert where[-1] == "loop"
    assert _count_incidents(real_engine) == 2


def test_bounded_wait_gives_up_once_then_later_transactions_wait(tmp_path: Path) -> None:
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
