"""Response-time indicators: call to creation, creation to dispatch, dispatch to arrival.

``summarise`` is pure (arrays in, numbers out); ``response_times`` reads incidents.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from arverne.dispatch.models import DutyLogEntry, Incident
from arverne.dispatch.taxonomy import Priority

# The duty-log kind of an intervention a crew started itself (dispatch.initiative).
INITIATIVE_KIND = "initiative"
STAGES = ("call_to_creation", "creation_to_dispatch", "dispatch_to_arrival", "total")
PERCENTILES = (50, 90, 95)


def summarise(seconds: NDArray[np.float64], *, target_s: float | None = None) -> dict[str, Any]:
    """Count, mean and percentiles of durations (NaN = not reached yet), and share in target."""
    done = seconds[np.isfinite(seconds)]
    out: dict[str, Any] = {"n": int(done.size), "pending": int(seconds.size - done.size)}
    if done.size == 0:
        out.update({"mean_s": None, **{f"p{p}_s": None for p in PERCENTILES}})
    else:
        out["mean_s"] = round(float(done.mean()), 1)
        for p, value in zip(PERCENTILES, np.percentile(done, PERCENTILES), strict=True):
            out[f"p{p}_s"] = round(float(value), 1)
    if target_s is not None:
        out["target_s"] = target_s
        out["within_target"] = (
            None if done.size == 0 else round(float((done <= target_s).mean()), 4)
        )
    return out


def _durations(incidents: Sequence[Incident]) -> dict[str, NDArray[np.float64]]:
    def span(
        a: Iterable[dt.datetime | None], b: Iterable[dt.datetime | None]
    ) -> NDArray[np.float64]:
        return np.array(
            [
                (y - x).total_seconds() if x is not None and y is not None else np.nan
                for x, y in zip(a, b, strict=True)
            ],
            dtype=np.float64,
        )

    calls = [i.first_call_at for i in incidents]
    created = [i.created_at for i in incidents]
    dispatched = [i.first_dispatch_at for i in incidents]
    arrived = [i.first_arrival_at for i in incidents]
    return {
        "call_to_creation": np.clip(span(calls, created), 0, None),
        "creation_to_dispatch": span(created, dispatched),
        "dispatch_to_arrival": span(dispatched, arrived),
        "total": span(calls, arrived),
    }


def response_times(
    session: Session,
    *,
    since: dt.datetime,
    until: dt.datetime,
    targets: dict[Priority, int],
    zone: ZoneInfo,
    group_by: str = "priority",
) -> dict[str, Any]:
    """Response-time statistics of incidents created in [since, until), by a dimension.

    ``group_by`` is ``priority``, ``district`` or ``hour`` (local hour of the first call).
    The ``total`` stage is compared with the priority's target. Incidents a crew started
    on its own initiative (already on scene when created) are left out, as their "response"
    would be zero; ``own_initiative`` counts them.
    """
    window = (
        Incident.created_at >= since,
        Incident.created_at < until,
        Incident.status != "cancelled",
    )
    initiative = exists().where(
        DutyLogEntry.incident_id == Incident.id, DutyLogEntry.kind == INITIATIVE_KIND
    )
    incidents = session.scalars(select(Incident).where(*window, ~initiative)).all()
    own = session.scalar(select(func.count()).select_from(Incident).where(*window, initiative))
    groups: dict[str, list[Incident]] = defaultdict(list)
    for inc in incidents:
        if group_by == "priority":
            key = f"P{inc.priority}"
        elif group_by == "district":
            key = inc.district or "unknown"
        else:
            key = f"{inc.first_call_at.astimezone(zone).hour:02d}"
        groups[key].append(inc)
    result: dict[str, Any] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "group_by": group_by,
        "incidents": len(incidents),
        "own_initiative": int(own or 0),
        "groups": {},
    }
    for key in sorted(groups):
        members = groups[key]
        durations = _durations(members)
        prio_targets = np.array([targets[Priority(i.priority)] for i in members], dtype=np.float64)
        stages = {stage: summarise(durations[stage]) for stage in STAGES}
        total = durations["total"]
        done = np.isfinite(total)
        stages["total"]["within_target"] = (
            None if not done.any() else round(float((total[done] <= prio_targets[done]).mean()), 4)
        )
        if group_by == "priority":
            stages["total"]["target_s"] = float(prio_targets[0])
        result["groups"][key] = {"incidents": len(members), **stages}
    return result
