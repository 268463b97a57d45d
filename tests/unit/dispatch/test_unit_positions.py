"""Where ranking takes units to be (pure): the station for units at it, else the last report."""

from __future__ import annotations

import numpy as np

from arverne.dispatch.recommend import unit_positions

NAN = float("nan")


def test_a_unit_at_its_station_is_there_and_any_other_where_it_last_reported() -> None:
    at_station = np.array([True, True, False, False, True])
    station = np.array([[3.08, 45.77], [NAN, NAN], [3.08, 45.77], [3.08, 45.77], [NAN, NAN]])
    last = np.array([[3.10, 45.78], [3.11, 45.79], [3.12, 45.80], [NAN, NAN], [NAN, NAN]])

    got = unit_positions(at_station, station, last)

    expected = np.array(
        [
            [3.08, 45.77],  # at station: the station, not the last report
            [3.11, 45.79],  # at a station without a position: the last report
            [3.12, 45.80],  # on patrol: the last report, even with a station
            [NAN, NAN],  # on patrol, never reported: unknown
            [NAN, NAN],  # at a station without a position, never reported: unknown
        ]
    )
    np.testing.assert_array_equal(got, expected)


def test_no_units() -> None:
    empty = np.empty((0, 2))
    assert unit_positions(np.empty(0, dtype=bool), empty, empty).shape == (0, 2)
