"""Which units should go: eligible units ranked by travel time to the incident."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from arverne.dispatch import service
from arverne.dispatch.city import CityModel, Travel
from arverne.dispatch.models import Incident, Unit
from arverne.dispatch.schemas import Candidate, RecommendationOut
from arverne.dispatch.status import COMMITTED, FREE, TYPE_CAPABILITIES, UnitStatus, UnitType
from arverne.dispatch.taxonomy import Priority, get_type
from arverne.store.types import utcnow

STALE_POSITION_S = 10 * 60


def _position(unit: Unit) -> tuple[float, float] | None:
    if unit.status == UnitStatus.AT_STATION and unit.station_lon is not None:
        assert unit.station_lat is not None
        return unit.station_lon, unit.station_lat
    if unit.last_lon is None or unit.last_lat is None:
        return None
    return unit.last_lon, unit.last_lat


def _travel(
    city: CityModel, incident: Incident, placed: list[tuple[Unit, tuple[float, float]]]
) -> Travel:
    """Travel of units from their positions to ``incident`` (on foot for foot patrols)."""
    origins = np.array([pos for _, pos in placed], dtype=np.float64)
    walking = np.array([service.is_walking(unit) for unit, _ in placed], dtype=bool)
    return city.travel(origins, (incident.lon, incident.lat), walking=walking)


def etas_for(
    *, session: Session, city: CityModel, incident: Incident, unit_ids: list[int]
) -> dict[int, float]:
    """Road travel time (s) to ``incident`` of each of ``unit_ids`` with a known position.

    For the units being dispatched: the same estimate as :func:`recommend`, without
    ranking every unit in service. Units without a position or a route are left out.
    """
    units = session.scalars(
        select(Unit).where(Unit.id.in_(sorted(set(unit_ids)))).options(lazyload(Unit.crew))
    ).all()
    placed = [(unit, pos) for unit in units if (pos := _position(unit)) is not None]
    if not placed:
        return {}
    travel = _travel(city, incident, placed)
    return {
        unit.id: round(float(eta), 1)
        for (unit, _), eta in zip(placed, travel.eta_s, strict=True)
        if np.isfinite(eta)
    }


def recommend(
    *, session: Session, city: CityModel, incident: Incident, limit: int = 10
) -> RecommendationOut:
    """Rank units for ``incident`` by road travel time from their last known position.

    Free units (available, at station) with the capabilities the incident type needs are
    candidates. For a P1 incident, units committed to P3/P4 incidents are candidates too,
    marked ``preemptable``. Units left out are listed with the reason.
    """
    required = set(get_type(incident.type_code).capabilities)
    statuses = {s.value for s in FREE}
    if incident.priority == Priority.P1:
        statuses |= {s.value for s in COMMITTED}
    units = session.scalars(
        select(Unit)
        .where(Unit.active.is_(True), Unit.status.in_(sorted(statuses)))
        .options(lazyload(Unit.crew))  # crews are not needed to rank units
    ).all()
    committed_priority: dict[int, int] = {}
    busy_ids = {u.current_incident_id for u in units if u.current_incident_id is not None}
    if busy_ids:
        rows = session.execute(
            select(Incident.id, Incident.priority).where(Incident.id.in_(busy_ids))
        ).all()
        committed_priority = {int(row[0]): int(row[1]) for row in rows}
    excluded: list[dict[str, Any]] = []
    committed_values = {s.value for s in COMMITTED}
    eligible: list[tuple[Unit, tuple[float, float], bool]] = []
    for unit in units:
        caps = set(unit.capabilities or []) | TYPE_CAPABILITIES[UnitType(unit.unit_type)]
        missing = required - caps
        if missing:
            excluded.append(
                {
                    "unit_id": unit.id,
                    "call_sign": unit.call_sign,
                    "reason": f"lacks {', '.join(sorted(missing))}",
                }
            )
            continue
        preemptable = False
        if unit.status in committed_values:
            if unit.current_incident_id == incident.id:
                continue
            other = committed_priority.get(unit.current_incident_id or -1, 1)
            if other < Priority.P3:
                continue  # committed to urgent work: not offered
            preemptable = True
        position = _position(unit)
        if position is None:
            excluded.append(
                {"unit_id": unit.id, "call_sign": unit.call_sign, "reason": "no known position"}
            )
            continue
        eligible.append((unit, position, preemptable))
    method = "none"
    candidates: list[Candidate] = []
    if eligible:
        travel = _travel(city, incident, [(unit, pos) for unit, pos, _ in eligible])
        method = travel.method
        now = utcnow()
        for (unit, _, preemptable), eta, dist in zip(
            eligible, travel.eta_s, travel.distance_m, strict=True
        ):
            if not np.isfinite(eta):
                excluded.append(
                    {
                        "unit_id": unit.id,
                        "call_sign": unit.call_sign,
                        "reason": "no route to the incident",
                    }
                )
                continue
            why = [
                f"{unit.status.replace('_', ' ')}",
                f"{dist / 1000:.1f} km {'by road' if method == 'road_network' else 'estimated'}",
            ]
            if preemptable:
                why.insert(
                    0,
                    f"preemptable from P{committed_priority[unit.current_incident_id or -1]} "
                    f"incident {unit.current_incident_id}",
                )
            if required:
                why.append(f"has {', '.join(sorted(required))}")
            if unit.last_position_at is not None:
                age = (now - unit.last_position_at).total_seconds()
                if age > STALE_POSITION_S:
                    why.append(f"position {age / 60:.0f} min old")
            candidates.append(
                Candidate(
                    unit_id=unit.id,
                    call_sign=unit.call_sign,
                    unit_type=unit.unit_type,
                    status=unit.status,
                    eta_s=round(float(eta), 1),
                    distance_m=round(float(dist), 1),
                    preemptable=preemptable,
                    committed_to=unit.current_incident_id,
                    why="; ".join(why),
                )
            )
    # Free units first at equal ETA; preemption only when it actually saves time.
    candidates.sort(key=lambda c: (c.eta_s + (60.0 if c.preemptable else 0.0), c.call_sign))
    return RecommendationOut(
        incident_id=incident.id,
        priority=incident.priority,
        required_capabilities=sorted(required),
        method=method,
        candidates=candidates[:limit],
        excluded=excluded,
    )
