"""Which units should go: eligible units ranked by travel time to the incident."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Row, Select, Text, bindparam, or_, select
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
_FREE_VALUES = frozenset(s.value for s in FREE)
# Preemption is offered only when it saves more than this over a free unit.
PREEMPTION_PENALTY_S = 60.0

# Only what ranking needs, as table columns: building 200 ORM objects per request cost
# more than the rest, and even ORM column rows cost a loading step per row. The
# capabilities are read only when an incident type requires some.
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
    statuses = set(_FREE_VALUES) | (set(_COMMITTED_VALUES) if p1 else set())
    stale = (_UNIT.last_position_at < bindparam("stale_before")).label("stale")
    # The capabilities as JSON text, decoded once per distinct set (_capabilities).
    capabilities = _UNIT.capabilities.cast(Text).label("capabilities")
    extra = (stale, capabilities) if with_capabilities else (stale,)
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


class Asked(Protocol):
    """What ranking reads of an incident (an :class:`Incident` or a row of its columns)."""

    @property
    def id(self) -> int: ...
    @property
    def type_code(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...


_INCIDENT = Incident.__table__.c


def incidents_to_rank(session: Session, incident_ids: Sequence[int]) -> dict[int, Asked]:
    """The incidents of ``incident_ids`` that exist, by id: only the columns ranking reads.

    One statement of plain rows; loading whole incidents (ORM objects) cost more than
    the ranking of a few of them.
    """
    columns = (_INCIDENT.id, _INCIDENT.type_code, _INCIDENT.priority, _INCIDENT.lon, _INCIDENT.lat)
    query = select(*columns).where(_INCIDENT.id.in_(sorted(set(incident_ids))))
    return {int(row.id): cast(Asked, row) for row in session.execute(query)}


def recommend_many(
    *,
    session: Session,
    city: CityModel,
    asked: Sequence[tuple[Asked, int]],
    plans: Mapping[str, int],
) -> list[RecommendationOut]:
    """:func:`recommend` for several incidents at once, from one read of the units.

    ``asked`` holds ``(incident, limit)`` pairs; the answers come in the same order, each
    the same as :func:`recommend` would give at that moment. Recommendations asked at
    the same time (a burst of new calls) then cost one statement for the units, not one
    each, and the units are turned into arrays once for all of them.
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
    committed_priority: dict[int, int] = {}
    busy_ids = {row.current_incident_id for row in units} - {None}
    if busy_ids and any(p1):  # only a P1 incident is offered units committed elsewhere
        rows = session.execute(
            select(Incident.id, Incident.priority).where(Incident.id.in_(busy_ids))
        ).all()
        committed_priority = {int(row[0]): int(row[1]) for row in rows}
    fleet = _fleet(units, committed_priority, with_capabilities=any(required))
    ranked = [
        _rank(fleet, city, incident, limit, needs, urgent)
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Fleet:
    """The units read by :func:`recommend_many`, one array entry per row of ``rows``."""

    rows: Sequence[Row[Any]]
    call_signs: NDArray[np.str_]
    free: NDArray[np.bool_]  # available or at the station
    committed: NDArray[np.bool_]  # on an incident: offered to a P1 incident only ...
    urgent_work: NDArray[np.bool_]  # ... unless that incident is P1/P2 (or not found)
    current: NDArray[np.int64]  # the incident a unit is on; -1 for none
    walking: NDArray[np.bool_]
    known: NDArray[np.float64]  # (lon, lat) rows, NaN where not known
    placed: NDArray[np.bool_]
    kinds: NDArray[np.intp]  # index into ``capabilities``
    capabilities: list[frozenset[str]]  # the distinct capability sets (own and of the type)


def _fleet(
    units: Sequence[Row[Any]], committed_priority: dict[int, int], *, with_capabilities: bool
) -> _Fleet:
    """The arrays every incident of a batch is ranked from, built once."""
    columns = _columns(units)
    _, call_signs, unit_types, statuses, current, *_ = columns
    known = _positions_of(columns)
    committed = np.array([s in _COMMITTED_VALUES for s in statuses], dtype=bool)
    # Committed to a P1/P2 incident (or to one not found): never offered.
    urgent = [committed_priority.get(c, Priority.P1) < Priority.P3 for c in current]
    kinds: dict[tuple[str | None, str], int] = {}
    texts = columns[-1] if with_capabilities else [None] * len(units)
    kind_of = [kinds.setdefault((t, u), len(kinds)) for t, u in zip(texts, unit_types, strict=True)]
    return _Fleet(
        rows=units,
        call_signs=np.array(call_signs, dtype=str),
        free=np.array([s in _FREE_VALUES for s in statuses], dtype=bool),
        committed=committed,
        urgent_work=committed & np.array(urgent, dtype=bool),
        current=np.array([-1 if c is None else c for c in current], dtype=np.int64),
        walking=np.array([u in WALKING_TYPES for u in unit_types], dtype=bool),
        known=known,
        placed=np.asarray(np.isfinite(known).all(axis=1)),
        kinds=np.array(kind_of, dtype=np.intp),
        capabilities=[_capabilities(text) | _TYPE_CAPS[u] for text, u in kinds],
    )


@functools.lru_cache(maxsize=1024)
def _capabilities(text: str | None) -> frozenset[str]:
    """A unit's own capabilities from their JSON text (read as text: units share a few
    sets, each decoded once)."""
    return frozenset(json.loads(text) or ()) if text else frozenset()  # JSON null: none


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
    fleet: _Fleet, city: CityModel, incident: Asked, limit: int, required: set[str], p1: bool
) -> _Ranked:
    """Rank the units of ``fleet`` for one incident (array operations over the units)."""
    here = fleet.current == incident.id
    ranked = _Ranked(assigned=int(here.sum()))
    offered = ~here & (fleet.free | (fleet.committed & p1))
    missing = [required - caps for caps in fleet.capabilities]  # per distinct set
    lacking = offered & np.array([bool(m) for m in missing], dtype=bool)[fleet.kinds]
    offered &= ~lacking & ~fleet.urgent_work  # committed to urgent work: not offered
    unplaced = offered & ~fleet.placed
    for index in np.flatnonzero(lacking | unplaced).tolist():  # in the order of the units
        reason = (
            f"lacks {', '.join(sorted(missing[fleet.kinds[index]]))}"
            if lacking[index]
            else "no known position"
        )
        ranked.excluded.append(_left_out(fleet.rows[index], reason))
    eligible = np.flatnonzero(offered & fleet.placed)
    if not eligible.size:
        return ranked
    travel = city.travel(
        fleet.known[eligible], (incident.lon, incident.lat), walking=fleet.walking[eligible]
    )
    ranked.method = travel.method
    ranked.eta_s, ranked.distance_m = travel.eta_s.tolist(), travel.distance_m.tolist()
    preemptable = fleet.committed[eligible]
    ranked.preemptable = preemptable.tolist()
    routed = np.flatnonzero(np.isfinite(travel.eta_s))
    for rank in np.flatnonzero(~np.isfinite(travel.eta_s)).tolist():
        ranked.excluded.append(_left_out(fleet.rows[eligible[rank]], "no route to the incident"))
    # Free units first at equal ETA; preemption only when it actually saves time. The
    # ETA is rounded as shown (Python's rounding), ties go by call sign, then by row.
    shown_eta = np.array([round(ranked.eta_s[rank], 1) for rank in routed.tolist()])
    key = shown_eta + np.where(preemptable[routed], PREEMPTION_PENALTY_S, 0.0)
    order = np.lexsort((fleet.call_signs[eligible[routed]], key))[:limit]
    ranked.shown = [(int(eligible[routed[o]]), int(routed[o])) for o in order.tolist()]
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
