"""Sign in and out, the caller's own account, API tokens and two-factor enrolment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status
from fastapi import Path as PathParam
from sqlalchemy.orm import Session

from arverne.errors import AuthenticationError, InvalidInputError
from arverne.security import auth, tokens
from arverne.security.passwords import verify_password
from arverne.security.policy import POLICY, ROLE_DESCRIPTIONS
from arverne.security.principal import Principal
from arverne.security.schemas import (
    LoginIn,
    LoginOut,
    MeOut,
    MfaConfirmIn,
    MfaSetupOut,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
)
from arverne.security.service import reset_password
from arverne.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AnonymousAuditCtx,
    AuditCtx,
    CurrentPrincipal,
    SessionDep,
    SettingsDep,
)
from arverne.web.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1/auth", tags=["auth"])
roles_router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", tags=["auth"])


def _me(principal: Principal, session: Session) -> MeOut:
    return MeOut(
        **UserOut.model_validate(principal.load_user(session)).model_dump(),
        permissions=sorted(principal.permissions),
        mfa_setup_required=principal.mfa_setup_required,
        password_change_required=principal.password_change_required,
    )


@router.post("/login", summary="Sign in; sets the session cookie")
def login(
    body: LoginIn,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AnonymousAuditCtx,
) -> LoginOut:
    """Check credentials (and the one-time code when the account has TOTP on).

    Answers 401 without saying whether the username or the password was wrong.
    """
    outcome = auth.login(
        session=session,
        settings=settings,
        ctx=ctx,
        username=body.username,
        password=body.password,
        otp=body.otp,
    )
    if not outcome.ok:
        session.commit()  # keep the failure count and the audit entry
        raise AuthenticationError(outcome.error or auth.GENERIC_LOGIN_ERROR)
    assert outcome.user is not None
    assert outcome.session_token is not None
    assert outcome.expires_at is not None
    csrf = tokens.csrf_token(settings.secret_key, outcome.session_token)
    max_age = settings.session_max_hours * 3600
    response.set_cookie(
        SESSION_COOKIE,
        outcome.session_token,
        max_age=max_age,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        httponly=False,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return LoginOut(
        user=UserOut.model_validate(outcome.user),
        csrf_token=csrf,
        expires_at=outcome.expires_at,
        mfa_setup_required=outcome.mfa_setup_required,
        password_change_required=outcome.password_change_required,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End the session")
def logout(
    principal: CurrentPrincipal, response: Response, session: SessionDep, ctx: AuditCtx
) -> None:
    """Revoke the current session and clear its cookies."""
    if principal.session_token is not None:
        auth.logout(session=session, ctx=ctx, token=principal.session_token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", summary="Who am I, and what may I do")
def me(principal: CurrentPrincipal, session: SessionDep) -> MeOut:
    """Return the signed-in account with its roles and permissions."""
    return _me(principal, session)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, summary="Change my password")
def change_password(
    body: PasswordChange, principal: CurrentPrincipal, session: SessionDep, ctx: AuditCtx
) -> None:
    """Change one's own password; every session and token of the account is then revoked."""
    user = principal.load_user(session)
    if not verify_password(user.password_hash, body.current_password):
        raise InvalidInputError("current_password", "is not your current password")
    reset_password(session=session, ctx=ctx, user=user, password=body.new_password)


@router.post("/mfa/setup", summary="Start two-factor enrolment")
def mfa_setup(
    principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep, ctx: AuditCtx
) -> MfaSetupOut:
    """Create a TOTP secret; load it in an authenticator app, then confirm with a code."""
    secret, uri = auth.begin_mfa_setup(
        session=session, settings=settings, ctx=ctx, user=principal.load_user(session)
    )
    return MfaSetupOut(secret=secret, otpauth_uri=uri)


@router.post("/mfa/confirm", status_code=status.HTTP_204_NO_CONTENT, summary="Turn 2FA on")
def mfa_confirm(
    body: MfaConfirmIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
) -> None:
    """Check the first code from the app and turn two-factor authentication on."""
    auth.confirm_mfa(session=session, settings=settings, ctx=ctx, principal=principal, otp=body.otp)


@router.get("/tokens", summary="My API tokens")
def list_my_tokens(principal: CurrentPrincipal, session: SessionDep) -> list[TokenOut]:
    """List the caller's API tokens (never their secrets)."""
    rows = auth.list_api_tokens(session=session, user=principal.load_user(session))
    return [TokenOut.model_validate(row) for row in rows]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, summary="Create an API token")
def create_my_token(
    body: TokenCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    ctx: AuditCtx,
) -> TokenCreated:
    """Create a bearer token for programs; the secret is shown only in this response."""
    if principal.mfa_setup_required:
        raise InvalidInputError("mfa", "enrol in two-factor authentication before making tokens")
    if principal.password_change_required:
        raise InvalidInputError("password", "choose your own password before making tokens")
    row, secret = auth.create_api_token(
        session=session,
        settings=settings,
        ctx=ctx,
        user=principal.load_user(session),
        name=body.name,
        days=body.days,
    )
    return TokenCreated(**TokenOut.model_validate(row).model_dump(), token=secret)


@router.delete(
    "/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke my API token"
)
def revoke_my_token(
    token_id: Annotated[int, PathParam(ge=1)],
    principal: CurrentPrincipal,
    session: SessionDep,
    ctx: AuditCtx,
) -> None:
    """Revoke one of the caller's tokens.

    It stops working at once on this server process, and within ``auth_cache_seconds``
    (5 s by default) on the others.
    """
    owner = principal.load_user(session)
    auth.revoke_api_token(session=session, ctx=ctx, token_id=token_id, owner=owner)


@roles_router.get("/roles", summary="Roles and their permissions")
def roles(principal: CurrentPrincipal) -> list[dict[str, object]]:
    """Return the policy table: each role, what it is for, and its permissions."""
    return [
        {"role": role.value, "description": ROLE_DESCRIPTIONS[role], "permissions": sorted(perms)}
        for role, perms in POLICY.items()
    ]
