"""Accounts: create, read, update, disable, reset passwords. Every write is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.errors import ConflictError, NotFoundError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.models import ApiToken, User, UserRole, UserSession
from arverne.security.passwords import check_password_rules, hash_password
from arverne.security.policy import Role
from arverne.security.schemas import UserCreate, UserUpdate
from arverne.store.types import utcnow


def get(*, session: Session, user_id: int) -> User | None:
    """Return the user with ``user_id``, or ``None``."""
    return session.get(User, user_id)


def get_or_404(*, session: Session, user_id: int) -> User:
    """Return the user with ``user_id`` or raise :class:`NotFoundError`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user", user_id)
    return user


def get_by_username(*, session: Session, username: str) -> User | None:
    """Return the user called ``username`` (case-insensitive), or ``None``."""
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def list_users(
    *, session: Session, include_inactive: bool = True, role: str | None = None
) -> Sequence[User]:
    """Return users ordered by username, optionally only active ones or one role."""
    query = select(User).order_by(User.username)
    if not include_inactive:
        query = query.where(User.is_active.is_(True))
    if role is not None:
        query = query.where(User.role_rows.any(UserRole.role == role))
    return session.scalars(query).all()


def count_users(*, session: Session) -> int:
    """Return how many accounts exist."""
    return session.scalar(select(func.count()).select_from(User)) or 0


def create(
    *, session: Session, ctx: AuditContext, user_in: UserCreate, temporary: bool = False
) -> User:
    """Create an account; with ``temporary`` (a password set for somebody else) its owner
    must choose their own at the first sign-in before doing anything else.

    Raises
    ------
    ConflictError
        If the username is taken.
    InvalidInputError
        If the password breaks the rules.
    """
    if get_by_username(session=session, username=user_in.username) is not None:
        raise ConflictError(f"username {user_in.username!r} is already taken; choose another")
    check_password_rules(user_in.password, username=user_in.username)
    user = User(
        username=user_in.username,
        full_name=user_in.full_name,
        email=user_in.email,
        password_hash=hash_password(user_in.password),
        is_active=True,
        failed_logins=0,
        totp_enabled=False,
        must_change_password=temporary,
        role_rows=[UserRole(role=role.value) for role in user_in.roles],
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        ctx,
        action="user.create",
        object_type="user",
        object_id=user.id,
        details={"username": user.username, "roles": user.roles, "temporary": temporary},
    )
    return user


def update(*, session: Session, ctx: AuditContext, user: User, user_in: UserUpdate) -> User:
    """Apply the fields set in ``user_in``; disabling an account ends its sessions and tokens.

    Raises
    ------
    ConflictError
        If the change would disable the caller's own account, or leave the platform
        without an active administrator (nobody could manage accounts any more).
    """
    changes = user_in.model_dump(exclude_unset=True)
    _keep_an_administrator(session=session, ctx=ctx, user=user, user_in=user_in)
    if "full_name" in changes and user_in.full_name is not None:
        user.full_name = user_in.full_name
    if "email" in changes:
        user.email = user_in.email
    if user_in.roles is not None:
        wanted = {role.value for role in user_in.roles}
        user.role_rows = [row for row in user.role_rows if row.role in wanted] + [
            UserRole(role=role) for role in sorted(wanted - set(user.roles))
        ]
    if user_in.is_active is not None and user_in.is_active != user.is_active:
        user.is_active = user_in.is_active
        if not user.is_active:
            revoke_all_credentials(session=session, user=user)
    session.flush()
    audit.record(
        session,
        ctx,
        action="user.update",
        object_type="user",
        object_id=user.id,
        details={"fields": sorted(changes), "roles": user.roles, "is_active": user.is_active},
    )
    return user


