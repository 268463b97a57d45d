"""Incidents: intake, queue, recommendation, dispatch, closure."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from arverne.dispatch import flows, idempotency, recommend, service, take
from arverne.dispatch.idempotency import Answer
from arverne.dispatch.merge import merge_incidents
from arverne.dispatch.reopen import reopen_incident
from arverne.dispatch.schemas import (
    CallIn,
    CancelIn,
    CloseIn,
    DispatchIn,
    IncidentIn,
    IncidentOut,
    IncidentUpdate,
    IntakeOut,
    MergeIn,
    RecommendationOut,
    ReleaseIn,
    ReopenIn,
    SplitIn,
    SplitOut,
)
from arverne.dispatch.split import split_incident
from arverne.dispatch.taxonomy import INCIDENT_TYPES
from arverne.errors import NotFoundError
from arverne.security.principal import Principal
from arverne.store.batch import group_commit_of
from arverne.store.session import end_read_phase
from arverne.web.deps import (
    AccessReason,
    AuditCtx,
    CityDep,
    SessionDep,
    SettingsDep,
    require,
)
from arverne.web.idempotent import IdempotencyHeader, answer_response
from arverne.web.routing import TransactionalRoute, on_event_loop, reads_together

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["incidents"])
IncidentId = Annotated[int, PathParam(ge=1)]


@router.get("/incident-types", summary="The incident taxonomy")
def incident_types(_: Principal = require("incident:read")) -> list[dict[str, Any]]:
    """Every incident type with its group, default priority and required capabilities."""
    return [
        {
            "code": t.code,
            "group": t.group,
            "label_fr": t.label_fr,
            "label_en": t.label_en,
            "priority": int(t.priority),
            "capabilities": sorted(t.capabilities),
        }
        for t in INCIDENT_TYPES
    ]


def _take_alone(session: Session, request: take.CallRequest) -> Answer:
    """Take one call in the request's own transaction (in a worker thread)."""
    end_read_phase(session)  # SQLite: the write lock from the key lookup on
    (answer,) = take.take_calls(session, [request])
    if isinstance(answer, Exception):
        raise answer
    session.commit()
    return answer


