"""Idempotent writes: a request retried with the same ``Idempotency-Key`` gets the first
answer back and never creates a second incident, status change or note.

The key is scoped to the user who sent it; the answer is stored in the same transaction
as the work, so either both exist or neither does. Plain Core statements, one per
batch of intakes (:mod:`arverne.dispatch.take`); single writes (a crew terminal's
status changes and notes, sent again after a lost answer) :func:`claim` their key first
and :func:`settle` it after the work.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Collection, Mapping
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select, tuple_
from sqlalchemy.orm import Session

from arverne.dispatch.models import IdempotencyKey
from arverne.dispatch.schemas import IncidentIn
from arverne.errors import InvalidInputError
from arverne.store.bulk import insert_rows
from arverne.store.types import utcnow

_KEYS = cast(Table, IdempotencyKey.__table__)
_PAIR = (_KEYS.c.user_id, _KEYS.c.key)  # unique: a key is one user's


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """An intake's answer: the one given now, or (``replayed``) the one given the first
    time its key was used."""

    status_code: int
    response: dict[str, Any]
    replayed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class StoredKey:
    """What is stored for a used key: the request's fingerprint and its answer."""

    request_hash: str
    answer: Answer

    def replay(self, fingerprint: str) -> Answer:
        """Return the stored answer for a request with ``fingerprint``.

        Raises
        ------
        InvalidInputError
            The key was already used for a different request.
        """
        if self.request_hash != fingerprint:
            raise InvalidInputError(
                "Idempotency-Key", "was already used for a different request; use a new key"
            )
        return dataclasses.replace(self.answer, replayed=True)


def request_hash(body: IncidentIn) -> str:
    """Return the fingerprint of an intake request (a key may not be reused for another)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@functools.cache
def _keys_in() -> Select[int, str, str, int, Any]:
    c = _KEYS.c
    return select(c.user_id, c.key, c.request_hash, c.status_code, c.response).where(
        tuple_(c.user_id, c.key).in_(bindparam("pairs", expanding=True))
    )


def stored_keys(
    session: Session, keys: Collection[tuple[int, str]]
) -> dict[tuple[int, str], StoredKey]:
    """Return what is stored for the ``(user_id, key)`` pairs already used (one query)."""
    if not keys:
        return {}
    rows = session.connection().execute(_keys_in(), {"pairs": list(keys)})
    return {
        (row.user_id, row.key): StoredKey(row.request_hash, Answer(row.status_code, row.response))
        for row in rows
    }


def remember_answers(
    session: Session, answers: Mapping[tuple[int, str], tuple[str, Answer]]
) -> set[tuple[int, str]]:
    """Store each ``(user_id, key) -> (fingerprint, answer)`` in the current transaction.

    One statement, in key order (so that two transactions storing the same keys wait for
    each other in the same order, never in a cycle). Returns the pairs *not* stored: a
    concurrent request with the same key committed first. The caller must then roll
    back the incidents it wrote for them and replay the stored answers instead.
    """
    if not answers:
        return set()
    now = utcnow()
    rows = [
        {
            "user_id": user_id,
            "key": key,
            "request_hash": fingerprint,
            "status_code": answer.status_code,
            "response": answer.response,
            "created_at": now,
        }
        for (user_id, key), (fingerprint, answer) in sorted(answers.items())
    ]
    inserted = insert_rows(
        session.connection(), _KEYS, rows, returning=_PAIR, on_conflict_do_nothing=_PAIR
    )
    return set(answers) - {(row.user_id, row.key) for row in inserted}


def fingerprint(scope: str, body: Mapping[str, Any]) -> str:
    """Return the fingerprint of a request to ``scope`` (method and path) with ``body``."""
    canonical = json.dumps({"scope": scope, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(session: Session, user_id: int, key: str, fingerprint: str) -> Answer | None:
    """Claim ``key`` for one request in the current transaction, before its work.

    Returns ``None`` when the key is new: the caller does the work, then calls
    :func:`settle` in the same transaction (a rollback frees the key again, so a retry of
    a refused request is tried anew). Returns the stored answer (``replayed``) when the
    key was used before; on PostgreSQL a request holding the same key in a transaction
    still open is waited for.

    Raises
    ------
    InvalidInputError
        The key was already used for a different request.
    """
    row = {
        "user_id": user_id,
        "key": key,
        "request_hash": fingerprint,
        "status_code": 0,
        "response": {},
        "created_at": utcnow(),
    }
    if insert_rows(
        session.connection(), _KEYS, [row], returning=_PAIR, on_conflict_do_nothing=_PAIR
    ):
        return None
    stored = stored_keys(session, [(user_id, key)])[(user_id, key)]
    return stored.replay(fingerprint)


def settle(session: Session, user_id: int, key: str, answer: Answer) -> None:
    """Store the answer of the request that claimed ``key`` (see :func:`claim`)."""
    c = _KEYS.c
    session.connection().execute(
        _KEYS.update()
        .where(c.user_id == user_id, c.key == key)
        .values(status_code=answer.status_code, response=answer.response)
    )
