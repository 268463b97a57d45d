"""Account administration."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi import Path as PathParam
from sqlalchemy.orm import Session

from arverne.security import audit, auth, service
from arverne.security.models import User
from arverne.security.policy import Role
from arverne.security.principal import Principal
from arverne.security.schemas import (
    PasswordReset,
    SessionOut,
    SessionsEnded,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from arverne.store.session import end_read_phase
from arverne.web.deps import AccessReason, AuditCtx, SessionDep, SettingsDep, require
from arverne.web.routing import TransactionalRoute, on_event_loop

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/users", tags=["users"])
UserId = Annotated[int, PathParam(ge=1)]


@router.get("", summary="List accounts")
@on_event_loop  # an audited read: SQLite writes it through the writer gate
def list_users(
    session: SessionDep,
    ctx: AuditCtx,
    reason: AccessReason = None,
    role: Annotated[Role | None, Query()] = None,
    active_only: bool = False,
    _: Principal = require("user:read"),
) -> list[UserOut]:
    """List accounts (names and e-mails are personal data: the read is audited)."""
    end_read_phase(session)  # an audited read: one write transaction
    users = service.list_users(
        session=session, include_inactive=not active_only, role=role.value if role else None
    )
    audit.record(
        session,
        ctx,
        action="user.list",
        object_type="user",
        reason=reason,
        details={"count": len(users)},
    )
    signed_in = service.last_sign_ins(session=session, user_ids=[user.id for user in users])
    return [_out(user, signed_in) for user in users]


def _out(user: User, signed_in: dict[int, dt.datetime]) -> UserOut:
    return UserOut.model_validate(user).model_copy(
        update={"last_sign_in_at": signed_in.get(user.id)}
    )


def _one_out(session: Session, user: User) -> UserOut:
    """One account's view, with its last sign-in."""
    return _out(user, service.last_sign_ins(session=session, user_ids=[user.id]))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an account")
def create_user(
    body: UserCreate, session: SessionDep, ctx: AuditCtx, _: Principal = require("user:manage")
) -> UserOut:
    """Create an account with one or more roles; its owner chooses their own password at
    the first sign-in (this one is temporary)."""
    user = service.create(session=session, ctx=ctx, user_in=body, temporary=True)
    return UserOut.model_validate(user)


@router.get("/{user_id}", summary="One account")
@on_event_loop  # an audited read: SQLite writes it through the writer gate
def get_user(
    user_id: UserId,
    session: SessionDep,
    ctx: AuditCtx,
    reason: AccessReason = None,
    _: Principal = require("user:read"),
) -> UserOut:
    """Return one account (audited read)."""
    end_read_phase(session)  # an audited read: one write transaction
    user = service.get_or_404(session=session, user_id=user_id)
    audit.record(
        session, ctx, action="user.read", object_type="user", object_id=user.id, reason=reason
    )
    return _one_out(session, user)


@router.patch("/{user_id}", summary="Change an account")
def update_user(
    user_id: UserId,
    body: UserUpdate,
    session: SessionDep,
    ctx: AuditCtx,
    _: Principal = require("user:manage"),
) -> UserOut:
    """Change name, e-mail, roles or active flag; disabling ends all sessions and tokens."""
    user = service.get_or_404(session=session, user_id=user_id)
    service.update(session=session, ctx=ctx, user=user, user_in=body)
    return _one_out(session, user)


@router.post(
    "/{user_id}/reset-password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set a new password",
)
def reset_password(
    user_id: UserId,
    body: PasswordReset,
    session: SessionDep,
    ctx: AuditCtx,
    _: Principal = require("user:manage"),
) -> None:
    """Set a new password, clear the lockout and revoke the account's sessions and tokens;
    the owner chooses their own at the next sign-in (this one is temporary)."""
    user = service.get_or_404(session=session, user_id=user_id)
    service.reset_password(
        session=session, ctx=ctx, user=user, password=body.password, temporary=True
    )


@router.post("/{user_id}/unlock", summary="Lift a sign-in lockout")
def unlock_user(
    user_id: UserId, session: SessionDep, ctx: AuditCtx, _: Principal = require("user:manage")
) -> UserOut:
    """Clear the failed sign-ins that locked the account; its password is kept."""
    user = service.get_or_404(session=session, user_id=user_id)
    service.unlock(session=session, ctx=ctx, user=user)
    return _one_out(session, user)


@router.post(
    "/{user_id}/reset-mfa",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove the second factor",
)
def reset_mfa(
    user_id: UserId, session: SessionDep, ctx: AuditCtx, _: Principal = require("user:manage")
) -> None:
    """Remove the account's TOTP (lost phone); the user enrols again at next sign-in."""
    user = service.get_or_404(session=session, user_id=user_id)
    service.reset_mfa(session=session, ctx=ctx, user=user)


@router.get("/{user_id}/sessions", summary="An account's open console sessions")
@on_event_loop  # an audited read (client addresses): SQLite writes it through the writer gate
def list_user_sessions(
    user_id: UserId,
    session: SessionDep,
    ctx: AuditCtx,
    settings: SettingsDep,
    reason: AccessReason = None,
    _: Principal = require("user:manage"),
) -> list[SessionOut]:
    """The account's open console sessions, with when and from where they were used."""
    end_read_phase(session)  # an audited read: one write transaction
    user = service.get_or_404(session=session, user_id=user_id)
    rows = service.open_sessions(
        session=session, user_id=user.id, idle_minutes=settings.session_idle_minutes
    )
    audit.record(
        session,
        ctx,
        action="user.sessions",
        object_type="user",
        object_id=user.id,
        reason=reason,
        details={"count": len(rows)},
    )
    return [SessionOut.model_validate(row) for row in rows]


@router.post("/{user_id}/end-sessions", summary="Sign an account out everywhere")
def end_user_sessions(
    user_id: UserId,
    session: SessionDep,
    ctx: AuditCtx,
    settings: SettingsDep,
    _: Principal = require("user:manage"),
) -> SessionsEnded:
    """End every console session of the account (a lost phone or tablet); its API tokens
    and password are kept. Other server processes may accept a session for up to
    ``auth_cache_seconds`` more."""
    user = service.get_or_404(session=session, user_id=user_id)
    ended = service.end_sessions(
        session=session, ctx=ctx, user=user, idle_minutes=settings.session_idle_minutes
    )
    return SessionsEnded(ended=ended)


@router.get("/{user_id}/tokens", summary="An account's API tokens")
def list_user_tokens(
    user_id: UserId, session: SessionDep, _: Principal = require("user:manage")
) -> list[TokenOut]:
    """List the API tokens of an account."""
    user = service.get_or_404(session=session, user_id=user_id)
    return [
        TokenOut.model_validate(row) for row in auth.list_api_tokens(session=session, user=user)
    ]


@router.delete(
    "/{user_id}/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an account's API token",
)
def revoke_user_token(
    user_id: UserId,
    token_id: Annotated[int, PathParam(ge=1)],
    session: SessionDep,
    ctx: AuditCtx,
    _: Principal = require("user:manage"),
) -> None:
    """Revoke an API token of any account (e.g. a leaked one)."""
    user = service.get_or_404(session=session, user_id=user_id)
    auth.revoke_api_token(session=session, ctx=ctx, token_id=token_id, owner=user)
