"""Wire schemas of the security core (never the ORM classes)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from arverne.security.passwords import MIN_PASSWORD_LENGTH
from arverne.security.policy import Role


def _normalise_username(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


Username = Annotated[
    str,
    BeforeValidator(_normalise_username),
    StringConstraints(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$"),
]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=256)]
OtpCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_Strict):
    """Credentials for ``POST /api/v1/auth/login``."""

    username: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
    ]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    otp: OtpCode | None = None


class LoginOut(BaseModel):
    """Result of a successful login; the session itself travels in an HttpOnly cookie."""

    user: UserOut
    csrf_token: str
    expires_at: dt.datetime
    mfa_setup_required: bool = False
    password_change_required: bool = False


class UserCreate(_Strict):
    """A new account."""

    username: Username
    full_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    email: EmailStr | None = None
    password: Password
    roles: Annotated[list[Role], Field(min_length=1)]

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, value: list[Role]) -> list[Role]:
        return sorted(set(value))


class UserUpdate(_Strict):
    """Changes to an account; absent fields are left as they are."""

    full_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = None
    email: EmailStr | None = None
    roles: Annotated[list[Role], Field(min_length=1)] | None = None
    is_active: bool | None = None


class PasswordReset(_Strict):
    """A new password set by an administrator."""

    password: Password


class PasswordChange(_Strict):
    """A user changing their own password."""

    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Password


class UserOut(BaseModel):
    """An account as shown to administrators and to its owner."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    email: str | None
    roles: list[str]
    is_active: bool
    totp_enabled: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime
    must_change_password: bool = Field(
        default=False, description="the password was set by an administrator (temporary)"
    )
    last_sign_in_at: dt.datetime | None = Field(
        default=None, description="last console sign-in (not filled in for a new account)"
    )


class MeOut(UserOut):
    """The signed-in user, with what they may do."""

    permissions: list[str]
    mfa_setup_required: bool = False
    password_change_required: bool = False


class SessionOut(BaseModel):
    """An open console session of an account, as its administrators see it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    client_addr: str | None


class SessionsEnded(BaseModel):
    """How many console sessions were ended."""

    ended: int


class TokenCreate(_Strict):
    """Request for a new API token."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    days: Annotated[int, Field(ge=1, le=3650)] | None = None


class TokenOut(BaseModel):
    """An API token as listed (never the secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    user_id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreated(TokenOut):
    """A new API token; ``token`` is shown this once and never again."""

    token: str


class MfaSetupOut(BaseModel):
    """A TOTP secret to load into an authenticator app, pending confirmation."""

    secret: str
    otpauth_uri: str


class MfaConfirmIn(_Strict):
    """The first code from the authenticator app, which turns TOTP on."""

    otp: OtpCode


class AuditEntryOut(BaseModel):
    """One audit entry."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: dt.datetime
    actor_id: int | None
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    reason: str | None
    request_id: str | None
    client_addr: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class ChainReportOut(BaseModel):
    """Result of verifying the audit chain."""

    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None


LoginOut.model_rebuild()
