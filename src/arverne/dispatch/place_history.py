"""Premise history: what earlier incidents happened at a place.

A dispatcher sending a crew to an address, and the crew on its way, want to know what
happened there before: the third domestic-violence call to this flat in a month, a
robbery with a weapon at this shop. This module lists the incidents within a small radius
of a point over a time window (merged duplicates left out, as they are the same event as
another incident), counts them by group and flags those that call for care on arrival.
Place-based only: the history of a place, no score about a person.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from typing import cast

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from arverne.dispatch.city import haversine_m
from arverne.dispatch.models import Incident, incident_number
from arverne.dispatch.schemas import PlaceHistoryOut, PlaceIncident
from arverne.dispatch.taxonomy import TYPES_BY_CODE, IncidentType
from arverne.store.types import utcnow

# Groups of incident types a crew should know about before arriving.
SAFETY_GROUPS = frozenset({"violence", "domestic_violence", "robbery"})
_M_PER_DEGREE_LAT = 111_320.0


def needs_care(itype: IncidentType) -> bool:
    """Whether an earlier incident of this type calls for care on arrival (violence,
    domestic violence, robbery, or a type that needs firearms)."""
    return itype.group in SAFETY_GROUPS or "firearms" in itype.capabilities


def place_history(
    session: Session,
    *,
    lon: float,
    lat: float,
    radius_m: float = 50.0,
    days: int = 365,
    exclude: Collection[int] = (),
    limit: int = 20,
    now: dt.datetime | None = None,
) -> PlaceHistoryOut:
    """The incidents within ``radius_m`` of (``lon``, ``lat``) over the last ``days``.

    Parameters
    ----------
    session
        Database session (reads only).
    lon, lat
        The place (WGS84).
    radius_m
        How far from the point an incident still counts as the same place.
    days
        The window, ending ``now``.
    exclude
        Incident ids left out (the incident whose place this is).
    limit
        How many incidents to list (the counts cover them all).
    now
        End of the window (default: the current time).

    Returns
    -------
    PlaceHistoryOut
        Counts by group, the number of incidents that call for care and the last one's
        time, and the ``limit`` most recent incidents, nearest first among equals.
    """
    end = now or utcnow()
    since = end - dt.timedelta(days=days)
    dlat = radius_m / _M_PER_DEGREE_LAT
    dlon = dlat / max(float(np.cos(np.radians(lat))), 0.01)
    c = cast(Table, Incident.__table__).c
    statement = select(
        c.id, c.type_code, c.priority, c.status, c.disposition, c.created_at, c.address,
        c.lon, c.lat,
    ).where(
        c.lat.between(lat - dlat, lat + dlat),
        c.lon.between(lon - dlon, lon + dlon),
        c.created_at >= since,
        c.created_at <= end,
        c.merged_into_id.is_(None),
    )  # fmt: skip
    rows = [r for r in session.connection().execute(statement).all() if r.id not in exclude]
    if rows:
        dist = haversine_m(
            np.array([r.lon for r in rows]), np.array([r.lat for r in rows]), lon, lat
        )
        near = [(r, float(d)) for r, d in zip(rows, dist, strict=True) if d <= radius_m]
    else:
        near = []
    near.sort(key=lambda pair: (-pair[0].created_at.timestamp(), pair[1]))
    listed: list[PlaceIncident] = []
    by_group: Counter[str] = Counter()
    safety_times: list[dt.datetime] = []
    for row, distance in near:
        itype = TYPES_BY_CODE[row.type_code]
        by_group[itype.group] += 1
        care = needs_care(itype)
        if care:
            safety_times.append(row.created_at)
        if len(listed) < limit:
            listed.append(
                PlaceIncident(
                    id=row.id,
                    number=incident_number(row.created_at, row.id),
                    type_code=row.type_code,
                    group=itype.group,
                    priority=row.priority,
                    status=row.status,
                    disposition=row.disposition,
                    created_at=row.created_at,
                    address=row.address,
                    distance_m=round(distance, 1),
                    safety=care,
                )
            )
    return PlaceHistoryOut(
        lon=lon,
        lat=lat,
        radius_m=radius_m,
        days=days,
        total=len(near),
        safety=len(safety_times),
        last_safety_at=max(safety_times) if safety_times else None,
        by_group=dict(by_group.most_common()),
        incidents=listed,
    )
