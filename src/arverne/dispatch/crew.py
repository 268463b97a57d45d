"""Crews: who is on which unit, and who may act for a unit.

A dispatcher or supervisor (permission ``unit:status_any``) acts for any unit. A patrol
officer acts only for a unit whose crew they are on: their login account is linked to
an officer (``arverne officer link``) who signed on to the unit (prise de service,
:func:`sign_on`) or whom a supervisor put on its crew (:func:`set_crew`). An officer is
on one unit's crew at a time: signing on to another unit, or being put on it, takes
them off the first. Every change of crew is a line in the duty log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog
from arverne.dispatch.models import Unit, UnitCrew
from arverne.dispatch.publish import publish_unit
from arverne.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from arverne.people import service as people
from arverne.people.models import Officer
from arverne.people.schemas import OfficerOut
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.security.models import User
from arverne.security.principal import Principal

ANY_UNIT = "unit:status_any"


def crew_units(session: Session, user_id: int) -> Sequence[Unit]:
    """Return the active units whose crew holds the officer linked to account ``user_id``."""
    return session.scalars(
        select(Unit)
        .join(UnitCrew, UnitCrew.unit_id == Unit.id)
        .join(Officer, Officer.id == UnitCrew.officer_id)
        .where(Officer.user_id == user_id, Officer.active.is_(True), Unit.active.is_(True))
        .order_by(Unit.call_sign)
    ).all()


def officer_views(session: Session, officers: Sequence[Officer] | None = None) -> list[OfficerOut]:
    """Officers (all by badge, or ``officers``) with their account and their units.

    Officers are personal data: callers record the read in the audit log.
    """
    rows = people.list_officers(session) if officers is None else officers
    ids = [o.id for o in rows]
    accounts = {
        row.id: row.username
        for row in session.execute(
            select(User.id, User.username).where(
                User.id.in_([o.user_id for o in rows if o.user_id is not None])
            )
        )
    }
    units: dict[int, list[str]] = {}
    for row in session.execute(
        select(UnitCrew.officer_id, Unit.call_sign)
        .join(Unit, Unit.id == UnitCrew.unit_id)
        .where(UnitCrew.officer_id.in_(ids))
        .order_by(Unit.call_sign)
    ):
        units.setdefault(row.officer_id, []).append(row.call_sign)
    return [
        OfficerOut(
            id=o.id,
            badge=o.badge,
            name=o.display_name,
            first_name=o.first_name,
            last_name=o.last_name,
            rank=o.rank,
            username=accounts.get(o.user_id) if o.user_id is not None else None,
            units=units.get(o.id, []),
            active=o.active,
        )
        for o in rows
    ]


def human_crewed() -> ColumnElement[bool]:
    """SQL condition on :class:`Unit`: an officer of its crew is linked to a login account.

    A person then drives the unit from the crew terminal; simulators leave it alone.
    """
    return exists().where(
        UnitCrew.unit_id == Unit.id,
        UnitCrew.officer_id == Officer.id,
        Officer.user_id.is_not(None),
    )


def authorize(session: Session, principal: Principal, unit_id: int) -> None:
    """Let ``principal`` act for unit ``unit_id`` (status, check, position, distress).

    Callers with ``unit:status_any`` act for any unit without a database read; others
    only for a unit they crew.

    Raises
    ------
    ForbiddenError
        The caller is not on the unit's crew; the message names the units they crew.
    """
    if ANY_UNIT in principal.permissions:
        return
    units = crew_units(session, principal.user_id)
    if any(unit.id == unit_id for unit in units):
        return
    mine = ", ".join(unit.call_sign for unit in units) or "none"
    raise ForbiddenError(
        f"you act only for the unit whose crew you are on (yours: {mine}); sign on to it "
        "first (POST /api/v1/units/{id}/crew/me) or ask the dispatcher"
    )


def _linked_officer(session: Session, user_id: int) -> Officer:
    officer = people.officer_of_user(session, user_id)
    if officer is None:
        raise ConflictError(
            "your account is not linked to an officer; ask an administrator to run "
            "`arverne officer link BADGE USERNAME`"
        )
    return officer


def _label(officer: Officer) -> str:
    return f"{officer.display_name} ({officer.badge})"


def _names(officers: Sequence[Officer]) -> str:
    return ", ".join(_label(o) for o in officers) or "aucun"


def _lock(session: Session, unit_id: int, officers: Sequence[Officer]) -> tuple[Unit, list[Unit]]:
    """Lock ``officers``, then unit ``unit_id`` and the other units whose crew holds them.

    Every crew change locks its officers first: two changes that involve the same officer
    run one after the other, so the second sees where the first put them (an officer
    never ends up on two crews). Officers, then units, are locked in id order, so two
    changes never wait for each other in a cycle. Other flows lock units only.
    """
    ids = sorted(o.id for o in officers)
    if ids:
        session.execute(
            select(Officer.id).where(Officer.id.in_(ids)).order_by(Officer.id).with_for_update()
        ).all()
    others = set(
        session.scalars(
            select(UnitCrew.unit_id).where(
                UnitCrew.officer_id.in_(ids), UnitCrew.unit_id != unit_id
            )
        )
    )
    locked = session.scalars(
        select(Unit)
        .where(Unit.id.in_([unit_id, *others]))
        .order_by(Unit.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    unit = next((u for u in locked if u.id == unit_id), None)
    if unit is None:
        raise NotFoundError("unit", unit_id)
    return unit, [u for u in locked if u.id != unit_id]


def _take_off(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    officers: Sequence[Officer],
    others: Sequence[Unit],
    *,
    why: str,
    data: dict[str, Any],
) -> None:
    """Take ``officers`` off the crews of the locked units ``others`` (a line per unit)."""
    ids = {o.id for o in officers}
    for other in others:
        leaving = [o for o in other.crew if o.id in ids]
        if not leaving:  # the crew changed between the read and the lock
            continue
        for officer in leaving:
            other.crew.remove(officer)
        session.flush()
        dutylog.log(
            session,
            ctx,
            kind="crew_changed",
            unit_id=other.id,
            text=f"{other.call_sign} : {_names(leaving)} quitte l'équipage ({why})",
            data={"left": [o.badge for o in leaving], **data},
        )
        publish_unit(session, settings, other)


def _moving_to(unit: Unit) -> dict[str, Any]:
    return {"why": f"passe sur {unit.call_sign}", "data": {"to_unit_id": unit.id}}


def _logged(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    unit: Unit,
    officer: Officer,
    *,
    kind: str,
    what: str,
) -> Unit:
    """Write an officer's sign-on or sign-off of ``unit`` to the duty log and publish it."""
    session.flush()
    dutylog.log(
        session,
        ctx,
        kind=kind,
        unit_id=unit.id,
        text=f"{unit.call_sign} : {what} de {_label(officer)}",
        data={"badge": officer.badge, "crew": [o.badge for o in unit.crew]},
    )
    publish_unit(session, settings, unit)
    return unit


