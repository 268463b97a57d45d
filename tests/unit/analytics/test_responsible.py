"""Responsible use: enforcement-driven categories and the concentration monitor."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arverne.analytics.errors import ParameterError
from arverne.analytics.responsible import (
    ENFORCEMENT_DRIVEN,
    EXCLUSION_EXPLANATION,
    concentration_report,
    gini,
    patrol_events,
)


def test_enforcement_driven_categories_are_left_out_by_default() -> None:
    events = pd.DataFrame({"category": ["theft", "drugs", "drugs", "weapons", "burglary"]})
    kept, excluded = patrol_events(events)
    assert kept["category"].tolist() == ["theft", "burglary"]
    assert excluded == {"drugs": 2, "weapons": 1}
    kept, excluded = patrol_events(events, include=["drugs"])
    assert kept["category"].tolist() == ["theft", "drugs", "drugs", "burglary"]
    assert "Ensign" in EXCLUSION_EXPLANATION
    assert {"drugs", "weapons"} <= ENFORCEMENT_DRIVEN
    with pytest.raises(ParameterError, match="include"):
        patrol_events(events, include=["narcotics"])


def test_gini() -> None:
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)


def test_concentration_monitor_warns_about_a_district_that_keeps_drawing_flags() -> None:
    districts = np.zeros((10, 10), dtype=np.int64)
    districts[:, 5:] = 1
    districts[5:, :] += 2  # four quarters: 0 south-west, 1 south-east, 2 and 3 north
    districts[0, 0] = -1  # outside every district
    spread = np.zeros((10, 10), dtype=bool)
    spread[[2, 2, 7, 7], [1, 7, 1, 7]] = True
    focused = np.zeros((10, 10), dtype=bool)
    focused[2, 6:10] = True
    names = ["sw", "se", "nw", "ne"]
    report = concentration_report([spread, focused, focused, focused], districts, names=names)
    assert report.flag_share[0] == dict.fromkeys(names, 0.25)
    assert report.flag_share[1]["se"] == 1.0
    assert report.gini[0] == pytest.approx(0.0, abs=0.02)
    assert report.gini[1] > 0.7
    assert report.jaccard_with_previous == [None, pytest.approx(1 / 7), 1.0, 1.0]
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("se drew 100%")
    assert report.to_dict()["district_area_share"]["se"] == pytest.approx(25 / 99, abs=1e-3)
