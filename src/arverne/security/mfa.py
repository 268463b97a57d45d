"""Time-based one-time passwords (RFC 6238) with replay protection."""

from __future__ import annotations

import hmac
import time

import pyotp

ISSUER = "Arverne"
STEP_S = 30
# Accept the previous and next 30-second step too, for clocks that drift a little.
WINDOW_STEPS = 1


def new_secret() -> str:
    """Return a fresh base32 TOTP secret."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, username: str) -> str:
    """Return the ``otpauth://`` URI an authenticator app scans (as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """Return the time step ``code`` belongs to, or ``None`` if it is not valid now.

    Callers store the returned step and refuse codes of that step or older, so a code
    seen by someone over the user's shoulder cannot be used a second time.
    """
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // STEP_S)
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            return step
    return None


def current_code(secret: str, *, now: float | None = None) -> str:
    """Return the code an authenticator app shows now (for tests and the CLI)."""
    return pyotp.TOTP(secret).at(time.time() if now is None else now)
