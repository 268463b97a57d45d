"""Taking calls together: a batch of intakes in a few statements, each still answered as
if it had been alone (keys replayed or refused, duplicates seen, nothing lost)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from arverne.dispatch import idempotency, take
from arverne.dispatch.citypack import load_city
from arverne.dispatch.idempotency import Answer
from arverne.dispatch.intake import prepare_intake
from arverne.dispatch.models import Call, DutyLogEntry, IdempotencyKey, Incident
from arverne.dispatch.schemas import IncidentIn
from arverne.errors import InvalidInputError
from arverne.security.audit import AuditContext
from arverne.store.session import make_sessionmaker
from tests.conftest import make_settings

LON, LAT = 3.0912, 45.7803  # a corner of the test city no other test uses


def _request(
    settings: Any, key: str | None, *, dx: float = 0.0, type_code: str = "theft", user: int = 1
) -> take.CallRequest:
    body = IncidentIn.model_validate(
        {"type_code": type_code, "lon": LON + dx, "lat": LAT, "call": {"channel": "phone"}}
    )
    return take.CallRequest(
        settings=settings,
        ctx=AuditContext(actor=f"user-{user}", actor_id=None),
        user_id=user,
        key=key,
        body=body,
        fingerprint=idempotency.request_hash(body),
        prepared=prepare_intake(city=load_city(settings), incident_in=body),
    )


def _statements(session: Session, work: Any) -> tuple[Any, list[str]]:
    seen: list[str] = []
    bind = session.get_bind()

    def spy(*args: Any) -> None:
        verb = str(args[2]).split()[0]
        if verb not in {"SAVEPOINT", "RELEASE"}:  # the test session's own
            seen.append(verb)

    event.listen(bind, "before_cursor_execute", spy)
    try:
        return work(), seen
    finally:
        event.remove(bind, "before_cursor_execute", spy)


def test_a_batch_costs_the_statements_of_one_intake(
    session: Session, settings: Any, backend: str
) -> None:
    one, alone = _statements(session, lambda: take.take_calls(session, [_request(settings, "a")]))
    batch = [_request(settings, f"b{i}", dx=i * 1e-4) for i in range(8)]
    many, together = _statements(session, lambda: take.take_calls(session, batch))
    assert all(isinstance(a, Answer) and a.status_code == 201 for a in [*one, *many])
    ids = [a.response["incident"]["id"] for a in many if isinstance(a, Answer)]
    assert len(set(ids)) == 8
    if backend == "postgresql":  # multi-row statements (SQLite sends a row at a time)
        assert together == alone, (together, alone)
    assert (
        session.scalar(select(func.count()).select_from(Call).where(Call.incident_id.in_(ids))) == 8
    )
    lines = session.scalars(
        select(DutyLogEntry.kind).where(DutyLogEntry.incident_id.in_(ids))
    ).all()
    assert sorted(lines) == ["call_received"] * 8 + ["incident_created"] * 8
    for answer, incident_id in zip(many, ids, strict=True):
        incident = session.get(Incident, incident_id)
        assert incident is not None
        assert answer.response["incident"]["number"] == incident.number  # type: ignore[union-attr]


def test_each_call_of_a_batch_sees_the_earlier_ones_as_duplicates(
    session: Session, settings: Any
) -> None:
    batch = [_request(settings, None, dx=i * 2e-4) for i in range(4)]  # ~16 m apart
    batch.append(_request(settings, None, type_code="traffic_damage"))  # not compatible
    answers = take.take_calls(session, batch)
    assert all(isinstance(a, Answer) for a in answers)
    ids = [a.response["incident"]["id"] for a in answers if isinstance(a, Answer)]
    found = [
        {d["incident_id"] for d in a.response["duplicates"]}
        for a in answers
        if isinstance(a, Answer)
    ]
    assert found[:4] == [set(), {ids[0]}, {ids[0], ids[1]}, {ids[0], ids[1], ids[2]}]
    assert not found[4] & set(ids[:4])
    # Nearest first.
    last = answers[3]
    assert isinstance(last, Answer)
    assert [d["incident_id"] for d in last.response["duplicates"]][:3] == [ids[2], ids[1], ids[0]]


def test_a_batch_finds_earlier_open_incidents_near_each_of_its_calls(
    session: Session, settings: Any
) -> None:
    """One search for the whole batch, a box per call: each call sees the open incidents
    near it only, and none that is closed."""
    (near,) = take.take_calls(session, [_request(settings, None, dx=0.02)])
    (closed,) = take.take_calls(session, [_request(settings, None, dx=0.03)])
    assert isinstance(near, Answer)
    assert isinstance(closed, Answer)
    gone = session.get(Incident, closed.response["incident"]["id"])
    assert gone is not None
    gone.status = "closed"
    session.flush()
    # Next to the open one, over a kilometre from both, next to the closed one:
    batch = [_request(settings, None, dx=dx) for dx in (0.0201, 0.045, 0.0301)]
    answers = take.take_calls(session, batch)
    found = [
        [d["incident_id"] for d in a.response["duplicates"]]
        for a in answers
        if isinstance(a, Answer)
    ]
    assert found == [[near.response["incident"]["id"]], [], []]


def test_keys_are_replayed_or_refused_inside_a_batch_and_across_batches(
    session: Session, settings: Any
) -> None:
    first = _request(settings, "k1")
    again = _request(settings, "k1")  # the same request sent twice at once
    misuse = _request(settings, "k1", dx=1e-3)  # the same key for another call
    other_user = _request(settings, "k1", user=2)  # keys belong to their user
    answers = take.take_calls(session, [first, again, misuse, other_user])
    created, replayed, refused, theirs = answers
    assert isinstance(created, Answer)
    assert not created.replayed
    assert replayed == Answer(created.status_code, created.response, replayed=True)
    assert isinstance(refused, InvalidInputError)
    assert "Idempotency-Key" in str(refused)
    assert isinstance(theirs, Answer)
    assert not theirs.replayed
    assert theirs.response["incident"]["id"] != created.response["incident"]["id"]
    # A later batch: the stored answer is replayed, a misuse refused, nothing written.
    count = session.scalar(select(func.count()).select_from(Incident))
    later = take.take_calls(session, [_request(settings, "k1"), misuse])
    assert later[0] == Answer(created.status_code, created.response, replayed=True)
    assert isinstance(later[1], InvalidInputError)
    assert session.scalar(select(func.count()).select_from(Incident)) == count


def test_a_key_stored_meanwhile_by_another_process_is_replayed(
    migrated_database_url: str, real_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process commits the same key between the lookup and the store: a batch
    asks to be taken again one by one; a call alone replays the other's answer."""
    settings = make_settings(migrated_database_url)
    factory = make_sessionmaker(real_engine)
    with factory() as session:
        (stored,) = take.take_calls(session, [_request(settings, "raced")])
        session.commit()
    assert isinstance(stored, Answer)
    real_lookup = idempotency.stored_keys
    lookups: list[int] = []

    def stale_first_lookup(session: Session, keys: Any) -> Any:
        lookups.append(1)
        return {} if len(lookups) == 1 else real_lookup(session, keys)

    monkeypatch.setattr(idempotency, "stored_keys", stale_first_lookup)
    with factory() as session, pytest.raises(take.KeysTakenError):
        take.take_calls(session, [_request(settings, "raced"), _request(settings, "free")])
    lookups.clear()
    with factory() as session:
        (answer,) = take.take_calls(session, [_request(settings, "raced")])
        session.commit()
    assert answer == Answer(stored.status_code, stored.response, replayed=True)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
