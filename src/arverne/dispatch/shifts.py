"""The three police shifts in local time: day 6-14 h, evening 14-22 h, night 22-6 h."""

from __future__ import annotations

import datetime as dt

# Shift name -> (start hour, end hour) in local time; the night ends at 6 h the next day.
SHIFTS: dict[str, tuple[int, int]] = {"day": (6, 14), "evening": (14, 22), "night": (22, 30)}


def shift_of_hour(hour: int) -> str:
    """Name of the shift on duty at a local hour (0-23)."""
    return "day" if 6 <= hour < 14 else "evening" if 14 <= hour < 22 else "night"


def shift_window(
    day: dt.date, shift: str | None, zone: dt.tzinfo
) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds of a local day, or of one shift starting that day.

    Arithmetic is done on the local wall clock, so days with a daylight-saving change
    still end at the next local midnight.
    """
    start_h, end_h = SHIFTS[shift] if shift else (0, 24)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return (
        (midnight + dt.timedelta(hours=start_h)).astimezone(dt.UTC),
        (midnight + dt.timedelta(hours=end_h)).astimezone(dt.UTC),
    )
