"""Officers: create, list, and link to the login account they use.

An officer's link to an account is what lets a patrol officer act for the unit they
crew (:mod:`arverne.dispatch.crew`). Reads of officers are personal data: the callers
that show them record who read them and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.errors import ConflictError, InvalidInputError, NotFoundError
from arverne.people.models import Officer
from arverne.people.schemas import OfficerIn
from arverne.security import audit
from arverne.security import service as users
from arverne.security.audit import AuditContext
from arverne.security.models import User


def get_by_badge(session: Session, badge: str) -> Officer:
    """Return the officer with ``badge``.

    Raises :class:`NotFoundError` when there is none.
    """
    officer = session.scalar(select(Officer).where(Officer.badge == badge))
    if officer is None:
        raise NotFoundError("officer", badge)
    return officer


def officer_of_user(session: Session, user_id: int) -> Officer | None:
    """Return the active officer linked to the account ``user_id``, if any."""
    return session.scalar(
        select(Officer).where(Officer.user_id == user_id, Officer.active.is_(True))
    )


def account_named(session: Session, username: str) -> User:
    """Return the login account ``username`` (to link to an officer).

    Raises :class:`InvalidInputError` on ``username`` when there is none.
    """
    account = users.get_by_username(session=session, username=username)
    if account is None:
        msg = f"no account called {username!r}; see `arverne user list`"
        raise InvalidInputError("username", msg)
    return account


def list_officers(session: Session) -> Sequence[Officer]:
    """Return every officer by badge."""
    return session.scalars(select(Officer).order_by(Officer.badge)).all()


def create_officer(session: Session, ctx: AuditContext, officer_in: OfficerIn) -> Officer:
    """Create an officer.

    Raises :class:`ConflictError` when the badge is already used.
    """
    if session.scalar(select(Officer.id).where(Officer.badge == officer_in.badge)) is not None:
        raise ConflictError(
            f"badge {officer_in.badge!r} is already used; see `arverne officer list`"
        )
    officer = Officer(
        badge=officer_in.badge,
        first_name=officer_in.first_name,
        last_name=officer_in.last_name,
        rank=officer_in.rank,
        active=True,
    )
    session.add(officer)
    session.flush()
    audit.record(session, ctx, action="officer.create", object_type="officer", object_id=officer.id)
    return officer


def link_user(session: Session, ctx: AuditContext, officer: Officer, user: User | None) -> Officer:
    """Link ``officer`` to the login account ``user`` (``None`` removes the link).

    An account is linked to one officer at most.

    Raises
    ------
    ConflictError
        ``user`` is already linked to another officer.
    """
    if user is not None:
        other = session.scalar(
            select(Officer).where(Officer.user_id == user.id, Officer.id != officer.id)
        )
        if other is not None:
            raise ConflictError(
                f"account {user.username!r} is already linked to officer {other.badge}; "
                f"unlink it first (`arverne officer link {other.badge} --unlink`)"
            )
    officer.user_id = user.id if user is not None else None
    session.flush()
    audit.record(
        session,
        ctx,
        action="officer.link" if user is not None else "officer.unlink",
        object_type="officer",
        object_id=officer.id,
        details={"username": user.username if user is not None else None},
    )
    return officer


def update_details(
    session: Session, ctx: AuditContext, officer: Officer, changes: dict[str, str | None]
) -> list[str]:
    """Change an officer's ``first_name``, ``last_name`` or ``rank`` (``None`` clears the
    rank); return the fields that changed, which the audit log records (not the values)."""
    changed = [
        field
        for field in ("first_name", "last_name", "rank")
        if field in changes and getattr(officer, field) != changes[field]
    ]
    if not changed:
        return []
    for field in changed:
        setattr(officer, field, changes[field])
    session.flush()
    audit.record(
        session,
        ctx,
        action="officer.update",
        object_type="officer",
        object_id=officer.id,
        details={"fields": changed},
    )
    return changed
