"""``Idempotency-Key`` on single write routes: a request sent again (a crew terminal that
lost the answer, or was offline and sends its queue) gets the first answer back and the
work is done once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from arverne.dispatch import idempotency
from arverne.dispatch.idempotency import Answer
from arverne.security.principal import Principal

T = TypeVar("T")

IdempotencyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="A request retried with the same key gets the first answer; the work "
        "is done once",
    ),
]


def answer_response(answer: Answer) -> JSONResponse:
    """The HTTP response for a stored or fresh answer (``Idempotent-Replay`` on replays)."""
    headers = {"Idempotent-Replay": "true"} if answer.replayed else None
    return JSONResponse(answer.response, status_code=answer.status_code, headers=headers)


def once(
    session: Session,
    principal: Principal,
    key: str | None,
    scope: str,
    body: BaseModel,
    run: Callable[[], T],
    *,
    status_code: int = 200,
) -> T | JSONResponse:
    """Run ``run`` once per ``key``: the first request does the work and stores its
    answer in the same transaction; a retry gets that answer back.

    Parameters
    ----------
    session
        The request's session; its transaction commits the work and the key together.
    principal
        The caller: keys are scoped to their user.
    key
        The ``Idempotency-Key`` header; without one, ``run`` runs every time.
    scope
        Method and path, so that a key reused for another request is refused (422).
    body
        The request body, part of the fingerprint.
    run
        The work; what it returns is the answer.
    status_code
        The route's success status, stored with the answer.
    """
    if key is None:
        return run()
    fingerprint = idempotency.fingerprint(scope, body.model_dump(mode="json"))
    stored = idempotency.claim(session, principal.user_id, key, fingerprint)
    if stored is not None:
        return answer_response(stored)
    result = run()
    answer = Answer(status_code, jsonable_encoder(result))
    idempotency.settle(session, principal.user_id, key, answer)
    return result
