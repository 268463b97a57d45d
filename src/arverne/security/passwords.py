"""Password hashing with Argon2id and the platform's password rules."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from arverne.errors import InvalidInputError

MIN_PASSWORD_LENGTH = 10
# A valid hash to verify against when the user does not exist, so that the time taken
# does not reveal whether a username is known.
_TIMING_DUMMY_PASSWORD = "timing-equaliser-not-a-real-password"  # noqa: S105


@functools.lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(_TIMING_DUMMY_PASSWORD)


def check_password_rules(password: str, *, username: str = "") -> None:
    """Refuse passwords that are too short or equal to the username.

    Raises
    ------
    InvalidInputError
        Naming the ``password`` field and the rule it breaks.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            "password", f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if username and password.casefold() == username.casefold():
        raise InvalidInputError("password", "must not be the same as the username")


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``.

    With ``password_hash=None`` (unknown user) a dummy hash is checked so the answer
    takes the same time either way.
    """
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Tell whether the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)
