"""Officers: the people who crew units (personal data: every read is audited)."""

from __future__ import annotations

from fastapi import APIRouter, status

from arverne.dispatch import crew
from arverne.people import service as people
from arverne.people.schemas import OfficerCreate, OfficerOut, OfficerUpdate
from arverne.security import audit
from arverne.security.principal import Principal
from arverne.store.session import end_read_phase
from arverne.web.deps import AccessReason, AuditCtx, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/officers", tags=["officers"])


@router.get("", summary="Officers, their account and their unit")
@on_event_loop  # an audited read: SQLite writes it through the writer gate
def list_officers(
    session: SessionDep,
    ctx: AuditCtx,
    reason: AccessReason = None,
    _: Principal = require("officer:read"),
) -> list[OfficerOut]:
    """Every officer by badge, with the login account linked to it and the units whose
    crew it is on. The read is recorded in the audit log, with ``X-Access-Reason``."""
    end_read_phase(session)  # an audited read: one write transaction
    views = crew.officer_views(session)
    audit.record(
        session,
        ctx,
        action="officer.list",
        object_type="officer",
        reason=reason,
        details={"count": len(views)},
    )
    return views


@router.post("", status_code=status.HTTP_201_CREATED, summary="Add an officer")
def create_officer(
    body: OfficerCreate,
    session: SessionDep,
    ctx: AuditCtx,
    _: Principal = require("officer:manage"),
) -> OfficerOut:
    """Create an officer (badge, name, rank), linked to the login account ``username`` if
    given (in the same transaction: an unknown or already linked account saves nothing);
    409 when the badge is already used."""
    officer = people.create_officer(session, ctx, body)
    if body.username is not None:
        people.link_user(session, ctx, officer, people.account_named(session, body.username))
    return crew.officer_views(session, [officer])[0]


@router.patch(
    "/{badge:path}", summary="Rename an officer, link their account, disable or enable them"
)
def update_officer(
    badge: str,
    body: OfficerUpdate,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
    _: Principal = require("officer:manage"),
) -> OfficerOut:
    """``first_name``, ``last_name`` and ``rank`` (``null`` clears it) change what crew
    lists show (published live); ``username`` links the officer to a login account
    (``null`` unlinks; an account is linked to one officer, 409 otherwise); ``active:
    false`` takes the officer off every crew (logged per unit) and their account then acts
    for no unit. Only the fields sent change."""
    officer = people.get_by_badge(session, badge)
    details = body.model_fields_set & {"first_name", "last_name", "rank"}
    if details:
        crew.rename_officer(
            session=session,
            ctx=ctx,
            settings=settings,
            badge=badge,
            changes={field: getattr(body, field) for field in details},
        )
    if "username" in body.model_fields_set:
        account = None
        if body.username is not None:
            account = people.account_named(session, body.username)
        people.link_user(session, ctx, officer, account)
    if body.active is not None:
        crew.set_officer_active(
            session=session, ctx=ctx, settings=settings, badge=badge, active=body.active
        )
    return crew.officer_views(session, [officer])[0]
