"""Which units should go: eligible units ranked by travel time to the incident."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from arverne.dispatch.city import CityModel, Travel
from arverne.dispatch.models import Incident, Unit
from arverne.dispatch.plans import propose
from arverne.dispatch.schemas import Candidate, RecommendationOut
from arverne.dispatch.status import (
    COMMITTED,
    FREE,
    TYPE_CAPABILITIES,
    WALKING_TYPES,
    UnitStatus,
)
from arverne.dispatch.taxonomy import Priority, get_type
from arverne.store.types import utcnow

STALE_POSITION_S = 10 * 60
_TYPE_CAPS: dict[str, frozenset[str]] = {t.value: c for t, c in TYPE_CAPABILITIES.items()}
# Preemption is offered only when it saves more than this over a free unit.
PREEMPTION_PENALTY_S = 60.0


class _Placeable(Protocol):
    """What ranking reads of a unit (a row of :data:`_COLUMNS`)."""

    @property
    def unit_type(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def station_lon(self) -> float | None: ...
    @property
    def station_lat(self) -> float | None: ...
    @property
    def last_lon(self) -> float | None: ...
    @property
    def last_lat(self) -> float | None: ...


# Only what ranking needs: building 200 ORM objects per request cost more than the rest.
# The capabilities (a JSON column: one decode per row) are read only when the incident
# type requires some.
_COLUMNS = (
    Unit.id,
    Unit.call_sign,
    Unit.unit_type,
    Unit.status,
    Unit.current_incident_id,
    Unit.station_lon,
    Unit.station_lat,
    Unit.last_lon,
    Unit.last_lat,
)


def _position(unit: _Placeable) -> tuple[float, float] | None:
    if unit.status == UnitStatus.AT_STATION and unit.station_lon is not None:
        assert unit.station_lat is not None
        return unit.station_lon, unit.station_lat
    if unit.last_lon is None or unit.last_lat is None:
        return None
    return unit.last_lon, unit.last_lat


def _travel(
    city: CityModel, incident: Incident, placed: Sequence[tuple[_Placeable, tuple[float, float]]]
) -> Travel:
    """Travel of units from their positions to ``incident`` (on foot for foot patrols)."""
    origins = np.array([pos for _, pos in placed], dtype=np.float64)
    # A StrEnum member equals and hashes as its value: no enum built per unit.
    walking = np.array([unit.unit_type in WALKING_TYPES for unit, _ in placed], dtype=bool)
    return city.travel(origins, (incident.lon, incident.lat), walking=walking)


def etas_for(
    *, session: Session, city: CityModel, incident: Incident, unit_ids: list[int]
) -> dict[int, float]:
    """Road travel time (s) to ``incident`` of each of ``unit_ids`` with a known position.

    For the units being dispatched: the same estimate as :func:`recommend`, without
    ranking every unit in service. Units without a position or a route are left out.
    """
    units = session.execute(select(*_COLUMNS).where(Unit.id.in_(sorted(set(unit_ids))))).all()
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
    *,
    session: Session,
    city: CityModel,
    incident: Incident,
    plans: Mapping[str, int],
    limit: int = 10,
) -> RecommendationOut:
    """Rank units for ``incident`` by road travel time from their last known position.

    Free units (available, at station) with the capabilities the incident type needs are
    candidates. For a P1 incident, units committed to P3/P4 incidents are candidates too,
    marked ``preemptable``. Units left out are listed with the reason. ``plans`` (units
    per incident type, :func:`arverne.dispatch.plans.parse_plans`) gives the response
    plan: the nearest free candidates that make up the units still needed.
    """
    required = set(get_type(incident.type_code).capabilities)
    statuses = {s.value for s in FREE}
    if incident.priority == Priority.P1:
        statuses |= {s.value for s in COMMITTED}
    now = utcnow()
    # Whether a position is stale is asked of the database: the time itself, a value to
    # convert per row, is read afterwards for the few candidates shown with it.
    stale = (Unit.last_position_at < now - dt.timedelta(seconds=STALE_POSITION_S)).label("stale")
    columns = (*_COLUMNS, stale, Unit.capabilities) if required else (*_COLUMNS, stale)
    units = session.execute(  # and the units already on the incident, for the plan
        select(*columns).where(
            Unit.active.is_(True),
            or_(Unit.status.in_(sorted(statuses)), Unit.current_incident_id == incident.id),
        )
    ).all()
    assigned = sum(1 for u in units if u.current_incident_id == incident.id)
    committed_priority: dict[int, int] = {}
    busy_ids = {u.current_incident_id for u in units} - {None, incident.id}
    if busy_ids:
        rows = session.execute(
            select(Incident.id, Incident.priority).where(Incident.id.in_(busy_ids))
        ).all()
        committed_priority = {int(row[0]): int(row[1]) for row in rows}
    excluded: list[dict[str, Any]] = []
    committed_values = {s.value for s in COMMITTED}
    eligible: list[tuple[Any, tuple[float, float], bool]] = []
    for unit in units:
        if unit.current_incident_id == incident.id:
            continue  # already there
        if required:
            caps = set(unit.capabilities or []) | _TYPE_CAPS[unit.unit_type]
            missing = required - caps
            if missing:
                excluded.append(_left_out(unit, f"lacks {', '.join(sorted(missing))}"))
                continue
        preemptable = False
        if unit.status in committed_values:
            other = committed_priority.get(unit.current_incident_id or -1, 1)
            if other < Priority.P3:
                continue  # committed to urgent work: not offered
            preemptable = True
        position = _position(unit)
        if position is None:
            excluded.append(_left_out(unit, "no known position"))
            continue
        eligible.append((unit, position, preemptable))
    method = "none"
    candidates: list[Candidate] = []
    if eligible:
        travel = _travel(city, incident, [(unit, pos) for unit, pos, _ in eligible])
        method = travel.method
        routed: list[tuple[float, str, int]] = []
        for index, ((unit, _, preemptable), eta) in enumerate(
            zip(eligible, travel.eta_s, strict=True)
        ):
            if not np.isfinite(eta):
                excluded.append(_left_out(unit, "no route to the incident"))
                continue
            # Free units first at equal ETA; preemption only when it actually saves time.
            penalty = PREEMPTION_PENALTY_S if preemptable else 0.0
            routed.append((round(float(eta), 1) + penalty, unit.call_sign, index))
        routed.sort()
        shown = routed[:limit]  # only the candidates shown are described
        stale_ids = [eligible[i][0].id for _, _, i in shown if eligible[i][0].stale]
        position_at: dict[int, dt.datetime] = {}
        if stale_ids:
            found = session.execute(
                select(Unit.id, Unit.last_position_at).where(Unit.id.in_(stale_ids))
            ).all()
            position_at = {int(row[0]): row[1] for row in found if row[1] is not None}
        for _, _, index in shown:
            unit, _, preemptable = eligible[index]
            candidates.append(
                _candidate(
                    unit,
                    eta=float(travel.eta_s[index]),
                    dist=float(travel.distance_m[index]),
                    preemptable=preemptable,
                    committed_priority=committed_priority,
                    required=required,
                    by_road=method == "road_network",
                    now=now,
                    position_at=position_at.get(unit.id),
                )
            )
    wanted = plans.get(incident.type_code, 1)
    return RecommendationOut(
        incident_id=incident.id,
        priority=incident.priority,
        required_capabilities=sorted(required),
        method=method,
        candidates=candidates,
        plan=propose(candidates, wanted=wanted, assigned=assigned),
        excluded=excluded,
    )


def _left_out(unit: Any, reason: str) -> dict[str, Any]:
    return {"unit_id": unit.id, "call_sign": unit.call_sign, "reason": reason}


def _candidate(
    unit: Any,
    *,
    eta: float,
    dist: float,
    preemptable: bool,
    committed_priority: dict[int, int],
    required: set[str],
    by_road: bool,
    now: dt.datetime,
    position_at: dt.datetime | None,
) -> Candidate:
    """One ranked unit with its ETA, distance and why it is eligible."""
    why = [
        f"{unit.status.replace('_', ' ')}",
        f"{dist / 1000:.1f} km {'by road' if by_road else 'estimated'}",
    ]
    if preemptable:
        why.insert(
            0,
            f"preemptable from P{committed_priority[unit.current_incident_id or -1]} "
            f"incident {unit.current_incident_id}",
        )
    if required:
        why.append(f"has {', '.join(sorted(required))}")
    if position_at is not None:  # given for stale positions only
        age = (now - position_at).total_seconds()
        if age > STALE_POSITION_S:
            why.append(f"position {age / 60:.0f} min old")
    return Candidate(
        unit_id=unit.id,
        call_sign=unit.call_sign,
        unit_type=unit.unit_type,
        status=unit.status,
        eta_s=round(eta, 1),
        distance_m=round(dist, 1),
        preemptable=preemptable,
        committed_to=unit.current_incident_id,
        why="; ".join(why),
    )
