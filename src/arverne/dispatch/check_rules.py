"""Status checks (contrôle de situation): when a committed unit is due one (pure).

A crew on scene, en route or transporting someone for longer than the city allows may be
in trouble and unable to call for help. Its timer starts when its status changes; when
it runs out, the dispatcher calls the crew by radio and records the answer (``ok``
restarts the timer, ``no_answer`` escalates). These functions only compute; the writes
are in :mod:`arverne.dispatch.checks`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Mapping

from arverne.dispatch.status import UnitStatus
from arverne.errors import InvalidInputError

# Statuses with a timer, and the minutes a unit may stay in them before a check is due.
TIMED = (
    UnitStatus.DISPATCHED,  # sent, but not yet reported en route
    UnitStatus.EN_ROUTE,
    UnitStatus.ON_SCENE,
    UnitStatus.TRANSPORTING,
    UnitStatus.UNAVAILABLE,  # off by default: a meal or a court day is not a risk
)
DEFAULT_CHECK_MINUTES: Mapping[UnitStatus, int] = {
    UnitStatus.DISPATCHED: 3,
    UnitStatus.EN_ROUTE: 15,
    UnitStatus.ON_SCENE: 20,
    UnitStatus.TRANSPORTING: 30,
}
SETTING = "ARVERNE_STATUS_CHECK_MINUTES"


@functools.cache
def parse_check_minutes(raw: str | None) -> Mapping[UnitStatus, int]:
    """Minutes before a check is due per status: the defaults, overridden by JSON ``raw``.

    ``raw`` looks like ``{"on_scene": 15, "dispatched": 0}``; 0 turns a status's timer
    off. Only the statuses of :data:`TIMED` may be given.

    Raises
    ------
    InvalidInputError
        Not a JSON object of whole minutes (0-720) per timed status.
    """
    limits = dict(DEFAULT_CHECK_MINUTES)
    if not raw:
        return limits
    allowed = ", ".join(s.value for s in TIMED)
    try:
        values = json.loads(raw)
        if not isinstance(values, dict):
            raise TypeError
    except (ValueError, TypeError) as exc:
        msg = f'use a JSON object such as {{"on_scene": 20, "dispatched": 3}} ({allowed})'
        raise InvalidInputError(SETTING, msg) from exc
    for key, minutes in values.items():
        try:
            status = UnitStatus(key)
        except ValueError:
            status = None
        if status not in TIMED:
            raise InvalidInputError(SETTING, f"{key!r} has no timer; use {allowed}")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 720:
            msg = f"{key}: give whole minutes from 0 (no timer) to 720, not {minutes!r}"
            raise InvalidInputError(SETTING, msg)
        limits[status] = minutes
    return {status: minutes for status, minutes in limits.items() if minutes > 0}


@dataclasses.dataclass(frozen=True, slots=True)
class CheckState:
    """Where a unit's status-check timer stands.

    ``started_at`` is the later of its status change and its last answered check;
    ``missed`` is true when the last check since then got no answer; ``alerted`` when
    the expiry is already in the duty log.
    """

    status: UnitStatus
    started_at: dt.datetime
    due_at: dt.datetime
    missed: bool
    alerted: bool

    def overdue_s(self, now: dt.datetime) -> float:
        """Seconds past the due time (negative while the timer runs)."""
        return (now - self.due_at).total_seconds()


def check_state(
    *,
    status: str,
    status_changed_at: dt.datetime,
    checked_at: dt.datetime | None,
    check_missed_at: dt.datetime | None,
    check_alerted_at: dt.datetime | None,
    limits: Mapping[UnitStatus, int],
) -> CheckState | None:
    """The timer of a unit with these fields, or ``None`` when its status has none.

    Parameters
    ----------
    status, status_changed_at
        The unit's status and when it took it: a status change restarts the timer.
    checked_at
        Its last check answered ``ok`` (restarts the timer when later).
    check_missed_at
        Its last check with no answer; counts only if later than both of the above.
    check_alerted_at
        When the expiry was last written to the duty log.
    limits
        Minutes per status, from :func:`parse_check_minutes`.
    """
    current = UnitStatus(status)
    minutes = limits.get(current)
    if not minutes:
        return None
    started = status_changed_at
    if checked_at is not None and checked_at > started:
        started = checked_at
    return CheckState(
        status=current,
        started_at=started,
        due_at=started + dt.timedelta(minutes=minutes),
        missed=check_missed_at is not None and check_missed_at >= started,
        alerted=check_alerted_at is not None and check_alerted_at >= started,
    )
