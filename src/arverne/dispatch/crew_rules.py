"""The crew a new unit is created with: known officers, on no other crew."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.dispatch.models import Unit, UnitCrew
from arverne.errors import InvalidInputError
from arverne.people.models import Officer


def check_new_crew(session: Session, officer_ids: list[int]) -> None:
    """Refuse unknown officers, and officers already on a crew (an officer crews one unit;
    ``PUT /units/{id}/crew`` moves them)."""
    if not officer_ids:
        return
    found = set(session.scalars(select(Officer.id).where(Officer.id.in_(officer_ids))))
    unknown = sorted(set(officer_ids) - found)
    if unknown:
        raise InvalidInputError("crew_officer_ids", f"no officer with id {unknown}")
    taken = session.execute(
        select(Officer.badge, Unit.call_sign)
        .join(UnitCrew, UnitCrew.officer_id == Officer.id)
        .join(Unit, Unit.id == UnitCrew.unit_id)
        .where(Officer.id.in_(officer_ids))
    ).all()
    if taken:
        on = ", ".join(f"{badge} on {call_sign}" for badge, call_sign in taken)
        raise InvalidInputError(
            "crew_officer_ids",
            f"already on a crew: {on}; create the unit without them, then move them "
            "with PUT /api/v1/units/{id}/crew",
        )
