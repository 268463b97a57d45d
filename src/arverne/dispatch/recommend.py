"""Which units should go: eligible units ranked by travel time to the incident."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Row, Select, bindparam, or_, select
from sqlalchemy.orm import Session

from arverne.dispatch.city import CityModel
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
_COMMITTED_VALUES = frozenset(s.value for s in COMMITTED)
# Preemption is offered only when it saves more than this over a free unit.
PREEMPTION_PENALTY_S = 60.0

# Only what ranking needs, as table columns: building 200 ORM objects per request cost
# more than the rest, and even ORM column rows cost a loading step per row. The
# capabilities (a JSON column: one decode per row) are read only when the incident type
# requires some.
_UNIT = Unit.__table__.c
_COLUMNS = (
    _UNIT.id,
    _UNIT.call_sign,
    _UNIT.unit_type,
    _UNIT.status,
    _UNIT.current_incident_id,
    _UNIT.station_lon,
    _UNIT.station_lat,
    _UNIT.last_lon,
    _UNIT.last_lat,
)


def unit_positions(
    at_station: NDArray[np.bool_], station: NDArray[np.float64], last: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Where units are taken to be, as (lon, lat) rows; NaN where it is not known.

    A unit at its station is there when the station has a position; any other unit is
    where it last reported.

    Parameters
    ----------
    at_station : ndarray of bool, shape (n,)
        Units whose status is ``at_station``.
    station : ndarray of float, shape (n, 2)
        Their station's (lon, lat); NaN where the station has no position.
    last : ndarray of float, shape (n, 2)
        Their last reported (lon, lat); NaN where none was reported.

    Returns
    -------
    ndarray of float, shape (n, 2)
    """
    use_station = at_station & np.isfinite(station).all(axis=1)
    return np.where(use_station[:, None], station, last)


def _columns(units: Sequence[Row[Any]]) -> list[tuple[Any, ...]]:
    """Rows of :data:`_COLUMNS` (and any after them) as one tuple per column.

    The loops of ranking then read plain tuples, not rows by name; no rows give empty
    columns.
    """
    return list(zip(*units, strict=True)) or [()] * len(_COLUMNS)


def _positions_of(columns: Sequence[tuple[Any, ...]]) -> NDArray[np.float64]:
    """:func:`unit_positions` of units given by :func:`_columns`."""
    _, _, _, status, _, station_lon, station_lat, last_lon, last_lat, *_ = columns
    return unit_positions(
        # A StrEnum member equals its value: no enum built per unit.
        np.array([s == UnitStatus.AT_STATION for s in status], dtype=bool),
        np.array((station_lon, station_lat), dtype=np.float64).reshape(2, -1).T,  # None: NaN
        np.array((last_lon, last_lat), dtype=np.float64).reshape(2, -1).T,
    )


@functools.cache
def _units_query(*, with_capabilities: bool, p1: bool) -> Select[Any]:
    """The units ranking may offer, and those already on the incidents ranked for.

    Built once per variant; the incidents (``incident_ids``, a list) and the time before
    which a position is stale (``stale_before``) are bound per call. Whether a position
    is stale is asked of the database: the time itself, a value to convert per row, is
    read afterwards for the few candidates shown with it.
    """
    statuses = {s.value for s in FREE} | (set(_COMMITTED_VALUES) if p1 else set())
    stale = (_UNIT.last_position_at < bindparam("stale_before")).label("stale")
    extra = (stale, _UNIT.capabilities) if with_capabilities else (stale,)
    return select(*_COLUMNS, *extra).where(
        _UNIT.active.is_(True),
        or_(
            _UNIT.status.in_(sorted(statuses)),
            _UNIT.current_incident_id.in_(bindparam("incident_ids", expanding=True)),
        ),
    )


