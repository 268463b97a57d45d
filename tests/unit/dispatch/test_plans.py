"""Response plans (pure): units per incident type and the proposal that completes a plan."""

from __future__ import annotations

import pytest

from arverne.dispatch.plans import DEFAULT_PLAN_UNITS, parse_plans, propose
from arverne.dispatch.schemas import Candidate
from arverne.dispatch.taxonomy import TYPES_BY_CODE
from arverne.errors import InvalidInputError


def _candidate(unit_id: int, committed_to: int | None = None) -> Candidate:
    return Candidate(
        unit_id=unit_id,
        call_sign=f"PS-{unit_id}",
        unit_type="car",
        status="available" if committed_to is None else "on_scene",
        eta_s=60.0 * unit_id,
        distance_m=500.0 * unit_id,
        preemptable=committed_to is not None,
        committed_to=committed_to,
        why="",
    )


def test_defaults_name_real_types_and_a_city_overrides_them() -> None:
    assert set(DEFAULT_PLAN_UNITS) <= set(TYPES_BY_CODE)
    assert parse_plans(None)["fight"] == 2
    own = parse_plans('{"fight": 1, "theft": 3}')
    assert "fight" not in own  # one unit: the usual case, not listed
    assert own["theft"] == 3
    assert own["domestic_dispute"] == 2


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("fight=2", "JSON object"),
        ('{"bagarre": 2}', "'bagarre' is not an incident type"),
        ('{"fight": 0}', "from 1 to 10"),
        ('{"fight": 11}', "from 1 to 10"),
        ('{"fight": "2"}', "from 1 to 10"),
        ('{"fight": true}', "from 1 to 10"),
    ],
)
def test_bad_plans_name_the_variable_and_the_fix(raw: str, says: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_plans(raw)
    assert caught.value.field == "ARVERNE_RESPONSE_PLANS"
    assert says in caught.value.message


def test_the_proposal_takes_the_nearest_free_units_for_what_is_missing() -> None:
    ranked = [_candidate(1, committed_to=9), _candidate(2), _candidate(3), _candidate(4)]
    plan = propose(ranked, wanted=3, assigned=1)
    assert (plan.proposed, plan.missing) == ([2, 3], 0)
    assert propose(ranked, wanted=2, assigned=2).proposed == []
    assert propose(ranked, wanted=2, assigned=3).missing == 0
    short = propose(ranked[:2], wanted=3, assigned=0)
    assert (short.proposed, short.missing) == ([2], 2)
