"""Random secrets for sessions and API tokens, CSRF tokens, and encryption at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

API_TOKEN_PREFIX = "arv_"  # noqa: S105 - a visible prefix, not a secret


def new_session_token() -> str:
    """Return a fresh, unguessable session cookie value."""
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    """Return a fresh API token; the prefix makes leaked tokens easy to spot."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret_key: str, session_token: str) -> str:
    """Return the CSRF token bound to a session (HMAC of the session with the secret key)."""
    mac = hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_matches(secret_key: str, session_token: str, candidate: str | None) -> bool:
    """Tell, in constant time, whether ``candidate`` is the session's CSRF token."""
    if not candidate:
        return False
    return hmac.compare_digest(csrf_token(secret_key, session_token), candidate)


def _fernet(secret_key: str) -> Fernet:
    key = hashlib.sha256(b"arverne-at-rest:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret_key: str, plaintext: str) -> str:
    """Encrypt a short secret (e.g. a TOTP seed) for storage."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, ciphertext: str) -> str:
    """Decrypt a value written by :func:`encrypt`.

    Raises
    ------
    ValueError
        If the value was encrypted with another ``ARVERNE_SECRET_KEY``.
    """
    try:
        return _fernet(secret_key).decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        msg = (
            "stored secret cannot be decrypted: ARVERNE_SECRET_KEY changed since it was "
            "written; reset the user's second factor with `arverne user reset-mfa`"
        )
        raise ValueError(msg) from exc