def sign_on(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, user_id: int
) -> Unit:
    """Put the caller's officer on unit ``unit_id``'s crew (prise de service).

    Signing on again is harmless (nothing is logged). The officer leaves any other crew.

    Raises
    ------
    ConflictError
        The account is not linked to an officer.
    NotFoundError
        No such unit.
    """
    officer = _linked_officer(session, user_id)
    unit, others = _lock(session, unit_id, [officer])
    if not unit.active:
        raise ConflictError(f"{unit.call_sign} is retired; choose an active unit")
    if any(o.id == officer.id for o in unit.crew):
        return unit
    _take_off(session, ctx, settings, [officer], others, **_moving_to(unit))
    unit.crew.append(officer)
    return _logged(
        session, ctx, settings, unit, officer, kind="crew_sign_on", what="prise de service"
    )


def sign_off(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, user_id: int
) -> Unit:
    """Take the caller's officer off unit ``unit_id``'s crew (fin de service).

    Raises
    ------
    ConflictError
        The account is not linked to an officer, or the officer is not on that crew.
    """
    officer = _linked_officer(session, user_id)
    unit, _ = _lock(session, unit_id, [officer])
    if not any(o.id == officer.id for o in unit.crew):
        raise ConflictError(f"you are not on {unit.call_sign}'s crew; nothing to sign off")
    unit.crew.remove(next(o for o in unit.crew if o.id == officer.id))
    return _logged(
        session, ctx, settings, unit, officer, kind="crew_sign_off", what="fin de service"
    )


