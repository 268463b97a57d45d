"""The demo's live shift: simulated calls and units, through the public dispatch flows.

While the demo server runs, :class:`LiveShift` ticks once a second (wall clock) and moves
a simulated clock ``speed`` times faster:

* calls arrive as a Poisson process (``rate_per_hour`` of simulated time, types and places
  drawn like the demo history) and are taken with :func:`arverne.dispatch.flows.intake`;
* an incident nobody dispatched within ``auto_dispatch_s`` wall seconds gets the first
  recommended unit (:func:`arverne.dispatch.recommend.recommend` then ``flows.dispatch``);
* simulated units that are dispatched, by a human or automatically, go en route, drive
  along their road route (positions reported as AVL through ``service.record_position``),
  spend a realistic time on scene, then clear; the last unit out closes the incident;
* free units patrol their area at normal speed, reporting positions.

A human acting at the same moment wins: a refused action (conflict) is simply skipped.
Every record the simulator writes is flagged ``synthetic``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from typing import Any

import anyio
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.demo.history import DISPOSITIONS, ON_SCENE_MEDIAN_S, TYPE_MIX
from arverne.dispatch import flows, recommend, service
from arverne.dispatch.city import CityModel, haversine_m
from arverne.dispatch.models import Incident, Unit
from arverne.dispatch.schemas import (
    CallIn,
    Channel,
    CloseIn,
    DispatchIn,
    Disposition,
    IncidentIn,
    PositionIn,
    StatusIn,
)
from arverne.dispatch.status import UnitStatus
from arverne.errors import ConflictError, InvalidInputError, NotFoundError
from arverne.security.audit import AuditContext
from arverne.store.session import session_scope
from arverne.store.types import utcnow

logger = logging.getLogger("arverne.demo.live")
SIM_CTX = AuditContext(actor="simulateur (démo)")
POSITION_EVERY_S = 2.0
PATROL_SPEED_MPS = 25 / 3.6
CITY_SPEED_MPS = 45 / 3.6


@dataclasses.dataclass
class Trip:
    """A unit's movement along a polyline, timed in simulated seconds."""

    points: np.ndarray  # (n, 2) lon, lat
    times: np.ndarray  # cumulative simulated seconds at each point
    elapsed: float = 0.0

    @property
    def done(self) -> bool:
        """True once the end is reached."""
        return self.elapsed >= float(self.times[-1])

    def position(self) -> tuple[float, float]:
        """Interpolated (lon, lat) at the elapsed time."""
        t = min(self.elapsed, float(self.times[-1]))
        lon = float(np.interp(t, self.times, self.points[:, 0]))
        lat = float(np.interp(t, self.times, self.points[:, 1]))
        return lon, lat


@dataclasses.dataclass
class UnitState:
    """What the simulator remembers about one unit between ticks."""

    trip: Trip | None = None
    incident_id: int | None = None
    scene_left_s: float | None = None
    since_position: float = 0.0


def _segment_lengths(points: np.ndarray) -> np.ndarray:
    """Great-circle length in metres of each segment of a (n, 2) lon/lat polyline."""
    lon, lat = np.radians(points[:, 0]), np.radians(points[:, 1])
    dlat, dlon = np.diff(lat), np.diff(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * 6_371_008.8 * np.arcsin(np.sqrt(a)), dtype=np.float64)


