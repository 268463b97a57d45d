"""Idempotency keys: the first answer is kept, a second writer gets it back."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from arverne.dispatch import idempotency
from arverne.dispatch.idempotency import Answer
from arverne.dispatch.schemas import IncidentIn
from arverne.errors import InvalidInputError

BODY = IncidentIn.model_validate({"type_code": "theft", "lon": 3.08, "lat": 45.77})


def test_a_key_answers_the_same_request_and_refuses_another(session: Session) -> None:
    fingerprint = idempotency.request_hash(BODY)
    assert idempotency.stored_keys(session, [(1, "k")]) == {}
    taken = idempotency.remember_answers(
        session, {(1, "k"): (fingerprint, Answer(201, {"a": 1})), (1, "j"): ("x", Answer(201, {}))}
    )
    assert taken == set()
    stored = idempotency.stored_keys(session, [(1, "k"), (2, "k"), (1, "other")])
    # Keys belong to their user: another user's "k" is new.
    assert set(stored) == {(1, "k")}
    assert stored[1, "k"].replay(fingerprint) == Answer(201, {"a": 1}, replayed=True)
    other = idempotency.request_hash(BODY.model_copy(update={"description": "else"}))
    with pytest.raises(InvalidInputError, match="Idempotency-Key"):
        stored[1, "k"].replay(other)


def test_keys_stored_first_by_another_transaction_are_reported(session: Session) -> None:
    fingerprint = idempotency.request_hash(BODY)
    first = {(1, "race"): (fingerprint, Answer(201, {"n": 1}))}
    assert idempotency.remember_answers(session, first) == set()
    session.commit()  # the first request committed while the second was working
    second = {
        (1, "race"): (fingerprint, Answer(201, {"n": 2})),
        (1, "free"): (fingerprint, Answer(201, {"n": 3})),
    }
    assert idempotency.remember_answers(session, second) == {(1, "race")}
    stored = idempotency.stored_keys(session, [(1, "race"), (1, "free")])
    assert stored[1, "race"].answer == Answer(201, {"n": 1})  # the first answer is kept
    assert stored[1, "free"].answer == Answer(201, {"n": 3})