@router.post(
    "/incidents",
    status_code=status.HTTP_201_CREATED,
    summary="Intake a call",
    responses={201: {"model": IntakeOut, "description": "The incident and possible duplicates"}},
)
async def create_incident(
    body: IncidentIn,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    ctx: AuditCtx,
    principal: Principal = require("incident:create"),
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    """Create an incident with its first call (or link the call to ``link_to``).

    The answer lists open incidents that may be the same event (duplicates).
    """
    prepared = None  # a linked call: its incident is found when writing
    if body.link_to is None:  # checked and located before any write: a 422 comes early
        prepared = flows.prepare_intake(city=city, incident_in=body)
    request = take.CallRequest(
        settings=settings,
        ctx=ctx,
        user_id=principal.user_id,
        key=idempotency_key,
        body=body,
        fingerprint=idempotency.request_hash(body) if idempotency_key else "",
        prepared=prepared,
    )
    group = group_commit_of(session)
    if group is None:  # a caller's session factory (tests): the request's transaction
        return answer_response(await run_in_threadpool(_take_alone, session, request))
    if body.link_to is not None and not group.for_every_write:
        # A call linked on PostgreSQL locks its incident's row, which a shared
        # transaction would hold too long: a transaction of its own, on the loop.
        if session.in_transaction():
            session.commit()  # the read phase of the caller's identification
        return answer_response(await group.write_on_loop(lambda own: _take_alone(own, request)))
    # The calls this process receives meanwhile are taken with it, in a few statements,
    # on the event loop (once the write lock is ours on SQLite).
    return answer_response(await group.run_together(take.take_calls, request))


@router.get("/incidents", summary="The incident queue")
def list_incidents(
    session: SessionDep,
    settings: SettingsDep,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    _: Principal = require("incident:read"),
) -> list[IncidentOut]:
    """Incidents by priority then waiting time; ``status=open`` means not closed/cancelled."""
    wanted = status_ or []
    if "open" in wanted:
        wanted = [s for s in wanted if s != "open"] + list(service.OPEN_STATUSES)
    targets = flows.targets_for(settings)
    return [
        service.incident_out(i, targets=targets)
        for i in service.list_incidents(session, status=wanted or None, limit=limit)
    ]


@router.get("/incidents/{incident_id}", summary="One incident")
@on_event_loop
def get_incident(
    incident_id: IncidentId,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    reason: AccessReason = None,
    include_personal: bool = False,
    principal: Principal = require("incident:read"),
) -> IncidentOut:
    """An incident with its calls and units; callers' identities need ``include_personal``,
    the ``call:read_personal`` permission and an ``X-Access-Reason``, and are audited."""
    if include_personal:
        end_read_phase(session)  # an audited read: one write transaction
    incident = service.get_incident(session, incident_id)
    if include_personal:
        service.read_callers(
            session, ctx, roles=principal.roles, incident_id=incident.id, reason=reason,
            via="api",
        )  # fmt: skip
    return service.incident_out(
        incident, targets=flows.targets_for(settings), reveal_personal=include_personal
    )


@router.patch("/incidents/{incident_id}", summary="Correct type, priority, description or place")
@on_event_loop
def update_incident(
    incident_id: IncidentId,
    body: IncidentUpdate,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    ctx: AuditCtx,
    _: Principal = require("incident:update"),
) -> IncidentOut:
    """Reclassify, reprioritise or move an open incident (409 once it is closed).

    The duty log says what changed from what, with the optional ``reason``.
    """
    incident = flows.update_incident(
        session=session, ctx=ctx, settings=settings, incident_id=incident_id, update=body,
        city=city,
    )  # fmt: skip
    return service.incident_out(incident, targets=flows.targets_for(settings))


@router.post(
    "/incidents/{incident_id}/calls",
    status_code=status.HTTP_201_CREATED,
    summary="Link another call",
)
@on_event_loop
def add_call(
    incident_id: IncidentId,
    body: CallIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:create"),
) -> IncidentOut:
    """Attach a further call about the same event to an open incident."""
    incident, _wire = flows.add_call(
        session=session, ctx=ctx, settings=settings, incident_id=incident_id, call_in=body
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))


def _recommend_together(session: Session, calls: list[dict[str, Any]]) -> list[Any]:
    """The recommendations of several requests, from one read of the units: an answer,
    or the error to raise, per request."""
    found = recommend.incidents_to_rank(session, [call["incident_id"] for call in calls])
    asked = [(found[c["incident_id"]], c["limit"]) for c in calls if c["incident_id"] in found]
    answers = iter(
        recommend.recommend_many(
            session=session,
            city=calls[0]["city"],  # one city and one set of settings per process
            asked=asked,
            plans=flows.plans_for(calls[0]["settings"]),
        )
        if asked
        else []
    )
    return [
        next(answers) if c["incident_id"] in found else NotFoundError("incident", c["incident_id"])
        for c in calls
    ]


@router.get("/incidents/{incident_id}/recommendations", summary="Units to send")
@on_event_loop
@reads_together(_recommend_together)
def recommendations(
    incident_id: IncidentId,
    session: SessionDep,
    city: CityDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    _: Principal = require("incident:read"),
) -> RecommendationOut:
    """Eligible units ranked by travel time, with ETA, distance and why they qualify, and
    the response plan: how many units the incident type calls for, how many are there,
    and the nearest free ones proposed for the rest."""
    call = {"incident_id": incident_id, "city": city, "settings": settings, "limit": limit}
    (answer,) = _recommend_together(session, [call])
    if isinstance(answer, Exception):
        raise answer
    return cast(RecommendationOut, answer)


