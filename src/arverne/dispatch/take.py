"""Taking calls: idempotent intake of many requests in a few statements.

A server process queues the intake requests that arrive together and takes them in one
transaction (:meth:`arverne.store.batch.GroupCommit.run_together`): one lookup of their
``Idempotency-Key`` headers, one duplicate search, one multi-row INSERT each for the
incidents, their calls, their duty-log lines and the keys' answers. A request alone
(the CLI, a test's session) takes the same path with a list of one.

Keys are checked twice: before writing (a known key replays its first answer; a key
reused for another request is refused) and when its answer is stored. If a concurrent
transaction stored one of the keys in between, :class:`KeysTakenError` asks for the
requests to be taken again one by one (the group commit rolls the batch's savepoint
back); a request alone rolls back and replays the stored answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import idempotency
from arverne.dispatch.idempotency import Answer
from arverne.dispatch.intake import (
    IntakeResult,
    NewIncident,
    PreparedIntake,
    add_call,
    write_intakes,
)
from arverne.dispatch.schemas import IncidentIn
from arverne.errors import InvalidInputError
from arverne.security.audit import AuditContext


@dataclasses.dataclass(frozen=True, slots=True)
class CallRequest:
    """One intake request: who sent it, its key and body, and its checked place.

    ``prepared`` is ``None`` when the call is linked to an existing incident
    (``body.link_to``).
    """

    settings: Settings
    ctx: AuditContext
    user_id: int
    key: str | None
    body: IncidentIn
    fingerprint: str  # of the body (idempotency.request_hash), when there is a key
    prepared: PreparedIntake | None


class KeysTakenError(Exception):
    """A concurrent transaction stored some of the batch's keys first: take them alone."""


def take_calls(session: Session, requests: Sequence[CallRequest]) -> list[Answer | Exception]:
    """Take ``requests`` in ``session``'s transaction; one answer (or refusal) each.

    A refusal (:class:`InvalidInputError`: a key reused for another request) is returned
    in the request's place; it wrote nothing.

    Raises
    ------
    KeysTakenError
        Several requests, and a concurrent transaction stored one of their keys first:
        roll back and take them one at a time.
    """
    if len(requests) != 1:
        return _take(session, requests)
    try:
        return _take(session, requests)
    except KeysTakenError:  # the other request has committed: its answer is ours
        session.rollback()
        return _take(session, requests)


def _take(session: Session, requests: Sequence[CallRequest]) -> list[Answer | Exception]:
    if not requests:
        return []
    keys = {(r.user_id, r.key) for r in requests if r.key}
    stored = idempotency.stored_keys(session, keys)
    answers: list[Answer | Exception | None] = [None] * len(requests)
    first: dict[tuple[int, str], int] = {}  # the request of the batch that owns a new key
    new: list[int] = []
    linked: list[int] = []
    for i, request in enumerate(requests):
        key = (request.user_id, request.key) if request.key else None
        if key is not None and key in stored:
            answers[i] = _replay(stored[key], request.fingerprint)
            continue
        if key is not None and key in first:
            continue  # a second send in the same batch: answered once the first is
        if key is not None:
            first[key] = i
        (linked if request.prepared is None else new).append(i)
    items = [_new_incident(requests[i]) for i in new]
    results = write_intakes(session=session, settings=requests[0].settings, items=items)
    for i, result in zip(new, results, strict=True):
        answers[i] = _created(result)
    for i in linked:
        answers[i] = _link(session, requests[i])
    taken = idempotency.remember_answers(
        session, {key: (requests[i].fingerprint, _answered(answers[i])) for key, i in first.items()}
    )
    if taken:
        raise KeysTakenError(f"{len(taken)} key(s) stored by a concurrent request")
    for i, request in enumerate(requests):
        if answers[i] is None:  # the same key as an earlier request of the batch
            owner = first[(request.user_id, str(request.key))]
            own = idempotency.StoredKey(requests[owner].fingerprint, _answered(answers[owner]))
            answers[i] = _replay(own, request.fingerprint)
    return [_answered_or_refused(a) for a in answers]


def _new_incident(request: CallRequest) -> NewIncident:
    assert request.prepared is not None
    return NewIncident(request.ctx, request.prepared)


def _created(result: IntakeResult) -> Answer:
    return Answer(
        201,
        {  # an IntakeOut, from the view already built for the live event
            "incident": result.wire,
            "linked": result.linked,
            "duplicates": [d.model_dump(mode="json") for d in result.duplicates],
        },
    )


def _link(session: Session, request: CallRequest) -> Answer:
    assert request.body.link_to is not None
    _incident, wire = add_call(
        session=session,
        ctx=request.ctx,
        settings=request.settings,
        incident_id=request.body.link_to,
        call_in=request.body.call,
    )
    return Answer(201, {"incident": wire, "linked": True, "duplicates": []})


def _replay(stored: idempotency.StoredKey, fingerprint: str) -> Answer | Exception:
    try:
        return stored.replay(fingerprint)
    except InvalidInputError as exc:
        return exc


def _answered(answer: Answer | Exception | None) -> Answer:
    assert isinstance(answer, Answer), answer  # new keys' requests all wrote an answer
    return answer


def _answered_or_refused(answer: Answer | Exception | None) -> Answer | Exception:
    assert answer is not None
    return answer
