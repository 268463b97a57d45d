"""The demo world's history: volume, rhythms, and units never on two incidents at once."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.demo.world import seed_history, seed_units
from arverne.dispatch.models import Assignment, Incident
from arverne.geo.pack import CityPack, load_pack
from tests.data import TEST_CTX


@pytest.fixture(scope="module")
def town(small_city_pack: Path) -> CityPack:
    return load_pack(small_city_pack)


def test_history_is_consistent(session: Session, settings: Settings, town: CityPack) -> None:
    seed_units(session, settings, TEST_CTX, town)
    n = seed_history(session, town, years=0.25, seed=11)
    assert 0.25 * 365 * 50 < n < 0.25 * 365 * 95
    assert session.scalar(select(func.count()).select_from(Incident)) == n
    rows = session.execute(
        select(Assignment.unit_id, Assignment.dispatched_at, Assignment.released_at)
    ).all()
    assert len(rows) > 0.7 * n
    spans: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for unit_id, start, end in rows:
        assert end is not None
        assert start <= end
        spans[unit_id].append((start, end))
    for intervals in spans.values():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end, "a unit was on two incidents at once"
    # Response times stay plausible after queueing: median P1 call-to-arrival under 15 min.
    p1 = session.execute(
        select(Incident.first_call_at, Incident.first_arrival_at).where(
            Incident.priority == 1, Incident.first_arrival_at.is_not(None)
        )
    ).all()
    waits = sorted((b - a).total_seconds() for a, b in p1)
    assert waits[len(waits) // 2] < 900
    assert all(i.synthetic for i in session.scalars(select(Incident).limit(50)))
