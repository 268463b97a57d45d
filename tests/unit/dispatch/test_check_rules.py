"""Status-check timers (pure): the city's minutes per status and where a timer stands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from arverne.dispatch.check_rules import DEFAULT_CHECK_MINUTES, check_state, parse_check_minutes
from arverne.dispatch.status import UnitStatus
from arverne.errors import InvalidInputError

T0 = dt.datetime(2026, 12, 6, 14, 0, tzinfo=dt.UTC)


def _state(**given: object) -> Any:
    fields: dict[str, object] = {
        "status": "on_scene",
        "status_changed_at": T0,
        "checked_at": None,
        "check_missed_at": None,
        "check_alerted_at": None,
        "limits": DEFAULT_CHECK_MINUTES,
    }
    fields.update(given)
    return check_state(**fields)  # type: ignore[arg-type]


def test_defaults_and_a_city_override() -> None:
    assert parse_check_minutes(None) == {
        UnitStatus.DISPATCHED: 3,
        UnitStatus.EN_ROUTE: 15,
        UnitStatus.ON_SCENE: 20,
        UnitStatus.TRANSPORTING: 30,
    }
    own = parse_check_minutes('{"on_scene": 10, "dispatched": 0, "unavailable": 60}')
    assert own == {
        UnitStatus.EN_ROUTE: 15,
        UnitStatus.ON_SCENE: 10,
        UnitStatus.TRANSPORTING: 30,
        UnitStatus.UNAVAILABLE: 60,
    }


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("on_scene=20", "JSON object"),
        ("[20]", "JSON object"),
        ('{"available": 20}', "'available' has no timer"),
        ('{"patrolling": 20}', "'patrolling' has no timer"),
        ('{"on_scene": -1}', "whole minutes from 0"),
        ('{"on_scene": 2.5}', "whole minutes from 0"),
        ('{"on_scene": true}', "whole minutes from 0"),
        ('{"on_scene": 721}', "whole minutes from 0"),
    ],
)
def test_bad_settings_name_the_variable_and_the_fix(raw: str, says: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_check_minutes(raw)
    assert caught.value.field == "ARVERNE_STATUS_CHECK_MINUTES"
    assert says in caught.value.message


def test_the_timer_starts_at_the_later_of_status_change_and_answered_check() -> None:
    state = _state()
    assert state.due_at == T0 + dt.timedelta(minutes=20)
    assert state.overdue_s(T0 + dt.timedelta(minutes=25)) == 300
    answered = _state(checked_at=T0 + dt.timedelta(minutes=22))
    assert answered.started_at == T0 + dt.timedelta(minutes=22)
    assert answered.due_at == T0 + dt.timedelta(minutes=42)
    # A check from before the current status does not count.
    old = _state(checked_at=T0 - dt.timedelta(minutes=5))
    assert old.due_at == T0 + dt.timedelta(minutes=20)


def test_missed_and_alerted_only_count_for_the_current_timer() -> None:
    later = T0 + dt.timedelta(minutes=21)
    assert _state(check_missed_at=later, check_alerted_at=later).missed is True
    assert _state(check_missed_at=later, check_alerted_at=later).alerted is True
    # The crew answered after the missed check, or changed status since: no alarm.
    answered = _state(check_missed_at=later, checked_at=later + dt.timedelta(minutes=1))
    assert answered.missed is False
    before = _state(check_missed_at=T0 - dt.timedelta(minutes=1))
    assert before.missed is False


def test_statuses_without_a_timer() -> None:
    for status in ("available", "at_station", "off_duty", "unavailable"):
        assert _state(status=status) is None
    assert _state(limits={UnitStatus.UNAVAILABLE: 45}, status="unavailable") is not None
    assert _state(limits={}) is None


def test_the_demo_runs_the_timers_on_its_simulated_clock() -> None:
    from arverne.cli.demo import demo_check_minutes

    at_5 = parse_check_minutes(demo_check_minutes(5.0))
    assert at_5 == {
        UnitStatus.DISPATCHED: 1,
        UnitStatus.EN_ROUTE: 3,
        UnitStatus.ON_SCENE: 4,
        UnitStatus.TRANSPORTING: 6,
    }
    assert parse_check_minutes(demo_check_minutes(1.0)) == DEFAULT_CHECK_MINUTES
    assert set(parse_check_minutes(demo_check_minutes(600.0)).values()) == {1}
