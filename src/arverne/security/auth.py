"""Authentication flows: login with lockout and TOTP, sessions, API tokens, MFA enrolment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.errors import AuthenticationError, InvalidInputError, NotFoundError
from arverne.security import audit, mfa, tokens
from arverne.security.audit import AuditContext
from arverne.security.models import ApiToken, User, UserRole, UserSession
from arverne.security.passwords import hash_password, needs_rehash, verify_password
from arverne.security.policy import roles_requiring_mfa
from arverne.security.principal import (
    Principal,
)
from arverne.security.service import clear_lockout, get_by_username
from arverne.store.types import utcnow

GENERIC_LOGIN_ERROR = "invalid credentials, or the account is temporarily locked or disabled"
MFA_REQUIRED_ERROR = "a one-time code from your authenticator app is required (field 'otp')"
_TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclasses.dataclass(frozen=True, slots=True)
class LoginOutcome:
    """What a login attempt produced; ``error`` is set when it failed."""

    user: User | None
    session_token: str | None = None
    expires_at: dt.datetime | None = None
    mfa_setup_required: bool = False
    password_change_required: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the login succeeded."""
        return self.error is None


def _mfa_restricted(
    settings: Settings, roles: Sequence[str], *, totp_enabled: bool, mfa_ok: bool
) -> bool:
    if not settings.require_mfa or not roles_requiring_mfa(roles):
        return False
    return not (totp_enabled and mfa_ok)


def _fail(
    session: Session,
    ctx: AuditContext,
    *,
    user: User | None,
    username: str,
    why: str,
    error: str = GENERIC_LOGIN_ERROR,
) -> LoginOutcome:
    audit.record(
        session,
        ctx,
        action="auth.login_failed",
        object_type="user",
        object_id=user.id if user else None,
        details={"username": username, "why": why},
    )
    return LoginOutcome(user=user, error=error)


def _count_failure(session: Session, ctx: AuditContext, settings: Settings, user: User) -> None:
    user.failed_logins += 1
    if user.failed_logins >= settings.lockout_threshold:
        user.locked_until = utcnow() + dt.timedelta(minutes=settings.lockout_minutes)
        user.failed_logins = 0
        audit.record(
            session,
            ctx,
            action="auth.lockout",
            object_type="user",
            object_id=user.id,
            details={"minutes": settings.lockout_minutes},
        )


def _check_otp(user: User, settings: Settings, otp: str) -> bool:
    if not user.totp_secret:
        return False
    step = mfa.matching_step(tokens.decrypt(settings.secret_key, user.totp_secret), otp)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def login(
    *,
    session: Session,
    settings: Settings,
    ctx: AuditContext,
    username: str,
    password: str,
    otp: str | None = None,
) -> LoginOutcome:
    """Check credentials and open a browser session.

    Failed attempts are counted and audited; after ``lockout_threshold`` failures the
    account is locked for ``lockout_minutes``. The caller must commit even when the
    outcome is a failure, so that the count and the audit entry are kept.
    """
    now = utcnow()
    user = get_by_username(session=session, username=username)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        return _fail(session, ctx, user=None, username=username, why="unknown user")
    if user.locked_until is not None and user.locked_until > now:
        return _fail(session, ctx, user=user, username=username, why="locked")
    if not user.is_active:
        return _fail(session, ctx, user=user, username=username, why="disabled")
    if not password_ok:
        _count_failure(session, ctx, settings, user)
        return _fail(session, ctx, user=user, username=username, why="bad password")
    if user.totp_enabled:
        if not otp:
            return LoginOutcome(user=user, error=MFA_REQUIRED_ERROR)
        if not _check_otp(user, settings, otp):
            _count_failure(session, ctx, settings, user)
            return _fail(session, ctx, user=user, username=username, why="bad one-time code")
    clear_lockout(user)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = tokens.new_session_token()
    expires = now + dt.timedelta(hours=settings.session_max_hours)
    session.add(
        UserSession(
            token_hash=tokens.token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            mfa_ok=user.totp_enabled,
            client_addr=ctx.client_addr,
        )
    )
    restricted = _mfa_restricted(
        settings, user.roles, totp_enabled=user.totp_enabled, mfa_ok=user.totp_enabled
    )
    session.flush()
    audit.record(
        session,
        ctx,
        action="auth.login",
        object_type="user",
        object_id=user.id,
        details={"mfa": user.totp_enabled, "mfa_setup_required": restricted},
    )
    return LoginOutcome(
        user=user,
        session_token=token,
        expires_at=expires,
        mfa_setup_required=restricted,
        password_change_required=user.must_change_password,
    )