def etas_for(
    *, session: Session, city: CityModel, incident: Incident, unit_ids: list[int]
) -> dict[int, float]:
    """Road travel time (s) to ``incident`` of each of ``unit_ids`` with a known position.

    For the units being dispatched: the same estimate as :func:`recommend`, without
    ranking every unit in service. Units without a position or a route are left out.
    """
    units = session.execute(select(*_COLUMNS).where(_UNIT.id.in_(sorted(set(unit_ids))))).all()
    known = _positions_of(_columns(units))
    placed = np.isfinite(known[:, 0]) & np.isfinite(known[:, 1])
    if not placed.any():
        return {}
    walking = np.array([u.unit_type in WALKING_TYPES for u in units], dtype=bool)[placed]
    travel = city.travel(known[placed], (incident.lon, incident.lat), walking=walking)
    ids = [u.id for u, ok in zip(units, placed, strict=True) if ok]
    return {
        unit_id: round(eta, 1)
        for unit_id, eta in zip(ids, travel.eta_s.tolist(), strict=True)
        if math.isfinite(eta)
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
    (out,) = recommend_many(session=session, city=city, asked=[(incident, limit)], plans=plans)
    return out


def recommend_many(
    *,
    session: Session,
    city: CityModel,
    asked: Sequence[tuple[Incident, int]],
    plans: Mapping[str, int],
) -> list[RecommendationOut]:
    """:func:`recommend` for several incidents at once, from one read of the units.

    ``asked`` holds ``(incident, limit)`` pairs; the answers come in the same order, each
    the same as :func:`recommend` would give at that moment. Recommendations asked at
    the same time (a burst of new calls) then cost one statement for the units, not one
    each.
    """
    incident_ids = [incident.id for incident, _ in asked]  # ORM attributes: read once
    required = [set(get_type(incident.type_code).capabilities) for incident, _ in asked]
    p1 = [incident.priority == Priority.P1 for incident, _ in asked]
    now = utcnow()
    units = session.execute(  # and the units already on the incidents, for the plans
        _units_query(with_capabilities=any(required), p1=any(p1)),
        {
            "incident_ids": sorted(set(incident_ids)),
            "stale_before": now - dt.timedelta(seconds=STALE_POSITION_S),
        },
    ).all()
    columns = _columns(units)
    current = columns[4]
    committed_priority: dict[int, int] = {}
    busy_ids = set(current) - {None}
    if busy_ids and any(p1):  # only a P1 incident is offered units committed elsewhere
        rows = session.execute(
            select(Incident.id, Incident.priority).where(Incident.id.in_(busy_ids))
        ).all()
        committed_priority = {int(row[0]): int(row[1]) for row in rows}
    known = _positions_of(columns)
    placed = np.isfinite(known[:, 0]) & np.isfinite(known[:, 1])
    ranked = [
        _rank(
            units, columns, known, placed, city, incident, limit, needs, urgent, committed_priority
        )
        for (incident, limit), needs, urgent in zip(asked, required, p1, strict=True)
    ]
    stale_ids = {units[i].id for rank in ranked for i, _ in rank.shown if units[i].stale}
    position_at: dict[int, dt.datetime] = {}
    if stale_ids:
        found = session.execute(
            select(Unit.id, Unit.last_position_at).where(Unit.id.in_(sorted(stale_ids)))
        ).all()
        position_at = {int(row[0]): row[1] for row in found if row[1] is not None}
    answers = []
    for (incident, _), needs, rank in zip(asked, required, ranked, strict=True):
        candidates = [
            _candidate(
                units[index],
                eta=float(rank.eta_s[at]),
                dist=float(rank.distance_m[at]),
                preemptable=rank.preemptable[at],
                committed_priority=committed_priority,
                required=needs,
                by_road=rank.method == "road_network",
                now=now,
                position_at=position_at.get(units[index].id),
            )
            for index, at in rank.shown
        ]
        answers.append(
            RecommendationOut(
                incident_id=incident.id,
                priority=incident.priority,
                required_capabilities=sorted(needs),
                method=rank.method,
                candidates=candidates,
                plan=propose(
                    candidates, wanted=plans.get(incident.type_code, 1), assigned=rank.assigned
                ),
                excluded=rank.excluded,
            )
        )
    return answers


@dataclasses.dataclass(slots=True)
class _Ranked:
    """The units ranked for one incident: ``shown`` holds (index into the units, index
    into ``eta_s``, ``distance_m`` and ``preemptable``) of the best, in order."""

    method: str = "none"
    assigned: int = 0
    shown: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    eta_s: list[float] = dataclasses.field(default_factory=list)
    distance_m: list[float] = dataclasses.field(default_factory=list)
    preemptable: list[bool] = dataclasses.field(default_factory=list)
    excluded: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def _rank(
    units: Sequence[Row[Any]],
    columns: Sequence[tuple[Any, ...]],
    known: NDArray[np.float64],
    placed: NDArray[np.bool_],
    city: CityModel,
    incident: Incident,
    limit: int,
    required: set[str],
    p1: bool,
    committed_priority: dict[int, int],
) -> _Ranked:
    """Rank the units read by :func:`recommend_many` for one incident."""
    incident_id = incident.id
    _, call_signs, unit_types, statuses, current, *_ = columns
    ranked = _Ranked(assigned=sum(1 for c in current if c == incident_id))
    eligible: list[int] = []  # indexes into units
    for index, (unit_incident, status, unit_type) in enumerate(
        zip(current, statuses, unit_types, strict=True)
    ):
        if unit_incident == incident_id:
            continue  # already there
        committed = status in _COMMITTED_VALUES
        if committed and not p1:
            continue  # read for another incident of the batch
        if required:
            caps = set(units[index].capabilities or []) | _TYPE_CAPS[unit_type]
            missing = required - caps
            if missing:
                ranked.excluded.append(
                    _left_out(units[index], f"lacks {', '.join(sorted(missing))}")
                )
                continue
        if committed and committed_priority.get(unit_incident or -1, 1) < Priority.P3:
            continue  # committed to urgent work: not offered
        if not placed[index]:
            ranked.excluded.append(_left_out(units[index], "no known position"))
            continue
        eligible.append(index)
        ranked.preemptable.append(committed)
    if not eligible:
        return ranked
    walking = np.array([unit_types[i] in WALKING_TYPES for i in eligible], dtype=bool)
    travel = city.travel(known[eligible], (incident.lon, incident.lat), walking=walking)
    ranked.method = travel.method
    ranked.eta_s, ranked.distance_m = travel.eta_s.tolist(), travel.distance_m.tolist()
    routed: list[tuple[float, str, int]] = []
    for rank, (index, eta) in enumerate(zip(eligible, ranked.eta_s, strict=True)):
        if not math.isfinite(eta):
            ranked.excluded.append(_left_out(units[index], "no route to the incident"))
            continue
        # Free units first at equal ETA; preemption only when it actually saves time.
        penalty = PREEMPTION_PENALTY_S if ranked.preemptable[rank] else 0.0
        routed.append((round(eta, 1) + penalty, call_signs[index], rank))
    routed.sort()
    ranked.shown = [(eligible[rank], rank) for _, _, rank in routed[:limit]]
    return ranked


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
