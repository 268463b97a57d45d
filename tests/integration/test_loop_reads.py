"""Read-only routes on the event loop: on PostgreSQL in a transaction of their own, sent
while the loop waits (``GroupCommit.run_read``), never longer than the read time limit.

These tests use a real, separately migrated database where commits are real.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from arverne.dispatch import recommend
from arverne.security import audit
from arverne.security.models import AuditEntry
from arverne.security.policy import Role
from arverne.store import onloop
from arverne.store.session import make_sessionmaker
from arverne.store.turns import WRITE
from arverne.web.app import create_app
from tests.conftest import make_settings
from tests.data import bearer, make_token, make_user
from tests.dispatch_data import GARE, new_incident, new_unit


def _served(engine: Engine, database_url: str) -> tuple[FastAPI, dict[str, str]]:
    settings = make_settings(database_url)
    with make_sessionmaker(engine)() as session:
        user = make_user(session, Role.SUPERVISOR, Role.DISPATCHER)
        token = make_token(session, settings, user)
    return create_app(settings, engine=engine), bearer(token)


def _audit_entries(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_recommendations_and_incidents_are_read_on_the_loop(
    real_engine: Engine, migrated_database_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, headers = _served(real_engine, migrated_database_url)
    seen: list[tuple[bool, bool]] = []  # (on the loop, in a transaction of its own)
    real = recommend.recommend_many

    def spy(*, session: Session, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        seen.append((on_loop, session.bind is not real_engine))
        return real(session=session, **kwargs)

    monkeypatch.setattr(recommend, "recommend_many", spy)
    with TestClient(app, base_url="https://testserver") as client:
        unit = new_unit(client, headers, "PS-1")
        call = {"channel": "emergency", "caller_name": "A. Témoin", "caller_phone": "0600000000"}
        iid = new_incident(client, headers, "theft", at=GARE, call=call)["incident"]["id"]
        stats = app.state.group_commit.stats
        before_reads, before_alone = stats.reads, stats.alone
        for _ in range(3):
            rec = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=headers)
            assert rec.status_code == 200, rec.text
            assert [c["unit_id"] for c in rec.json()["candidates"]] == [unit["id"]]
        # An audited read (the caller's name and number shown) writes its audit entry.
        entries = _audit_entries(real_engine)
        shown = client.get(
            f"/api/v1/incidents/{iid}",
            params={"include_personal": "true"},
            headers={**headers, "X-Access-Reason": "rappel du temoin"},
        )
        assert shown.status_code == 200, shown.text
        assert shown.json()["calls"][0]["caller_name"] == "A. Témoin"
        assert _audit_entries(real_engine) > entries
        reads, alone = stats.reads - before_reads, stats.alone - before_alone
        # The audit log search may be long: on PostgreSQL it is awaited, never blocking.
        searched = client.get(
            "/api/v1/audit", headers={**headers, "X-Access-Reason": "controle interne"}
        )
        assert searched.status_code == 200, searched.text
        assert searched.json()
        search = (stats.reads - before_reads - reads, stats.alone - before_alone - alone)
    if backend == "postgresql":
        assert seen == [(True, True)] * 3
        assert (reads, alone) == (4, 0)
        assert search == (0, 1)
    else:  # SQLite: on the loop, on the request's own session (the writer gate's rules)
        assert seen == [(True, False)] * 3
        assert (reads, alone) == (0, 0)
        assert search == (0, 0)
    with make_sessionmaker(real_engine)() as session:
        report = audit.verify_chain(session)
    assert report.ok, report.problem


def test_a_read_slower_than_the_limit_is_cancelled_and_the_next_one_is_served(
    real_engine: Engine, migrated_database_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "postgresql":
        pytest.skip("only PostgreSQL reads run on a connection kept for the loop")
    monkeypatch.setattr(onloop, "LOOP_READ_TIMEOUT_MS", 300)
    app, headers = _served(real_engine, migrated_database_url)
    real = recommend.recommend_many
    slow = {"on": True}

    def stuck(*, session: Session, **kwargs: Any) -> Any:
        if slow["on"]:
            session.execute(text("SELECT pg_sleep(5)"))
        return real(session=session, **kwargs)

    monkeypatch.setattr(recommend, "recommend_many", stuck)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        new_unit(client, headers, "PS-1")
        iid = new_incident(client, headers, "theft", at=GARE)["incident"]["id"]
        started = time.monotonic()
        cancelled = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=headers)
        took = time.monotonic() - started
        slow["on"] = False
        served = client.get(f"/api/v1/incidents/{iid}/recommendations", headers=headers)
    assert cancelled.status_code == 500
    assert took < 3.0  # cancelled after 0.3 s, not the 5 s asked
    assert served.status_code == 200, served.text
    assert served.json()["candidates"]


def test_recommendations_asked_together_are_answered_as_one_by_one(
    real_engine: Engine, migrated_database_url: str, backend: str
) -> None:
    """Requests waiting at the same moment share one read of the units on PostgreSQL;
    each gets what it would have got alone: P1 preemption, missing capabilities, 404."""
    app, headers = _served(real_engine, migrated_database_url)
    with TestClient(app, base_url="https://testserver") as client:
        new_unit(client, headers, "PS-1")
        busy = new_unit(client, headers, "PS-2", at=GARE)
        parked = new_incident(client, headers, "traffic_obstruction", at=GARE)["incident"]
        sent = client.post(
            f"/api/v1/incidents/{parked['id']}/dispatch",
            json={"unit_ids": [busy["id"]]},
            headers=headers,
        )
        assert sent.status_code == 200, sent.text
        asked = [
            new_incident(client, headers, code, at=GARE)["incident"]["id"]
            for code in ("theft", "burglary_in_progress", "drug_dealing")
        ] + [999_999]
        urls = [f"/api/v1/incidents/{i}/recommendations" for i in asked]
        alone = [client.get(url, headers=headers) for url in urls]
        group = app.state.group_commit

        async def together() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
                if group is None:  # SQLite: nothing to hold
                    return list(await asyncio.gather(*(http.get(u, headers=headers) for u in urls)))
                holder = group.turns.turn(WRITE)
                await holder.__aenter__()  # the loop is busy: the requests queue up
                pending = [asyncio.ensure_future(http.get(u, headers=headers)) for u in urls]
                await asyncio.sleep(0.2)
                await holder.__aexit__(None, None, None)
                return list(await asyncio.gather(*pending))

        answers = client.portal.call(together)
    assert [a.status_code for a in alone] == [200, 200, 200, 404]
    assert [a.status_code for a in answers] == [200, 200, 200, 404]
    for one, shared in zip(alone[:3], answers[:3], strict=True):
        assert shared.json() == one.json()
    theft, urgent, dogs = (a.json() for a in answers[:3])
    assert [c["call_sign"] for c in theft["candidates"]] == ["PS-1"]
    assert [(c["call_sign"], c["preemptable"]) for c in urgent["candidates"]] == [
        ("PS-2", True),  # on the spot, committed to a P4: worth preempting
        ("PS-1", False),
    ]
    assert dogs["candidates"] == []
    assert {e["reason"] for e in dogs["excluded"]} == {"lacks dog"}
    if backend == "postgresql":
        assert group.reads_together.largest == 4
