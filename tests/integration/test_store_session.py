"""SQLite writer gate and read phases: one writer at a time, nothing committed early."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from arverne.store.gate import WriterGate
from arverne.store.session import (
    begin_read_phase,
    end_read_phase,
    make_engine,
    make_sessionmaker,
)


def test_gate_lets_one_writer_in_at_a_time_across_gates(tmp_path: Path) -> None:
    # Two gates on one lock file stand for two server processes (flock is per open file).
    gates = [WriterGate(tmp_path / "db-writer.lock", 5.0) for _ in range(2)]
    inside, overlaps, done = [0], [0], []

    def writer(gate: WriterGate) -> None:
        for _ in range(50):
            gate.acquire()
            inside[0] += 1
            overlaps[0] += inside[0] > 1
            time.sleep(0.0002)
            inside[0] -= 1
            gate.release()
        done.append(True)

    threads = [threading.Thread(target=writer, args=(gates[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(done) == 6
    assert overlaps[0] == 0


def test_gate_gives_up_with_database_is_locked(tmp_path: Path) -> None:
    holder, waiter = (WriterGate(tmp_path / "db-writer.lock", 0.2) for _ in range(2))
    holder.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            waiter.acquire()
        assert time.monotonic() - started >= 0.2
    finally:
        holder.release()
    waiter.acquire()  # free again once the holder left
    waiter.release()


def test_gate_without_a_lock_file_still_serialises_threads(tmp_path: Path) -> None:
    gate = WriterGate(tmp_path / "missing-folder" / "db-writer.lock", 0.2)
    gate.acquire()  # the file cannot be created: the thread lock alone (and SQLite's)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            gate.acquire()  # another writer of this process waits, then gives up
    finally:
        gate.release()
    gate.acquire()
    gate.release()


def test_engine_releases_the_gate_on_commit_and_rollback(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as conn:  # rolled back: the gate must be free afterwards
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.rollback()
        gate = WriterGate(tmp_path / "db.sqlite-writer.lock", 0.5)
        gate.acquire()  # nobody holds it
        gate.release()
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()


def test_end_read_phase_never_commits_writes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with make_sessionmaker(engine)() as session:
            begin_read_phase(session)
            session.execute(text("SELECT count(*) FROM t"))
            end_read_phase(session)  # a reader that wrote nothing: ended
            assert not session.in_transaction()
            session.execute(text("INSERT INTO t VALUES (1)"))  # a write transaction
            end_read_phase(session)  # not a read phase: left alone
            assert session.in_transaction()
            session.rollback()
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        engine.dispose()
