"""An audited read (callers' identities) answered by one server process while another
process writes: on SQLite a read transaction cannot turn into the write of its audit
entry once another connection has committed, so such reads run as one write transaction
from the start. None may fail (they answered 500 "database is locked" before)."""

from __future__ import annotations

import collections
import threading

import httpx
from sqlalchemy import select

from arverne.dispatch.models import Unit
from arverne.store.session import make_engine, make_sessionmaker, session_scope
from tests.dispatch_data import JAUDE


def test_audited_reads_never_fail_while_another_process_writes(
    two_servers: tuple[str, str, str], migrated_database_url: str
) -> None:
    reader_url, writer_url, token = two_servers
    engine = make_engine(migrated_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        session.add(Unit(call_sign="PS-W1", unit_type="car", status="available"))
    with session_scope(make_sessionmaker(engine)) as session:
        unit_id = session.scalar(select(Unit.id).where(Unit.call_sign == "PS-W1"))
    engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    made = httpx.post(
        f"{writer_url}/api/v1/incidents",
        json={"type_code": "theft", "lon": JAUDE[0], "lat": JAUDE[1], "call": {"caller_name": "X"}},
        headers=headers,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    incident_id = made.json()["incident"]["id"]
    codes: collections.Counter[tuple[str, int]] = collections.Counter()

    def read() -> None:
        with httpx.Client(timeout=30) as client:
            for _ in range(20):
                answer = client.get(
                    f"{reader_url}/api/v1/incidents/{incident_id}",
                    params={"include_personal": "true"},
                    headers={**headers, "X-Access-Reason": "test"},
                )
                codes["read", answer.status_code] += 1

    def write() -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(40):
                answer = client.post(
                    f"{writer_url}/api/v1/units/{unit_id}/positions",
                    json={"lon": JAUDE[0] + i * 1e-5, "lat": JAUDE[1]},
                    headers=headers,
                )
                codes["write", answer.status_code] += 1

    threads = [threading.Thread(target=read) for _ in range(3)]
    threads += [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert codes == {("read", 200): 60, ("write", 202): 120}