def _keep_an_administrator(
    *, session: Session, ctx: AuditContext, user: User, user_in: UserUpdate
) -> None:
    """Refuse a change that locks administrators out (checked before anything is written)."""
    disabling = user_in.is_active is False and user.is_active
    if disabling and ctx.actor_id == user.id:
        raise ConflictError(
            "you cannot disable your own account; ask another administrator to do it"
        )
    if not user.is_active or Role.ADMIN.value not in user.roles:
        return  # not an administrator now: nothing is taken away
    if not disabling and (user_in.roles is None or Role.ADMIN in user_in.roles):
        return  # stays one
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            User.id != user.id,
            User.is_active.is_(True),
            User.role_rows.any(UserRole.role == Role.ADMIN.value),
        )
    )
    if not others:
        raise ConflictError(
            f"{user.username!r} is the last active administrator: give another account the "
            "admin role first, or nobody could manage accounts any more"
        )


def clear_lockout(user: User) -> bool:
    """Forget the failed sign-ins and any lockout of ``user``; return whether there was
    one of either (a successful sign-in, an unlock and a password reset all do this)."""
    had = user.locked_until is not None or user.failed_logins > 0
    user.failed_logins = 0
    user.locked_until = None
    return had


def unlock(*, session: Session, ctx: AuditContext, user: User) -> User:
    """Lift a lockout after failed sign-ins (the password and sessions are kept)."""
    was_locked = clear_lockout(user)
    session.flush()
    audit.record(
        session,
        ctx,
        action="user.unlock",
        object_type="user",
        object_id=user.id,
        details={"was_locked": was_locked},
    )
    return user


def last_sign_ins(*, session: Session, user_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """When each of ``user_ids`` last signed in to the console (accounts that never did
    are left out); API tokens are not sign-ins (their ``last_used_at`` says when)."""
    if not user_ids:
        return {}
    rows = session.execute(
        select(UserSession.user_id, func.max(UserSession.created_at))
        .where(UserSession.user_id.in_(sorted(set(user_ids))))
        .group_by(UserSession.user_id)
    ).all()
    return {int(user_id): at for user_id, at in rows if at is not None}


def set_active(*, session: Session, ctx: AuditContext, user: User, active: bool) -> User:
    """Enable or disable an account (disabling revokes its sessions and tokens)."""
    return update(session=session, ctx=ctx, user=user, user_in=UserUpdate(is_active=active))


def reset_password(
    *, session: Session, ctx: AuditContext, user: User, password: str, temporary: bool = False
) -> User:
    """Set a new password, clear the lockout and end the user's sessions and tokens.

    ``temporary``: the password is set for somebody else (an administrator's reset), who
    must then choose their own before doing anything else; the owner's own change clears
    that.
    """
    check_password_rules(password, username=user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    clear_lockout(user)
    revoke_all_credentials(session=session, user=user)
    session.flush()
    audit.record(
        session,
        ctx,
        action="user.reset_password",
        object_type="user",
        object_id=user.id,
        details={"temporary": temporary},
    )
    return user


def reset_mfa(*, session: Session, ctx: AuditContext, user: User) -> User:
    """Remove the user's second factor (lost phone); they enrol again at next login."""
    user.totp_secret = None
    user.totp_enabled = False
    revoke_all_credentials(session=session, user=user)
    session.flush()
    audit.record(session, ctx, action="user.reset_mfa", object_type="user", object_id=user.id)
    return user


def open_sessions(*, session: Session, user_id: int, idle_minutes: int) -> Sequence[UserSession]:
    """The account's console sessions still open (neither revoked, expired nor idle for
    ``idle_minutes``), the most recently used first."""
    now = utcnow()
    return session.scalars(
        select(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            UserSession.last_seen_at > now - dt.timedelta(minutes=idle_minutes),
        )
        .order_by(UserSession.last_seen_at.desc())
    ).all()


def end_sessions(*, session: Session, ctx: AuditContext, user: User, idle_minutes: int) -> int:
    """Sign the account out of every console session (a lost phone or tablet); its API
    tokens and password are kept. Returns how many sessions were ended."""
    rows = open_sessions(session=session, user_id=user.id, idle_minutes=idle_minutes)
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    session.flush()
    audit.record(
        session,
        ctx,
        action="user.end_sessions",
        object_type="user",
        object_id=user.id,
        details={"sessions": len(rows)},
    )
    return len(rows)


def revoke_all_credentials(*, session: Session, user: User) -> None:
    """Revoke every open session and API token of ``user``."""
    now = utcnow()
    for open_session in session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    ):
        open_session.revoked_at = now
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = now
