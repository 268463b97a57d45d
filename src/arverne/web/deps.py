"""Request dependencies: settings, database session, caller, permissions, audit context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Header, Request
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch.city import CityModel
from arverne.errors import AuthenticationError, ForbiddenError
from arverne.security import auth, tokens
from arverne.security.audit import AuditContext
from arverne.security.policy import PERMISSIONS
from arverne.security.principal import Principal, PrincipalCache, credentials_changed
from arverne.store.batch import attach
from arverne.store.session import (
    begin_read_phase,
    end_read_phase,
)

SESSION_COOKIE = "arverne_session"
CSRF_COOKIE = "arverne_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # methods that must not change state


async def get_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def _tx_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "tx_limiter", None)
    if limiter is None:
        limiter = request.app.state.tx_limiter = anyio.CapacityLimiter(32)
    return limiter


async def get_db(request: Request) -> AsyncIterator[Session]:
    """Yield the request's session: one transaction, committed before the response is sent.

    Safe methods (GET, HEAD) read in a deferred transaction (begun in the worker thread
    of the first dependency or endpoint that uses the session, never on the event loop):
    on SQLite they then never queue behind writers for the write lock (WAL readers see
    the last commit). The commit (or rollback) runs in worker threads of its own: it
    releases the write lock, so it must never queue behind requests waiting for it.
    """
    limiter = _tx_limiter(request)
    session = request.app.state.sessionmaker()
    if request.app.state.group_commit is not None:  # write routes may share commits
        attach(session, request.app.state.group_commit)
    try:
        yield session
        if session.in_transaction():  # usually done already by the endpoint's own commit
            await anyio.to_thread.run_sync(session.commit, limiter=limiter)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(session.rollback, limiter=limiter)
        raise
    finally:
        session.close()  # no transaction is left: nothing to send to the database
    if credentials_changed(session):  # committed: cached principals may be stale
        _principal_cache(request).clear()


logger = logging.getLogger("arverne.web")
# Dependencies that only read the request or the app state are coroutines: FastAPI runs a
# plain function in a worker thread, and each such hop costs CPU and waits in the queue.
SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit happens when the endpoint returns, before the response is sent,
# so a client never sees success for a write that then failed to commit.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


async def _csrf_candidate(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header or request.method in SAFE_METHODS:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FORM_FIELD)
        return value if isinstance(value, str) else None
    return None


def record_use(session: Session, settings: Settings, token: str, via: str) -> None:
    """Mark a session or token as used (or revoke an idle session), best effort.

    Runs on the request's own session, in a short write transaction of its own after the
    current one ends: a request never holds a pooled connection while it waits for
    another (a burst of requests would otherwise exhaust the pool and wait for each
    other). If the write is refused under contention, the next request records the use.
    """
    session.commit()
    try:
        auth.touch(session=session, settings=settings, token=token, via=via)
        session.commit()
    except OperationalError:
        session.rollback()
        logger.warning("could not record the use of a %s; will retry on the next request", via)


def _settle(
    request: Request, session: Session, settings: Settings, principal: Principal, token: str
) -> Principal:
    """End the read phase of a write request; record the use of the session or token."""
    safe = request.method in SAFE_METHODS
    if principal.touch_due:  # at most once a minute per session or token
        record_use(session, settings, token, principal.via)
        if safe:
            begin_read_phase(session)  # the endpoint reads in a deferred transaction again
    elif not safe:
        # The caller was identified in a read transaction: end it, so the request's
        # writes take the write lock only in the endpoint, for as short a time as possible.
        end_read_phase(session)
    return principal


def _principal_cache(request: Request) -> PrincipalCache:
    cache: PrincipalCache = request.app.state.principal_cache  # made by create_app
    return cache


def _credentials(request: Request) -> tuple[str, str] | None:
    """The bearer token or session cookie of the request, with its kind."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("use the header 'Authorization: Bearer <token>'")
        return token, "token"
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, "session") if cookie else None


