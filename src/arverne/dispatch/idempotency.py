"""Idempotent intake: a request retried with the same ``Idempotency-Key`` gets the first
answer back and never creates a second incident.

The key is scoped to the user who sent it; the answer is stored in the same transaction
as the incident, so either both exist or neither does. Plain Core statements: intake
runs them on every call.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arverne.dispatch.models import IdempotencyKey
from arverne.dispatch.schemas import IncidentIn
from arverne.errors import InvalidInputError
from arverne.store.types import utcnow

_KEYS = cast(Table, IdempotencyKey.__table__)


@dataclasses.dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer given the first time a key was used."""

    status_code: int
    response: dict[str, Any]


def request_hash(body: IncidentIn) -> str:
    """Return the fingerprint of an intake request (a key may not be reused for another)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.cache
def _answer_of_key() -> Select[str, int, Any]:
    c = _KEYS.c
    return select(c.request_hash, c.status_code, c.response).where(
        c.user_id == bindparam("user_id"), c.key == bindparam("key")
    )


def previous_answer(
    session: Session, *, user_id: int, key: str, fingerprint: str
) -> StoredAnswer | None:
    """Return the stored answer of ``key``, or ``None`` if the key is new.

    Raises
    ------
    InvalidInputError
        The key was already used for a different request.
    """
    row = session.connection().execute(_answer_of_key(), {"user_id": user_id, "key": key})
    found = row.first()
    if found is None:
        return None
    if found.request_hash != fingerprint:
        raise InvalidInputError(
            "Idempotency-Key", "was already used for a different request; use a new key"
        )
    return StoredAnswer(status_code=found.status_code, response=found.response)


def remember_answer(
    session: Session,
    *,
    user_id: int,
    key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> StoredAnswer | None:
    """Store the answer of ``key`` in the current transaction.

    Returns ``None`` when stored. When a concurrent retry with the same key committed
    first, the current transaction is rolled back (its incident with it) and that
    request's answer is returned instead.
    """
    values = {
        "user_id": user_id,
        "key": key,
        "request_hash": fingerprint,
        "status_code": status_code,
        "response": response,
        "created_at": utcnow(),
    }
    try:
        session.connection().execute(insert(_KEYS), values)
    except IntegrityError:
        session.rollback()
        theirs = previous_answer(session, user_id=user_id, key=key, fingerprint=fingerprint)
        if theirs is None:  # the unique key refused us, so the row exists: never here
            raise
        return theirs
    return None