class LiveShift:
    """Simulated calls and units for the demo server (see the module docstring)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        city: CityModel,
        *,
        speed: float = 5.0,
        rate_per_hour: float = 6.0,
        auto_dispatch_s: float = 45.0,
        seed: int = 2026,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.city = city
        self.speed = speed
        self.rate_per_hour = rate_per_hour
        self.auto_dispatch_s = auto_dispatch_s
        self.rng = np.random.default_rng(seed)
        self.units: dict[int, UnitState] = {}
        self.codes = list(TYPE_MIX)
        weights = np.array([TYPE_MIX[c][0] for c in self.codes])
        self.weights = weights / weights.sum()
        self.places: Any = None

    # -- places and routes ----------------------------------------------------------------
    def _setup_places(self) -> None:
        pack = getattr(self.city, "pack", None)
        if pack is None or self.places is not None:
            return
        from arverne.demo.history import HistoryConfig, _Places

        today = utcnow().date()
        self.places = _Places(pack, HistoryConfig(start=today, end=today), self.rng)

    def _random_point(self, anchor: str) -> tuple[float, float]:
        if self.places is not None:
            idx = int(self.places.place(anchor, 1, self.rng)[0])
            row = self.places.addr.iloc[idx]
            return float(row["lon"]), float(row["lat"])
        x0, y0, x1, y1 = self.city.info()["bbox"]
        return float(self.rng.uniform(x0, x1)), float(self.rng.uniform(y0, y1))

    def _trip(
        self, start: tuple[float, float], end: tuple[float, float], *, urgent: bool, patrol: bool
    ) -> Trip:
        pack = getattr(self.city, "pack", None)
        if pack is not None:
            from arverne.geo.errors import NoRouteError, SnapError
            from arverne.geo.routing import route

            with contextlib.suppress(NoRouteError, SnapError, ValueError):
                found = route(pack, start, end, emergency=urgent)
                points = np.array(found.geometry, dtype=np.float64)
                if len(points) >= 2:
                    seg = _segment_lengths(points)
                    total = max(float(seg.sum()), 1.0)
                    duration = found.travel_time_s * (1.6 if patrol else 1.0)
                    times = np.concatenate([[0.0], np.cumsum(seg) / total * duration])
                    return Trip(points=points, times=times)
        distance = float(haversine_m(np.array([start[0]]), np.array([start[1]]), *end)[0]) * 1.3
        speed = PATROL_SPEED_MPS if patrol else CITY_SPEED_MPS * (1.3 if urgent else 1.0)
        return Trip(
            points=np.array([start, end]), times=np.array([0.0, max(distance / speed, 1.0)])
        )

    # -- one tick -------------------------------------------------------------------------
    def tick(self, wall_s: float) -> None:
        """Advance the simulation by ``wall_s`` wall-clock seconds."""
        self._setup_places()
        sim_s = wall_s * self.speed
        for _ in range(int(self.rng.poisson(self.rate_per_hour * sim_s / 3600.0))):
            self._safely(self._new_call)
        self._safely(self._auto_dispatch)
        with session_scope(self.factory) as session:
            units = session.scalars(
                select(Unit).where(Unit.synthetic.is_(True), Unit.status != "off_duty")
            ).all()
            snapshot = [
                (u.id, u.status, u.current_incident_id, u.last_lon, u.last_lat) for u in units
            ]
        for unit_id, status, incident_id, lon, lat in snapshot:
            state = self.units.setdefault(unit_id, UnitState())
            self._safely(self._move, state, unit_id, status, incident_id, lon, lat, sim_s, wall_s)

    def _safely(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except (ConflictError, InvalidInputError, NotFoundError) as exc:
            logger.debug("simulator action skipped: %s", exc)

    def _new_call(self) -> None:
        code = str(self.rng.choice(self.codes, p=self.weights))
        lon, lat = self._random_point(TYPE_MIX[code][1])
        with session_scope(self.factory) as session:
            flows.intake(
                session=session,
                ctx=SIM_CTX,
                settings=self.settings,
                city=self.city,
                incident_in=IncidentIn(
                    type_code=code,
                    lon=lon,
                    lat=lat,
                    description="Appel simulé (démo)",
                    call=CallIn(
                        channel=Channel.EMERGENCY
                        if code in ("fight", "traffic_injury")
                        else Channel.PHONE
                    ),
                ),
                synthetic=True,
            )

    def _auto_dispatch(self) -> None:
        with session_scope(self.factory) as session:
            cutoff = utcnow().timestamp() - self.auto_dispatch_s
            waiting = session.scalars(
                select(Incident)
                .where(Incident.status == "queued", Incident.synthetic.is_(True))
                .order_by(Incident.priority, Incident.first_call_at)
                .limit(5)
            ).all()
            for incident in waiting:
                if incident.created_at.timestamp() > cutoff or incident.priority == 4:
                    continue
                rec = recommend.recommend(
                    session=session, city=self.city, incident=incident, limit=3
                )
                free = [c for c in rec.candidates if not c.preemptable]
                if not free:
                    continue
                flows.dispatch(
                    session=session,
                    ctx=AuditContext(actor="simulateur (répartition automatique)"),
                    settings=self.settings,
                    incident_id=incident.id,
                    dispatch_in=DispatchIn(unit_ids=[free[0].unit_id]),
                    etas={free[0].unit_id: free[0].eta_s},
                )
                return  # one per tick: leaves room for the human dispatcher

    def _set_status(self, unit_id: int, status: UnitStatus) -> None:
        with session_scope(self.factory) as session:
            flows.set_unit_status(
                session=session,
                ctx=SIM_CTX,
                settings=self.settings,
                unit_id=unit_id,
                status_in=StatusIn(status=status),
            )

    def _report(self, unit_id: int, position: tuple[float, float]) -> None:
        with session_scope(self.factory) as session:
            unit = service.get_unit(session, unit_id, lock=True)
            service.record_position(
                session, SIM_CTX, unit, PositionIn(lon=position[0], lat=position[1])
            )

    def _move(
        self,
        state: UnitState,
        unit_id: int,
        status: str,
        incident_id: int | None,
        lon: float | None,
        lat: float | None,
        sim_s: float,
        wall_s: float,
    ) -> None:
        here = (lon, lat) if lon is not None and lat is not None else None
        if status == "dispatched" and incident_id is not None and here is not None:
            with session_scope(self.factory) as session:
                incident = service.get_incident(session, incident_id)
                target, urgent = (incident.lon, incident.lat), incident.priority <= 2
            state.trip = self._trip(here, target, urgent=urgent, patrol=False)
            state.incident_id = incident_id
            self._set_status(unit_id, UnitStatus.EN_ROUTE)
            return
        if status == "en_route" and state.trip is not None and state.incident_id == incident_id:
            state.trip.elapsed += sim_s
            self._report_every(state, unit_id, wall_s)
            if state.trip.done:
                self._report(unit_id, state.trip.position())
                self._set_status(unit_id, UnitStatus.ON_SCENE)
                code = self._incident_type(incident_id)
                median = ON_SCENE_MEDIAN_S.get(code, 1200.0)
                state.trip, state.scene_left_s = (
                    None,
                    float(self.rng.lognormal(math.log(median), 0.4)),
                )
            return
        if status == "on_scene" and incident_id is not None:
            left = state.scene_left_s if state.scene_left_s is not None else 600.0
            state.scene_left_s = left - sim_s
            if state.scene_left_s <= 0:
                state.scene_left_s = None
                self._clear(unit_id, incident_id)
            return
        if status in ("available", "at_station") and here is not None:
            if state.trip is None or state.trip.done or state.incident_id is not None:
                state.incident_id = None
                state.trip = self._trip(
                    here, self._random_point("street"), urgent=False, patrol=True
                )
            state.trip.elapsed += sim_s
            self._report_every(state, unit_id, wall_s)

    def _report_every(self, state: UnitState, unit_id: int, wall_s: float) -> None:
        state.since_position += wall_s
        if state.since_position >= POSITION_EVERY_S and state.trip is not None:
            state.since_position = 0.0
            self._report(unit_id, state.trip.position())

    def _incident_type(self, incident_id: int | None) -> str:
        if incident_id is None:
            return ""
        with session_scope(self.factory) as session:
            return service.get_incident(session, incident_id, related=False).type_code

    def _clear(self, unit_id: int, incident_id: int) -> None:
        with session_scope(self.factory) as session:
            incident = service.get_incident(session, incident_id, lock=True)
            others = [
                a for a in incident.assignments if a.released_at is None and a.unit_id != unit_id
            ]
            if others:
                flows.set_unit_status(
                    session=session,
                    ctx=SIM_CTX,
                    settings=self.settings,
                    unit_id=unit_id,
                    status_in=StatusIn(status=UnitStatus.AVAILABLE),
                )
                return
            names, probs = zip(*DISPOSITIONS, strict=True)
            disposition = str(self.rng.choice(np.array(names), p=np.array(probs) / sum(probs)))
            flows.close_incident(
                session=session,
                ctx=SIM_CTX,
                settings=self.settings,
                incident_id=incident_id,
                close_in=CloseIn(
                    disposition=Disposition(disposition), note="Clôture simulée (démo)"
                ),
            )

    # -- the loop ------------------------------------------------------------------------
    async def run(self, *, interval_s: float = 1.0) -> None:
        """Tick forever (cancel the task to stop)."""
        logger.info("live demo shift: speed x%s, %s calls/hour", self.speed, self.rate_per_hour)
        while True:
            try:
                await anyio.to_thread.run_sync(self.tick, interval_s)
            except Exception:  # the demo must keep going after a hiccup
                logger.exception("live demo tick failed")
            await asyncio.sleep(interval_s)