# Built once: every request runs one of these (building and hashing a statement costs
# more than running it).
def _credential_query(table: type[UserSession] | type[ApiToken], *extra: Any) -> Select[Any]:
    """One statement for a credential, its user and the user's roles (one row per role)."""
    return (
        select(
            table.id,
            table.expires_at,
            table.revoked_at,
            *extra,
            User.id.label("user_id"),
            User.username,
            User.full_name,
            User.is_active,
            User.totp_enabled,
            User.must_change_password,
            UserRole.role,
        )
        .join(User, User.id == table.user_id)
        .outerjoin(UserRole, UserRole.user_id == User.id)
        .where(table.token_hash == bindparam("digest"))
    )


@functools.cache
def _session_by_digest() -> Select[Any]:
    return _credential_query(UserSession, UserSession.last_seen_at, UserSession.mfa_ok)


@functools.cache
def _token_by_digest() -> Select[Any]:
    return _credential_query(ApiToken, ApiToken.last_used_at)


def _principal(
    settings: Settings, rows: Sequence[Row[Any]], *, via: str, mfa_ok: bool, **kwargs: Any
) -> Principal:
    user = rows[0]
    roles = tuple(sorted(r.role for r in rows if r.role is not None))
    restricted = _mfa_restricted(settings, roles, totp_enabled=user.totp_enabled, mfa_ok=mfa_ok)
    return Principal(
        user_id=user.user_id,
        username=user.username,
        full_name=user.full_name,
        roles=roles,
        via=via,
        mfa_setup_required=restricted,
        # A browser session with a password someone else set can only replace it; API
        # tokens (made by an administrator, or by the owner once the password is theirs)
        # are deliberate and keep working.
        password_change_required=via == "session" and bool(user.must_change_password),
        **kwargs,
    )


def resolve_session(
    *, session: Session, settings: Settings, token: str, touch: bool = True
) -> Principal | None:
    """Return the principal of a session cookie, or ``None`` if it is unknown or expired.

    A session idle for longer than ``session_idle_minutes`` is revoked. With
    ``touch=False`` nothing is written (read-only requests call :func:`touch` apart).
    One statement reads the session, its user and the user's roles.
    """
    rows = session.execute(_session_by_digest(), {"digest": tokens.token_digest(token)}).all()
    now = utcnow()
    if not rows or rows[0].revoked_at is not None or rows[0].expires_at <= now:
        return None
    row = rows[0]
    if now - row.last_seen_at > dt.timedelta(minutes=settings.session_idle_minutes):
        if touch:
            _update(session, UserSession, row.id, revoked_at=now)
        return None
    if not row.is_active:
        return None
    due = now - row.last_seen_at > _TOUCH_EVERY
    if touch and due:
        _update(session, UserSession, row.id, last_seen_at=now)
    return _principal(
        settings, rows, via="session", mfa_ok=row.mfa_ok, session_token=token,
        touch_due=due and not touch,
    )  # fmt: skip


def resolve_api_token(
    *, session: Session, settings: Settings, token: str, touch: bool = True
) -> Principal | None:
    """Return the principal of a bearer token, or ``None`` if unknown, expired or revoked."""
    rows = session.execute(_token_by_digest(), {"digest": tokens.token_digest(token)}).all()
    now = utcnow()
    if not rows or rows[0].revoked_at is not None or rows[0].expires_at <= now:
        return None
    row = rows[0]
    if not row.is_active:
        return None
    due = row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY
    if touch and due:
        _update(session, ApiToken, row.id, last_used_at=now)
    return _principal(settings, rows, via="token", mfa_ok=True, touch_due=due and not touch)