def set_crew(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, badges: list[str]
) -> Unit:
    """Replace unit ``unit_id``'s crew with the officers of ``badges`` (supervisor).

    Officers on another unit's crew move over (logged on that unit too). An empty list
    clears the crew.

    Raises
    ------
    InvalidInputError
        Unknown or inactive badges (field ``badges``).
    """
    wanted = list(dict.fromkeys(badges))
    found = {
        o.badge: o
        for o in session.scalars(
            select(Officer).where(Officer.badge.in_(wanted), Officer.active.is_(True))
        )
    }
    unknown = [b for b in wanted if b not in found]
    if unknown:
        raise InvalidInputError(
            "badges",
            f"no active officer with badge {', '.join(unknown)}; see `arverne officer list`",
        )
    officers = [found[b] for b in wanted]
    unit, others = _lock(session, unit_id, officers)
    before = list(unit.crew)
    if {o.id for o in before} == {o.id for o in officers}:
        return unit
    _take_off(session, ctx, settings, officers, others, **_moving_to(unit))
    unit.crew[:] = officers
    session.flush()
    dutylog.log(
        session,
        ctx,
        kind="crew_changed",
        unit_id=unit.id,
        text=f"{unit.call_sign} : équipage {_names(officers)} (avant : {_names(before)})",
        data={"crew": wanted, "before": [o.badge for o in before]},
    )
    publish_unit(session, settings, unit)
    return unit


def set_officer_active(
    *, session: Session, ctx: AuditContext, settings: Settings, badge: str, active: bool
) -> Officer:
    """Disable an officer who left (or enable them again).

    A disabled officer is taken off every crew (a duty-log line per unit) and their
    account no longer acts for any unit; enabling them puts them on no crew.

    Raises :class:`NotFoundError` for an unknown badge.
    """
    officer = people.get_by_badge(session, badge)
    if officer.active == active:
        return officer
    session.execute(select(Officer.id).where(Officer.id == officer.id).with_for_update()).all()
    if not active:
        units = session.scalars(
            select(Unit)
            .join(UnitCrew, UnitCrew.unit_id == Unit.id)
            .where(UnitCrew.officer_id == officer.id)
            .order_by(Unit.id)
            .with_for_update()
        ).all()
        _take_off(
            session, ctx, settings, [officer], units, why="agent désactivé", data={"disabled": True}
        )
    officer.active = active
    session.flush()
    audit.record(
        session,
        ctx,
        action="officer.enable" if active else "officer.disable",
        object_type="officer",
        object_id=officer.id,
    )
    return officer


def rename_officer(
    *, session: Session, ctx: AuditContext, settings: Settings, badge: str, changes: dict[str, Any]
) -> Officer:
    """Change an officer's name or rank (:func:`people.update_details`); a new name is
    published with the units whose crew they are on, so crew lists show it at once.

    Raises :class:`NotFoundError` for an unknown badge.
    """
    officer = people.get_by_badge(session, badge)
    changed = people.update_details(session, ctx, officer, changes)
    if {"first_name", "last_name"} & set(changed):
        units = session.scalars(
            select(Unit)
            .join(UnitCrew, UnitCrew.unit_id == Unit.id)
            .where(UnitCrew.officer_id == officer.id)
            .order_by(Unit.id)
        ).all()
        for unit in units:  # its crew holds this officer: the view has the new name
            publish_unit(session, settings, unit)
    return officer
