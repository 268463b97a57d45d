"""Shifts in local time, including days with a daylight-saving change."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from arverne.dispatch.shifts import shift_of_hour, shift_window

PARIS = ZoneInfo("Europe/Paris")


def test_shift_of_each_hour() -> None:
    names = [shift_of_hour(h) for h in range(24)]
    assert names[:6] == ["night"] * 6
    assert names[6:14] == ["day"] * 8
    assert names[14:22] == ["evening"] * 8
    assert names[22:] == ["night"] * 2


def test_windows_follow_the_local_clock() -> None:
    since, until = shift_window(dt.date(2026, 10, 25), None, PARIS)  # clocks go back
    assert until - since == dt.timedelta(hours=25)
    since, until = shift_window(dt.date(2026, 3, 29), None, PARIS)  # clocks go forward
    assert until - since == dt.timedelta(hours=23)
    night_start, night_end = shift_window(dt.date(2026, 7, 1), "night", PARIS)
    assert night_start == dt.datetime(2026, 7, 1, 20, tzinfo=dt.UTC)  # 22 h CEST
    assert night_end == dt.datetime(2026, 7, 2, 4, tzinfo=dt.UTC)  # 6 h CEST