def resolve_caller(
    request: Request, session: Session, settings: Settings, token: str, via: str
) -> Principal:
    """Read the principal of a token or cookie from the database (in a worker thread).

    Records the use of the session or token when due (revoking an idle session) and
    leaves the session reading (safe methods) or ready to write. Raises
    :class:`AuthenticationError` when the credential is unknown, expired or revoked.
    """
    begin_read_phase(session)  # SQLite: a reader until _settle ends this phase
    if via == "token":
        principal = auth.resolve_api_token(
            session=session, settings=settings, token=token, touch=False
        )
        if principal is None:
            raise AuthenticationError("the bearer token is unknown, expired or revoked")
    else:
        principal = auth.resolve_session(
            session=session, settings=settings, token=token, touch=False
        )
        if principal is None:
            record_use(session, settings, token, "session")  # revokes an idle session
            raise AuthenticationError("your session has expired; sign in again")
    return _settle(request, session, settings, principal, token)


async def get_principal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str | None, Depends(_csrf_candidate)],
) -> Principal | None:
    """Identify the caller from a bearer token or the session cookie.

    A principal resolved in the last ``auth_cache_seconds`` is reused without touching
    the database (nor a worker thread). Cookie-authenticated requests that change state
    must carry the session's CSRF token (header ``X-CSRF-Token`` or form field
    ``csrf_token``).
    """
    found = _credentials(request)
    if found is None:
        return None
    token, via = found
    cache = _principal_cache(request)
    key = f"{via}:{tokens.token_digest(token)}"
    principal = cache.get(key)
    if principal is None:
        generation = cache.generation  # a change committed meanwhile voids what is read
        principal = await anyio.to_thread.run_sync(
            resolve_caller, request, session, settings, token, via
        )
        cache.put(key, principal, generation)
    if (
        via == "session"
        and request.method not in SAFE_METHODS
        and not tokens.csrf_matches(settings.secret_key, token, csrf)
    ):
        raise ForbiddenError(
            "missing or wrong CSRF token: send the value of the 'arverne_csrf' cookie "
            "in the X-CSRF-Token header"
        )
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(get_principal)],
) -> Principal:
    """Return the caller or answer 401."""
    return auth.authenticate_or_raise(principal)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class Require:
    """Dependency that lets the request through only if the caller has ``permission``.

    The permission is kept on the instance so tests can list what every route needs.
    """

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            msg = f"unknown permission {permission!r}; add it to security.policy.PERMISSIONS"
            raise ValueError(msg)
        self.permission = permission

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if principal.mfa_setup_required:
            raise ForbiddenError(
                "your role requires two-factor authentication: enrol with "
                "POST /api/v1/auth/mfa/setup then POST /api/v1/auth/mfa/confirm"
            )
        if principal.password_change_required:
            raise ForbiddenError(
                "your password was set by an administrator: choose your own first "
                "(POST /api/v1/auth/password, or « Mon compte » in the console)"
            )
        if self.permission not in principal.permissions:
            roles = ", ".join(principal.roles) or "none"
            raise ForbiddenError(
                f"your roles ({roles}) do not grant '{self.permission}'; ask an administrator"
            )
        return principal


def require(permission: str) -> Principal:
    """Declare on a route parameter that the caller needs ``permission``.

    Use as ``principal: Principal = require("user:manage")``.
    """
    dependency: Principal = Depends(Require(permission))
    return dependency


async def audit_context(request: Request, principal: CurrentPrincipal) -> AuditContext:
    """Return the audit context (actor, request id, client address) of this request."""
    return principal.audit_context(
        request_id=getattr(request.state, "request_id", None),
        client_addr=request.client.host if request.client else None,
    )


async def anonymous_audit_context(request: Request) -> AuditContext:
    """Audit context for requests made before signing in (login attempts)."""
    return AuditContext(
        actor="anonymous",
        request_id=getattr(request.state, "request_id", None),
        client_addr=request.client.host if request.client else None,
    )


AuditCtx = Annotated[AuditContext, Depends(audit_context)]
AnonymousAuditCtx = Annotated[AuditContext, Depends(anonymous_audit_context)]
AccessReason = Annotated[
    str | None,
    Header(
        alias="X-Access-Reason",
        description="Why you consult this personal data; recorded in the audit log.",
        max_length=500,
    ),
]


async def get_city(request: Request) -> CityModel:
    """Return the city model the app was created with."""
    city: CityModel = request.app.state.city
    return city


CityDep = Annotated[CityModel, Depends(get_city)]
