"""Response plans: how many units an incident type calls for, and which to propose (pure).

A fight, an armed person or a domestic dispute is never met by a lone crew: the plan says
how many units go, the recommendation proposes the nearest free ones, and the dispatcher
sends them in one click or chooses others. The software proposes; a person decides.
Defaults are Arverne's; each force sets its own with ``ARVERNE_RESPONSE_PLANS``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence

from arverne.dispatch.schemas import Candidate, PlanOut
from arverne.dispatch.taxonomy import TYPES_BY_CODE
from arverne.errors import InvalidInputError

# Units per incident type when more than one (every other type: one unit).
DEFAULT_PLAN_UNITS: Mapping[str, int] = {
    "assault_serious": 2,
    "fight": 2,
    "armed_person": 2,
    "domestic_dispute": 2,  # never a lone crew at a domestic
    "child_in_danger": 2,
    "burglary_in_progress": 2,  # front and back of the building
    "robbery_armed": 2,
    "robbery": 2,
    "traffic_injury": 2,  # one for the victims, one for the traffic
    "suspicious_package": 2,  # a perimeter
    "event_crowd": 3,
    "officer_distress": 3,  # a crew in trouble: everyone near goes
}
SETTING = "ARVERNE_RESPONSE_PLANS"
MAX_UNITS = 10


@functools.cache
def parse_plans(raw: str | None) -> Mapping[str, int]:
    """Units per incident type: the defaults, overridden by JSON ``raw``.

    ``raw`` looks like ``{"fight": 3, "robbery": 1}``: whole numbers from 1 to 10, keys
    from the incident taxonomy.

    Raises
    ------
    InvalidInputError
        Not a JSON object, an unknown type code or a number out of range.
    """
    plans = dict(DEFAULT_PLAN_UNITS)
    if not raw:
        return plans
    try:
        values = json.loads(raw)
        if not isinstance(values, dict):
            raise TypeError
    except (ValueError, TypeError) as exc:
        msg = 'use a JSON object of units per incident type, such as {"fight": 3, "robbery": 1}'
        raise InvalidInputError(SETTING, msg) from exc
    for code, units in values.items():
        if code not in TYPES_BY_CODE:
            msg = f"{code!r} is not an incident type; see GET /api/v1/incident-types"
            raise InvalidInputError(SETTING, msg)
        if isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= MAX_UNITS:
            msg = f"{code}: give a whole number of units from 1 to {MAX_UNITS}, not {units!r}"
            raise InvalidInputError(SETTING, msg)
        plans[code] = units
    return {code: units for code, units in plans.items() if units > 1}


def propose(candidates: Sequence[Candidate], *, wanted: int, assigned: int) -> PlanOut:
    """The plan for an incident: the nearest free candidates to make up ``wanted`` units.

    Parameters
    ----------
    candidates
        Ranked candidates (nearest first); units committed elsewhere (preemptable) are
        never proposed: taking a crew off another incident stays the dispatcher's call.
    wanted
        Units the incident type calls for.
    assigned
        Units already on the incident.
    """
    still = max(0, wanted - assigned)
    free = [c for c in candidates if c.committed_to is None][:still]
    return PlanOut(
        units=wanted,
        assigned=assigned,
        proposed=[c.unit_id for c in free],
        proposed_call_signs=[c.call_sign for c in free],
        missing=still - len(free),
    )
