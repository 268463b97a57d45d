"""The demo's live shift: simulated calls and units, through the public dispatch flows.

While the demo server runs, :class:`LiveShift` ticks once a second (wall clock) and moves
a simulated clock ``speed`` times faster:

* calls arrive as a Poisson process (``rate_per_hour`` of simulated time, types and places
  drawn like the demo history) and are taken with :func:`arverne.dispatch.flows.intake`;
* an incident nobody dispatched within ``auto_dispatch_s`` wall seconds gets the units its
  response plan proposes (:func:`arverne.dispatch.recommend.recommend` then
  ``flows.dispatch``): two crews for a fight, one for a theft;
* simulated units that are dispatched, by a human or automatically, go en route, drive
  along their road route (positions reported as AVL through ``service.record_position``),
  spend a realistic time on scene, then clear; the last unit out closes the incident;
* when its on-scene time ends, a unit may take someone away (``transporting``): to custody
  at the Hôtel de police after an arrest, or to the CHU for an injury or a drunk person's
  medical check; it drives there, then is free again (after its paperwork when that is
  its own station); the incident closes when its last unit is done;
* free units patrol their area at normal speed, reporting positions;
* a simulated clock (``start``, then ``speed`` times the wall clock) decides the shift on
  duty; at each shift change (:mod:`arverne.demo.roster`) the incoming units come on duty
  at their station and the outgoing ones drive back and go off duty, after finishing
  their intervention when they are committed.

A human acting at the same moment wins: a refused action (conflict) is simply skipped.
Every record the simulator writes is flagged ``synthetic``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import math
from typing import Any

import anyio
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.demo.history import ON_SCENE_MEDIAN_S, TYPE_MIX
from arverne.demo.roster import (
    REFUSED,
    Place,
    Roster,
    Seen,
    closing_disposition,
    transport_place,
    transport_target,
)
from arverne.demo.scene import CREW_CTX, found_on_scene
from arverne.demo.trips import Trip, distance_m, plan_trip
from arverne.dispatch import flows, recommend, service
from arverne.dispatch.city import CityModel
from arverne.dispatch.crew import human_crewed
from arverne.dispatch.models import Incident, Unit
from arverne.dispatch.schemas import (
    CallIn,
    Channel,
    CloseIn,
    DispatchIn,
    IncidentIn,
    PositionIn,
    StatusIn,
)
from arverne.dispatch.status import COMMITTED, UnitStatus
from arverne.errors import InvalidInputError
from arverne.security.audit import AuditContext
from arverne.store.session import session_scope
from arverne.store.types import utcnow

logger = logging.getLogger("arverne.demo.live")
SIM_CTX = AuditContext(actor="simulateur (démo)")
POSITION_EVERY_S = 2.0
HOME_RADIUS_M = 100.0  # a relieved unit this close to its station needs no drive back
PAPERWORK_S = (600.0, 1200.0)  # at its station after a custody transport: the procedure


@dataclasses.dataclass
class UnitState:
    """What the simulator remembers about one unit between ticks."""

    trip: Trip | None = None
    incident_id: int | None = None
    type_code: str | None = None
    scene_left_s: float | None = None
    destination: str | None = None  # where a transporting unit drives
    paperwork_s: float | None = None  # left at its station after a custody transport
    returning: bool = False  # a relieved unit driving back to its station
    since_position: float = 0.0


class LiveShift:
    """Simulated calls and units for the demo server (see the module docstring).

    Parameters
    ----------
    factory, settings, city
        Where the simulator writes, the platform settings and the city model.
    speed
        Simulated seconds per wall-clock second.
    rate_per_hour
        Mean number of calls per simulated hour.
    auto_dispatch_s
        Wall seconds an incident waits for a human dispatcher before the simulator sends
        the first recommended unit.
    seed
        Seed of the random generator.
    start
        Simulated time (timezone-aware) the clock starts at; now by default.
    transport_probability
        Chance that a unit leaving the scene transports someone, whatever the incident
        type (tests); by default the type's chance in :data:`arverne.demo.roster.TRANSPORTS`.
    """

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
        start: dt.datetime | None = None,
        transport_probability: float | None = None,
        requalify: bool = True,
    ) -> None:
        if start is not None and start.utcoffset() is None:
            raise InvalidInputError("start", "give a timezone-aware time, e.g. in UTC")
        if transport_probability is not None and not 0.0 <= transport_probability <= 1.0:
            raise InvalidInputError("transport_probability", "give a chance between 0 and 1")
        self.factory = factory
        self.settings = settings
        self.city = city
        self.speed = speed
        self.rate_per_hour = rate_per_hour
        self.auto_dispatch_s = auto_dispatch_s
        self.transport_probability = transport_probability
        self.requalify = requalify  # crews sometimes find another incident on arrival
        self.now = (start if start is not None else utcnow()).astimezone(dt.UTC)
        self.roster = Roster(factory, settings, SIM_CTX)
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
        return plan_trip(self.city, start, end, urgent=urgent, patrol=patrol)

    # -- one tick -------------------------------------------------------------------------
    def tick(self, wall_s: float) -> None:
        """Advance the simulation by ``wall_s`` wall-clock seconds."""
        self._setup_places()
        sim_s = wall_s * self.speed
        self.now += dt.timedelta(seconds=sim_s)
        self._safely(self.roster.update, self.now)
        for _ in range(int(self.rng.poisson(self.rate_per_hour * sim_s / 3600.0))):
            self._safely(self._new_call)
        self._safely(self._auto_dispatch)
        with session_scope(self.factory) as session:
            units = session.scalars(
                select(Unit).where(
                    Unit.synthetic.is_(True), Unit.status != "off_duty", ~human_crewed()
                )
            ).all()
            seen = [Seen.of(u) for u in units]
        for unit in seen:
            state = self.units.setdefault(unit.unit_id, UnitState())
            self._safely(self._move, state, unit, sim_s, wall_s)

    def _safely(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except REFUSED as exc:
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
                    session=session,
                    city=self.city,
                    incident=incident,
                    plans=flows.plans_for(self.settings),
                    limit=6,
                )
                # The response plan's proposal; a crew going off duty is left to the
                # human dispatcher.
                free = [c for c in rec.candidates if c.unit_id in rec.plan.proposed]
                free = [c for c in free if c.unit_id not in self.roster.relieved]
                if not free:
                    continue
                flows.dispatch(
                    session=session,
                    ctx=AuditContext(actor="simulateur (répartition automatique)"),
                    settings=self.settings,
                    incident_id=incident.id,
                    dispatch_in=DispatchIn(unit_ids=[c.unit_id for c in free]),
                    etas={c.unit_id: c.eta_s for c in free},
                )
                return  # one per tick: leaves room for the human dispatcher

    def _set_status(
        self, unit_id: int, status: UnitStatus, *, destination: str | None = None
    ) -> None:
        with session_scope(self.factory) as session:
            flows.set_unit_status(
                session=session,
                ctx=SIM_CTX,
                settings=self.settings,
                unit_id=unit_id,
                status_in=StatusIn(status=status, destination=destination),
            )

    def _report(self, unit_id: int, position: tuple[float, float]) -> None:
        with session_scope(self.factory) as session:
            unit = service.get_unit(session, unit_id, lock=True)
            service.record_position(
                session, SIM_CTX, unit, PositionIn(lon=position[0], lat=position[1])
            )

    def _move(self, state: UnitState, unit: Seen, sim_s: float, wall_s: float) -> None:
        status, incident_id, here = unit.status, unit.incident_id, unit.here
        if unit.unit_id in self.roster.relieved and UnitStatus(status) not in COMMITTED:
            self._go_home(state, unit, sim_s, wall_s)
            return
        if status == "dispatched" and incident_id is not None and here is not None:
            with session_scope(self.factory) as session:
                incident = service.get_incident(session, incident_id)
                target, urgent = (incident.lon, incident.lat), incident.priority <= 2
            state = self.units[unit.unit_id] = UnitState(
                trip=self._trip(here, target, urgent=urgent, patrol=False),
                incident_id=incident_id,
            )
            self._set_status(unit.unit_id, UnitStatus.EN_ROUTE)
            return
        if status == "en_route" and state.trip is not None and state.incident_id == incident_id:
            state.trip.elapsed += sim_s
            self._report_every(state, unit.unit_id, wall_s)
            if state.trip.done:
                self._report(unit.unit_id, state.trip.position())
                self._set_status(unit.unit_id, UnitStatus.ON_SCENE)
                state.type_code = self._found_on_scene(incident_id)
                median = ON_SCENE_MEDIAN_S.get(state.type_code, 1200.0)
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
                known = state.incident_id == incident_id and state.type_code is not None
                code = state.type_code if known else self._incident_type(incident_id)
                place = self._transport_place(unit, code or "")
                if place is None:
                    self._clear(unit.unit_id, incident_id)
                else:
                    self._start_transport(state, unit, incident_id, place)
            return
        if status == "transporting" and incident_id is not None:
            self._transport(state, unit, incident_id, sim_s, wall_s)
            return
        if status == "at_station" and state.paperwork_s is not None:
            state.paperwork_s -= sim_s
            if state.paperwork_s <= 0:
                state.paperwork_s = None
                self._set_status(unit.unit_id, UnitStatus.AVAILABLE)
            return
        if status in ("available", "at_station") and here is not None:
            state.paperwork_s = None
            if state.trip is None or state.trip.done or state.incident_id is not None:
                state.incident_id = None
                state.trip = self._trip(
                    here, self._random_point("street"), urgent=False, patrol=True
                )
            state.trip.elapsed += sim_s
            self._report_every(state, unit.unit_id, wall_s)

    def _report_every(self, state: UnitState, unit_id: int, wall_s: float) -> None:
        state.since_position += wall_s
        if state.since_position >= POSITION_EVERY_S and state.trip is not None:
            state.since_position = 0.0
            self._report(unit_id, state.trip.position())

    def _found_on_scene(self, incident_id: int | None) -> str:
        """The incident's type once the crew has seen it (sometimes requalified)."""
        code = self._incident_type(incident_id)
        update = found_on_scene(self.rng, code) if self.requalify else None
        if update is None or incident_id is None:
            return code
        with session_scope(self.factory) as session:
            flows.update_incident(
                session=session, ctx=CREW_CTX, settings=self.settings, incident_id=incident_id,
                update=update,
            )  # fmt: skip
        return str(update.type_code)

    def _incident_type(self, incident_id: int | None) -> str:
        if incident_id is None:
            return ""
        with session_scope(self.factory) as session:
            return service.get_incident(session, incident_id, related=False).type_code

    # -- transports -----------------------------------------------------------------------
    def _transport_place(self, unit: Seen, code: str) -> Place | None:
        """Where the unit takes someone on leaving the scene, or None (no transport)."""
        if not unit.can_transport:
            return None
        return transport_place(code, self.rng, chance=self.transport_probability)

    def _start_transport(
        self, state: UnitState, unit: Seen, incident_id: int, place: Place
    ) -> None:
        name, lon, lat = place
        self._set_status(unit.unit_id, UnitStatus.TRANSPORTING, destination=name)
        state.trip = self._trip(unit.here or (lon, lat), (lon, lat), urgent=False, patrol=False)
        state.destination, state.incident_id = name, incident_id

    def _transport(
        self, state: UnitState, unit: Seen, incident_id: int, sim_s: float, wall_s: float
    ) -> None:
        """Drive a transporting unit to its destination; there, it is free again."""
        trip = state.trip
        if trip is None or state.destination is None or state.incident_id != incident_id:
            trip = state.trip = self._resume_transport(state, unit, incident_id)
        trip.elapsed += sim_s
        self._report_every(state, unit.unit_id, wall_s)
        if not trip.done:
            return
        self._report(unit.unit_id, trip.position())
        home = state.destination is not None and state.destination == unit.home
        then = UnitStatus.AT_STATION if home else UnitStatus.AVAILABLE
        self._clear(unit.unit_id, incident_id, then=then)
        state.trip, state.destination = None, None
        if home:
            state.paperwork_s = float(self.rng.uniform(*PAPERWORK_S))

    def _resume_transport(self, state: UnitState, unit: Seen, incident_id: int) -> Trip:
        """The trip of a transport the simulator did not start (a human's, or a restart)."""
        with session_scope(self.factory) as session:
            incident = service.get_incident(session, incident_id)
            name = next(
                (
                    a.transport_to
                    for a in incident.assignments
                    if a.unit_id == unit.unit_id and a.released_at is None
                ),
                None,
            )
        name, target = transport_target(name, home=unit.home, station=unit.station)
        state.destination, state.incident_id = name, incident_id
        return self._trip(unit.here or target, target, urgent=False, patrol=False)

    # -- the end of an intervention and of a tour of duty ---------------------------------
    def _clear(
        self, unit_id: int, incident_id: int, *, then: UnitStatus = UnitStatus.AVAILABLE
    ) -> None:
        """The unit is done with the incident: ``then`` it is free; the last one closes it."""
        with session_scope(self.factory) as session:
            incident = service.get_incident(session, incident_id, lock=True)
            others = [
                a for a in incident.assignments if a.released_at is None and a.unit_id != unit_id
            ]
            if not others:
                flows.close_incident(
                    session=session,
                    ctx=SIM_CTX,
                    settings=self.settings,
                    incident_id=incident_id,
                    close_in=CloseIn(
                        disposition=closing_disposition(incident.assignments, self.rng),
                        note="Clôture simulée (démo)",
                    ),
                )  # releases the unit as available
                if then is UnitStatus.AVAILABLE:
                    return
            flows.set_unit_status(
                session=session,
                ctx=SIM_CTX,
                settings=self.settings,
                unit_id=unit_id,
                status_in=StatusIn(status=then),
            )

    def _go_home(self, state: UnitState, unit: Seen, sim_s: float, wall_s: float) -> None:
        """A relieved unit drives back to its station if it is out, then goes off duty."""
        if (
            not state.returning
            and unit.status == "available"
            and unit.here is not None
            and unit.station is not None
            and distance_m(unit.here, unit.station) > HOME_RADIUS_M
        ):
            state.trip = self._trip(unit.here, unit.station, urgent=False, patrol=False)
            state.returning, state.incident_id = True, None
        if state.returning and state.trip is not None:
            state.trip.elapsed += sim_s
            self._report_every(state, unit.unit_id, wall_s)
            if not state.trip.done:
                return
            self._report(unit.unit_id, state.trip.position())
            state.returning = False
        if self.roster.stand_down(unit.unit_id):
            self.units.pop(unit.unit_id, None)

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