def _update(
    session: Session, table: type[UserSession] | type[ApiToken], row_id: int, **values: Any
) -> None:
    stmt = update(table).where(table.id == row_id).values(**values)
    session.execute(stmt.execution_options(synchronize_session=False))


def touch(*, session: Session, settings: Settings, token: str, via: str) -> None:
    """Record that a session or token was just used (in its own short transaction)."""
    if via == "token":
        resolve_api_token(session=session, settings=settings, token=token)
    else:
        resolve_session(session=session, settings=settings, token=token)


def logout(*, session: Session, ctx: AuditContext, token: str) -> None:
    """Revoke the session behind ``token`` (idempotent)."""
    row = session.scalar(
        select(UserSession).where(UserSession.token_hash == tokens.token_digest(token))
    )
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, ctx, action="auth.logout", object_type="user", object_id=row.user_id)


def create_api_token(
    *,
    session: Session,
    settings: Settings,
    ctx: AuditContext,
    user: User,
    name: str,
    days: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a bearer token for ``user``; returns the row and the secret (shown once)."""
    secret = tokens.new_api_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=tokens.token_digest(secret),
        prefix=secret[:10],
        created_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(days=days or settings.api_token_days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        ctx,
        action="token.create",
        object_type="api_token",
        object_id=row.id,
        details={"user_id": user.id, "name": name},
    )
    return row, secret


def list_api_tokens(*, session: Session, user: User | None = None) -> Sequence[ApiToken]:
    """Return API tokens, of one user or of everyone, newest first."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return session.scalars(query).all()


def revoke_api_token(
    *, session: Session, ctx: AuditContext, token_id: int, owner: User | None = None
) -> ApiToken:
    """Revoke a token; with ``owner`` set, only that user's tokens can be revoked."""
    row = session.get(ApiToken, token_id)
    if row is None or (owner is not None and row.user_id != owner.id):
        raise NotFoundError("api token", token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, ctx, action="token.revoke", object_type="api_token", object_id=row.id)
    return row


def begin_mfa_setup(
    *, session: Session, settings: Settings, ctx: AuditContext, user: User
) -> tuple[str, str]:
    """Generate a TOTP secret for ``user`` (not active until confirmed).

    Returns the secret and its ``otpauth://`` URI.
    """
    if user.totp_enabled:
        raise InvalidInputError(
            "otp", "two-factor authentication is already on; ask an admin to reset it first"
        )
    secret = mfa.new_secret()
    user.totp_secret = tokens.encrypt(settings.secret_key, secret)
    user.totp_last_step = None
    audit.record(session, ctx, action="mfa.setup", object_type="user", object_id=user.id)
    return secret, mfa.provisioning_uri(secret, username=user.username)


def confirm_mfa(
    *, session: Session, settings: Settings, ctx: AuditContext, principal: Principal, otp: str
) -> None:
    """Turn TOTP on after the user proved their app shows the right code."""
    user = principal.load_user(session)
    if user.totp_secret is None:
        raise InvalidInputError("otp", "start with POST /api/v1/auth/mfa/setup")
    if not _check_otp(user, settings, otp):
        raise InvalidInputError("otp", "the code does not match; check the phone's clock")
    user.totp_enabled = True
    if principal.session_token is not None:
        row = session.scalar(
            select(UserSession).where(
                UserSession.token_hash == tokens.token_digest(principal.session_token)
            )
        )
        if row is not None:
            row.mfa_ok = True
    audit.record(session, ctx, action="mfa.enable", object_type="user", object_id=user.id)


def authenticate_or_raise(principal: Principal | None) -> Principal:
    """Return ``principal`` or raise :class:`AuthenticationError`."""
    if principal is None:
        raise AuthenticationError("sign in first: send a session cookie or a bearer token")
    return principal
