"""Reports sent late: a crew terminal that lost the network keeps what the crew did and
sends it when it is back, each with the time it was done (``at``).

The server's clock stays the reference: a time in the future beyond the clock skew a
phone may have is refused; a status change older than ``late_report_minutes``, or older
than the unit's last status change by more than that skew, is refused too (it would
rewrite history someone has already acted on), and the crew is told to report it by
radio. A late report keeps the time it was made in the records (arrival times,
response-time KPIs) and says in the duty log, which is written in receiving order, that
it came late.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from arverne.errors import ConflictError, InvalidInputError

CLOCK_SKEW = dt.timedelta(minutes=2)
"""How far a device's clock may be off the server's: later times are refused, and a
status change this much before the unit's last one is placed at that one."""

LATE_AFTER = dt.timedelta(seconds=15)
"""A report received this long after it was made is marked late in the duty log."""


def reported_time(
    at: dt.datetime | None,
    *,
    now: dt.datetime,
    max_late_minutes: int | None = None,
) -> dt.datetime:
    """Return the time a report stands for: ``at`` as checked, or ``now`` without one.

    Parameters
    ----------
    at
        When the crew says it happened (aware), or ``None`` for "now".
    now
        The server's time of reception.
    max_late_minutes
        The oldest ``at`` accepted, in minutes before ``now``; ``None``: no limit.

    Raises
    ------
    InvalidInputError
        On ``at``: in the future (beyond :data:`CLOCK_SKEW`), or too old.
    """
    if at is None:
        return now
    if at > now + CLOCK_SKEW:
        raise InvalidInputError("at", "is in the future; check the device's clock")
    if max_late_minutes is not None and at < now - dt.timedelta(minutes=max_late_minutes):
        raise InvalidInputError(
            "at",
            f"is more than {max_late_minutes} minutes old: tell the control room by radio, "
            "which records the change",
        )
    return min(at, now)


def not_before(at: dt.datetime, since: dt.datetime, what: str, zone: ZoneInfo) -> dt.datetime:
    """Place a late status change after the unit's current status began.

    A time up to :data:`CLOCK_SKEW` before ``since`` is a device clock running behind:
    the change is placed at ``since``. An earlier one is refused.

    Raises
    ------
    ConflictError
        ``at`` is more than :data:`CLOCK_SKEW` before ``since``; the message names both
        times (local).
    """
    if at >= since:
        return at
    if since - at <= CLOCK_SKEW:
        return since
    raise ConflictError(
        f"{what} at {_hms(since, zone)}, after this report made at {_hms(at, zone)}; "
        "tell the control room by radio"
    )


def lateness(at: dt.datetime, now: dt.datetime, zone: ZoneInfo) -> tuple[str, dict[str, str]]:
    """The duty-log suffix and data of a report received :data:`LATE_AFTER` or more after
    it was made (« (signalé à 10:02:13, reçu en différé) », ``reported_at``); else
    ``("", {})``."""
    if now - at < LATE_AFTER:
        return "", {}
    return f" (signalé à {_hms(at, zone)}, reçu en différé)", {"reported_at": at.isoformat()}


def _hms(value: dt.datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%H:%M:%S")
