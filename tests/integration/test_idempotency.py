"""Idempotency keys: the first answer is kept, a second writer gets it back."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from arverne.dispatch import idempotency
from arverne.dispatch.schemas import IncidentIn
from arverne.errors import InvalidInputError

BODY = IncidentIn.model_validate({"type_code": "theft", "lon": 3.08, "lat": 45.77})


def test_a_key_answers_the_same_request_and_refuses_another(session: Session) -> None:
    fingerprint = idempotency.request_hash(BODY)
    assert idempotency.previous_answer(session, user_id=1, key="k", fingerprint=fingerprint) is None
    stored = idempotency.remember_answer(
        session, user_id=1, key="k", fingerprint=fingerprint, status_code=201, response={"a": 1}
    )
    assert stored is None
    again = idempotency.previous_answer(session, user_id=1, key="k", fingerprint=fingerprint)
    assert again == idempotency.StoredAnswer(status_code=201, response={"a": 1})
    # Keys belong to their user: another user's "k" is new.
    assert idempotency.previous_answer(session, user_id=2, key="k", fingerprint=fingerprint) is None
    other = idempotency.request_hash(BODY.model_copy(update={"description": "else"}))
    with pytest.raises(InvalidInputError, match="Idempotency-Key"):
        idempotency.previous_answer(session, user_id=1, key="k", fingerprint=other)


def test_the_second_writer_of_a_key_gets_the_first_answer(session: Session) -> None:
    fingerprint = idempotency.request_hash(BODY)
    idempotency.remember_answer(
        session, user_id=1, key="race", fingerprint=fingerprint, status_code=201, response={"n": 1}
    )
    session.commit()  # the first request committed while the second was working
    theirs = idempotency.remember_answer(
        session, user_id=1, key="race", fingerprint=fingerprint, status_code=201, response={"n": 2}
    )
    assert theirs == idempotency.StoredAnswer(status_code=201, response={"n": 1})
