"""Read the platform's incidents as analysis events; list and read forecast runs.

Only the place, the time and the category of an incident are read: callers, notes and
officers never leave the dispatch tables for a model (EU AI Act: place-based analysis).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.analysis.models import ForecastRun
from arverne.dispatch.models import Incident
from arverne.errors import InvalidInputError, NotFoundError

# Dispatch taxonomy group -> analytics category (see arverne.analytics.categories).
GROUP_CATEGORY = {
    "violence": "violence",
    "domestic_violence": "domestic_violence",
    "theft": "theft",
    "burglary": "burglary",
    "robbery": "robbery",
    "traffic": "other",
    "disturbance": "anti_social_behaviour",
    "drugs": "drugs",
    "suspicious": "other",
    "public_event": "public_order",
    "missing_person": "other",
    "assistance": "other",
    "criminal_damage": "criminal_damage",
    "other": "other",
}
# Types whose own category differs from their group's.
TYPE_CATEGORY = {
    "vehicle_theft": "vehicle_crime",
    "theft_from_vehicle": "vehicle_crime",
    "armed_person": "weapons",
    "drunk_driver": "obstructing_police",  # found by police checks, not reported
}


def category_of(type_code: str) -> str:
    """Analytics category of a dispatch incident type."""
    from arverne.dispatch.taxonomy import TYPES_BY_CODE

    if type_code in TYPE_CATEGORY:
        return TYPE_CATEGORY[type_code]
    return GROUP_CATEGORY.get(TYPES_BY_CODE[type_code].group, "other")


def incident_events(
    session: Session,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Incidents as analysis events: ``time`` (UTC), ``lon``, ``lat``, ``category``, ``type``.

    Cancelled incidents (false alarms, duplicates) are left out.
    """
    query = select(Incident.first_call_at, Incident.lon, Incident.lat, Incident.type_code).where(
        Incident.status != "cancelled"
    )
    if since is not None:
        query = query.where(Incident.first_call_at >= since)
    if until is not None:
        query = query.where(Incident.first_call_at < until)
    rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["time", "lon", "lat", "type"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["category"] = [category_of(t) for t in frame["type"]]
    if categories:
        frame = frame[frame["category"].isin(list(categories))].reset_index(drop=True)
    return frame


def call_history(session: Session, *, since: dt.datetime, time_zone: str) -> pd.DataFrame:
    """Past incidents for simulator calibration: local call time, type group, priority and
    on-scene seconds (first arrival to last release; NaN when no unit went).

    No caller, note or officer is read.
    """
    from sqlalchemy import func

    from arverne.dispatch.models import Assignment
    from arverne.dispatch.taxonomy import TYPES_BY_CODE

    released = (
        select(Assignment.incident_id, func.max(Assignment.released_at).label("released"))
        .group_by(Assignment.incident_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Incident.first_call_at,
            Incident.type_code,
            Incident.priority,
            Incident.first_arrival_at,
            released.c.released,
        )
        .outerjoin(released, released.c.incident_id == Incident.id)
        .where(Incident.first_call_at >= since, Incident.status != "cancelled")
    ).all()
    frame = pd.DataFrame(rows, columns=["time", "type", "priority", "arrived", "released"])
    local = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(time_zone).dt.tz_localize(None)
    onscene = (
        pd.to_datetime(frame["released"], utc=True) - pd.to_datetime(frame["arrived"], utc=True)
    ).dt.total_seconds()
    return pd.DataFrame(
        {
            "call_time": local,
            "call_type": [TYPES_BY_CODE[t].group for t in frame["type"]],
            "priority": frame["priority"].astype(float),
            "onscene_s": onscene.where(onscene > 0),
        }
    )


def project(frame: pd.DataFrame, crs: str) -> pd.DataFrame:
    """Add metric ``x``/``y`` columns in ``crs`` to an event frame."""
    from pyproj import Transformer

    transformer = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = transformer.transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    out = frame.copy()
    out["x"], out["y"] = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return out


def list_runs(
    session: Session, *, limit: int = 50, method: str | None = None, status: str | None = None
) -> Sequence[ForecastRun]:
    """Most recent runs first (forecasts and backtests), optionally of one method or status."""
    query = select(ForecastRun)
    if method is not None:
        query = query.where(ForecastRun.method == method)
    if status is not None:
        query = query.where(ForecastRun.status == status)
    return session.scalars(
        query.order_by(ForecastRun.created_at.desc(), ForecastRun.id.desc()).limit(limit)
    ).all()


def get_run(session: Session, run_id: int) -> ForecastRun:
    """One forecast run or :class:`NotFoundError`."""
    run = session.get(ForecastRun, run_id)
    if run is None:
        raise NotFoundError("forecast run", run_id)
    return run


def check_days(name: str, value: float, *, low: float, high: float) -> None:
    """Refuse a period outside ``[low, high]`` days, naming the parameter."""
    if not low <= value <= high:
        raise InvalidInputError(name, f"must be between {low:g} and {high:g} days (got {value:g})")
