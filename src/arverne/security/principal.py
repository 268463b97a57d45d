"""Who is calling: the immutable :class:`Principal` of a request, and its per-process cache."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from arverne.errors import AuthenticationError
from arverne.security.audit import AuditContext
from arverne.security.models import ApiToken, User, UserRole, UserSession
from arverne.security.policy import permissions_for


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request: a snapshot, bound to no database session.

    Being immutable and detached, a principal can be cached between requests (see
    :class:`PrincipalCache`); code that changes the user loads it with :meth:`load_user`.
    """

    user_id: int
    username: str
    roles: tuple[str, ...]
    via: str  # "session", "token" or "cli"
    full_name: str = ""
    mfa_setup_required: bool = False
    # A session whose password was set by someone else: it may only choose its own.
    password_change_required: bool = False
    session_token: str | None = None
    # The session/token was last marked as used over a minute ago and the resolve did
    # not mark it (``touch=False``): call ``auth.touch`` in a write transaction.
    touch_due: bool = False

    @property
    def permissions(self) -> frozenset[str]:
        """What the caller may do; nothing while a required second factor is missing or
        while the password is one somebody else set."""
        if self.mfa_setup_required or self.password_change_required:
            return frozenset()
        return permissions_for(self.roles)

    def audit_context(
        self, *, request_id: str | None = None, client_addr: str | None = None
    ) -> AuditContext:
        """Return the audit context of actions taken by this caller."""
        return AuditContext(
            actor=self.username,
            actor_id=self.user_id,
            request_id=request_id,
            client_addr=client_addr,
        )

    def load_user(self, session: Session) -> User:
        """Return the caller's user row in ``session`` (to change it or read more of it)."""
        user = session.get(User, self.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("your account no longer exists or was disabled")
        return user


CREDENTIAL_MODELS = (User, UserRole, UserSession, ApiToken)
_CREDENTIALS_CHANGED = "arverne_credentials_changed"


def watch_credentials(session: Session, *_args: Any) -> None:
    """``before_flush`` hook: note in ``session.info`` that users or credentials change.

    Installed on every session by :func:`install_credential_watch`; ask
    :func:`credentials_changed` after the commit, to drop cached principals.
    """
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, CREDENTIAL_MODELS):
            session.info[_CREDENTIALS_CHANGED] = True
            return


def install_credential_watch() -> None:
    """Run :func:`watch_credentials` before every flush of every session (idempotent).

    It is installed on the :class:`~sqlalchemy.orm.Session` class, not on a session
    factory: SQLAlchemy keys listeners by the ``id()`` of their target, so a factory
    made where a dead one was (tests make one per test) could pass for it, be thought
    already watched, and leave principals cached after a password change.
    """
    if not event.contains(Session, "before_flush", watch_credentials):
        event.listen(Session, "before_flush", watch_credentials)


def credentials_changed(session: Session) -> bool:
    """Tell (once) whether ``session`` changed users, roles, sessions or tokens."""
    return bool(session.info.pop(_CREDENTIALS_CHANGED, False))


class PrincipalCache:
    """Resolved principals by credential, reused for ``ttl_s`` seconds.

    Resolving a bearer token or a session cookie reads the database; a client sending
    many requests would pay it on each. Entries expire after ``ttl_s`` (0 disables the
    cache) and :meth:`clear` drops them all when this process changes credentials.
    Thread-safe for the dict operations it uses.

    Parameters
    ----------
    ttl_s
        How long an entry stays valid, in seconds.
    max_entries
        Bound on the number of entries; the cache is emptied when it is reached.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._generation = 0

    def get(self, key: str) -> Principal | None:
        """Return the cached principal of ``key`` if it is still fresh."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() - entry[0] > self.ttl_s:
            self._entries.pop(key, None)
            return None
        return entry[1]

    @property
    def generation(self) -> int:
        """How many times the cache was cleared: read it before resolving a principal."""
        return self._generation

    def put(self, key: str, principal: Principal, generation: int | None = None) -> None:
        """Remember ``principal`` for ``key`` (nothing when the cache is disabled).

        With ``generation`` (the value of :attr:`generation` read before the principal
        was resolved), nothing is kept if the cache was cleared since: the principal
        may have been read before a concurrent request changed the credentials.
        """
        if self.ttl_s <= 0 or (generation is not None and generation != self._generation):
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), dataclasses.replace(principal, touch_due=False))

    def clear(self) -> None:
        """Forget every principal (credentials changed)."""
        self._generation += 1
        self._entries.clear()