@router.post("/incidents/{incident_id}/dispatch", summary="Commit units")
@on_event_loop
def dispatch(
    incident_id: IncidentId,
    body: DispatchIn,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    ctx: AuditCtx,
    _: Principal = require("incident:dispatch"),
) -> IncidentOut:
    """Dispatch one or several units (preempt for P1, reassign with a reason)."""
    incident = flows.dispatch(
        session=session,
        ctx=ctx,
        settings=settings,
        incident_id=incident_id,
        dispatch_in=body,
        etas=lambda locked: recommend.etas_for(
            session=session, city=city, incident=locked, unit_ids=body.unit_ids
        ),
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))


@router.post("/incidents/{incident_id}/units/{unit_id}/release", summary="Stand a unit down")
@on_event_loop
def release(
    incident_id: IncidentId,
    unit_id: Annotated[int, PathParam(ge=1)],
    body: ReleaseIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:dispatch"),
) -> IncidentOut:
    """Cancel one unit's assignment; the unit becomes available."""
    incident = flows.release_unit(
        session=session,
        ctx=ctx,
        settings=settings,
        incident_id=incident_id,
        unit_id=unit_id,
        reason=body.reason,
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))


@router.post("/incidents/{incident_id}/close", summary="Close with a disposition")
@on_event_loop
def close(
    incident_id: IncidentId,
    body: CloseIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:close"),
) -> IncidentOut:
    """Close the incident; units still committed are cleared. Closing twice is a 409.

    Offence codes must be in the reference (``GET /api/v1/offence-codes``) and in force
    on the day of the first call."""
    incident = flows.close_incident(
        session=session,
        ctx=ctx,
        settings=settings,
        incident_id=incident_id,
        close_in=body,
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))


@router.post("/incidents/{incident_id}/cancel", summary="Cancel (false alarm, duplicate)")
@on_event_loop
def cancel(
    incident_id: IncidentId,
    body: CancelIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:close"),
) -> IncidentOut:
    """Cancel the incident and release its units."""
    incident = flows.cancel_incident(
        session=session, ctx=ctx, settings=settings, incident_id=incident_id, cancel_in=body
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))


@router.post("/incidents/{incident_id}/reopen", summary="Reopen a closed or cancelled incident")
@on_event_loop
def reopen(
    incident_id: IncidentId,
    body: ReopenIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:close"),
) -> IncidentOut:
    """Put the incident back in the queue with a reason, within ``reopen_window_hours``
    of its end (409 later: take a new incident and link it)."""
    incident = reopen_incident(
        session=session, ctx=ctx, settings=settings, incident_id=incident_id, reopen_in=body
    )
    return service.incident_out(incident, targets=flows.targets_for(settings))


@router.post("/incidents/{incident_id}/merge", summary="Merge into another incident")
@on_event_loop
def merge(
    incident_id: IncidentId,
    body: MergeIn,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("incident:close"),
) -> IncidentOut:
    """Merge this incident into ``into`` (the same event): its calls and units move over
    and it is cancelled as a duplicate. Answers with the incident that stays."""
    kept = merge_incidents(
        session=session, ctx=ctx, settings=settings, incident_id=incident_id, merge_in=body
    )
    return service.incident_out(kept, targets=flows.targets_for(settings))


@router.post(
    "/incidents/{incident_id}/split",
    summary="Split another event out of an incident",
    status_code=status.HTTP_201_CREATED,
)
def split(
    incident_id: IncidentId,
    body: SplitIn,
    session: SessionDep,
    settings: SettingsDep,
    city: CityDep,
    ctx: AuditCtx,
    _: Principal = require("incident:dispatch"),
) -> SplitOut:
    """Create a new incident for a second event found within this one: the calls and
    committed units named move to it with their times. Answers with both incidents."""
    source, created = split_incident(
        session=session,
        ctx=ctx,
        settings=settings,
        city=city,
        incident_id=incident_id,
        split_in=body,
    )
    targets = flows.targets_for(settings)
    return SplitOut(
        source=service.incident_out(source, targets=targets),
        created=service.incident_out(created, targets=targets),
    )
