"""Crews of the demo's live shift: shift changes (relève) and transports.

:class:`Roster` follows the simulated clock of :class:`arverne.demo.live.LiveShift`. When
the local hour enters another shift (day 6-14 h, evening 14-22 h, night 22-6 h), the
synthetic units of the incoming shift that are off duty come on duty at their station, and
every other synthetic unit still on duty is *relieved*: the live shift drives a free one
back to its station and stands it down there, and lets a committed one finish its
intervention first. One line of the duty log records each change.

Only synthetic units are touched, always through the public dispatch flows.

When a crew leaves the scene it may take someone away (:func:`transport_place`): to
custody after an arrest, or to the hospital; :data:`TRANSPORTS` gives the chance by
incident type.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arverne.config import Settings
from arverne.demo.history import DISPOSITIONS
from arverne.demo.world import STATIONS, current_shift
from arverne.dispatch import dutylog, flows, service
from arverne.dispatch.crew import human_crewed
from arverne.dispatch.models import Assignment, Unit
from arverne.dispatch.schemas import Disposition, PositionIn, StatusIn
from arverne.dispatch.status import COMMITTED, UnitStatus
from arverne.errors import ConflictError, InvalidInputError, NotFoundError
from arverne.geo.demo_data import LANDMARKS
from arverne.security.audit import AuditContext
from arverne.store.session import session_scope

logger = logging.getLogger("arverne.demo.roster")
# What a flow answers when a human acted on the same unit or incident first: the
# simulator skips the action (the human wins).
REFUSED = (ConflictError, InvalidInputError, NotFoundError)
SHIFT_CHANGE_KIND = "shift_change"  # the duty-log kind of a relève
TEAM_FR = {"day": "de jour", "evening": "du soir", "night": "de nuit"}

Place = tuple[str, float, float]  # name, lon, lat
# Where crews take people: custody at the national police's Hôtel de police (the municipal
# police hand their arrests to its judicial police officers), and the CHU for the injured
# and for the medical certificate a drunk person needs before a sobering-up cell.
CUSTODY: Place = STATIONS[0]
HOSPITAL: Place = next(
    (name, lon, lat) for name, _, lon, lat in LANDMARKS if name == "CHU Gabriel-Montpied"
)
# Chance that a crew leaving the scene takes someone away, and where, by incident type;
# the other types never end in a transport.
TRANSPORTS: dict[str, tuple[float, Place]] = {
    "fight": (0.35, CUSTODY),
    "assault": (0.3, CUSTODY),
    "domestic_dispute": (0.3, CUSTODY),
    "robbery": (0.3, CUSTODY),
    "burglary_in_progress": (0.3, CUSTODY),
    "drunk_driver": (0.5, CUSTODY),
    "drug_dealing": (0.35, CUSTODY),
    "drug_use": (0.15, CUSTODY),
    "shoplifting": (0.25, CUSTODY),
    "pickpocketing": (0.1, CUSTODY),
    "threats": (0.1, CUSTODY),
    "theft": (0.05, CUSTODY),
    "vandalism": (0.05, CUSTODY),
    "traffic_injury": (0.3, HOSPITAL),
    "drunk_person": (0.3, HOSPITAL),
}


def transport_place(
    code: str, rng: np.random.Generator, *, chance: float | None = None
) -> Place | None:
    """Draw where a crew leaving an incident of type ``code`` takes someone, or None.

    Parameters
    ----------
    code
        Incident type code.
    rng
        Random generator.
    chance
        Overrides the type's chance (the place stays the type's, custody by default).

    Returns
    -------
    Place or None
        The destination, or None when nobody is transported.
    """
    p, place = TRANSPORTS.get(code, (0.0, CUSTODY))
    if chance is not None:
        p = chance
    if p <= 0.0 or rng.random() >= p:
        return None
    return place


def transport_target(
    name: str | None, *, home: str | None, station: tuple[float, float] | None
) -> tuple[str | None, tuple[float, float]]:
    """Name and (lon, lat) of a transport destination given by name (e.g. by a human).

    A place the simulator does not know sends the crew back to its own station.
    """
    for place in (CUSTODY, HOSPITAL):
        if name == place[0]:
            return place[0], place[1:]
    return home, station or CUSTODY[1:]


def closing_disposition(assignments: Iterable[Assignment], rng: np.random.Generator) -> Disposition:
    """How a simulated incident ends: an arrest when someone went to custody.

    Without any transport the disposition is drawn like the demo history's, less the
    arrests (an arrested person is always taken to custody).
    """
    taken_to = {a.transport_to for a in assignments if a.transport_to}
    if CUSTODY[0] in taken_to:
        return Disposition.ARREST
    if taken_to:
        return Disposition.REPORT_TAKEN
    names, probs = zip(*(d for d in DISPOSITIONS if d[0] != "arrest"), strict=True)
    return Disposition(str(rng.choice(np.array(names), p=np.array(probs) / sum(probs))))


@dataclasses.dataclass(frozen=True, slots=True)
class Seen:
    """A synthetic unit on duty, as the live shift reads it at the start of a tick."""

    unit_id: int
    status: str
    incident_id: int | None
    here: tuple[float, float] | None
    station: tuple[float, float] | None
    home: str | None
    can_transport: bool

    @classmethod
    def of(cls, unit: Unit) -> Seen:
        """The snapshot of a loaded unit."""
        here, station = (unit.last_lon, unit.last_lat), (unit.station_lon, unit.station_lat)
        return cls(
            unit_id=unit.id,
            status=unit.status,
            incident_id=unit.current_incident_id,
            here=(here[0], here[1]) if here[0] is not None and here[1] is not None else None,
            station=(station[0], station[1])
            if station[0] is not None and station[1] is not None
            else None,
            home=unit.home_station,
            can_transport="transport" in (unit.capabilities or []),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Relief:
    """What one shift change did (unit ids)."""

    incoming: str
    outgoing: str | None  # None: the demo (re)starts and puts the roster in order
    on_duty: tuple[int, ...]
    relieved: tuple[int, ...]
    finishing: tuple[int, ...]

    def text(self) -> str:
        """The duty-log line, in French (the main courante is a French legal record)."""
        n, m, k = len(self.on_duty), len(self.relieved), len(self.finishing)
        finishing = (
            f", dont {k} {'termine son' if k == 1 else 'terminent leur'} intervention" if k else ""
        )
        if self.outgoing is None:
            return (
                f"Reprise de la démo : équipe {TEAM_FR.get(self.incoming, self.incoming)} "
                f"en service ; {n} unité(s) prennent le service, {m} unité(s) d'autres "
                f"équipes relevée(s){finishing}"
            )
        return (
            f"Relève : équipe {TEAM_FR.get(self.incoming, self.incoming)} prend le service "
            f"({n} unité{'s' if n > 1 else ''}), équipe "
            f"{TEAM_FR.get(self.outgoing, self.outgoing)} relevée "
            f"({m} unité{'s' if m > 1 else ''}{finishing})"
        )


class Roster:
    """Which shift is on duty at the simulated time, and the units being relieved.

    Parameters
    ----------
    factory
        Session factory; each unit is changed in its own transaction.
    settings
        Platform settings (the city's time zone decides the local hour).
    ctx
        Who the flows record as the actor.
    """

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, ctx: AuditContext
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.ctx = ctx
        self.shift: str | None = None
        self.relieved: set[int] = set()

    def update(self, now: dt.datetime) -> Relief | None:
        """Change shifts if ``now`` (simulated, aware) is in another shift than last seen.

        The first call puts the roster in order without waiting for a change: a demo
        restarted in another shift than the one it was seeded or stopped in brings the
        shift on duty in and relieves the others (logged only when something changes).
        Returns what changed, or None.
        """
        shift = current_shift(now, self.settings.zone)
        previous, self.shift = self.shift, shift
        if previous == shift:
            return None
        return self._change(previous, shift)

    def _change(self, outgoing: str | None, incoming: str) -> Relief | None:
        with session_scope(self.factory) as session:
            units = session.execute(
                select(Unit.id, Unit.shift, Unit.status)
                .where(Unit.synthetic.is_(True), Unit.shift.is_not(None), ~human_crewed())
                .order_by(Unit.id)
            ).all()
            relief = Relief(
                incoming=incoming,
                outgoing=outgoing,
                on_duty=tuple(
                    u.id for u in units if u.shift == incoming and u.status == "off_duty"
                ),
                relieved=tuple(
                    u.id for u in units if u.shift != incoming and u.status != "off_duty"
                ),
                finishing=tuple(
                    u.id for u in units if u.shift != incoming and UnitStatus(u.status) in COMMITTED
                ),
            )
            if outgoing is None and not (relief.on_duty or relief.relieved):
                return None  # the roster is already in order
            dutylog.log(
                session,
                self.ctx,
                kind=SHIFT_CHANGE_KIND,
                text=relief.text(),
                data={
                    "event": "shift_change",
                    "incoming": incoming,
                    "outgoing": outgoing,
                    "on_duty": list(relief.on_duty),
                    "relieved": list(relief.relieved),
                    "finishing": list(relief.finishing),
                },
            )
        # A unit of the incoming shift still relieved from its previous tour is back on.
        self.relieved -= {u.id for u in units if u.shift == incoming}
        self.relieved |= set(relief.relieved)
        for unit_id in relief.on_duty:
            try:
                self._come_on_duty(unit_id)
            except REFUSED as exc:
                logger.debug("unit %s not put on duty: %s", unit_id, exc)
        logger.info("demo shift change: %s", relief.text())
        return relief

    def _come_on_duty(self, unit_id: int) -> None:
        """An off-duty crew takes its car at its station and goes on patrol."""
        with session_scope(self.factory) as session:
            unit = flows.set_unit_status(
                session=session,
                ctx=self.ctx,
                settings=self.settings,
                unit_id=unit_id,
                status_in=StatusIn(status=UnitStatus.AVAILABLE),
            )
            if unit.station_lon is not None and unit.station_lat is not None:
                service.record_position(
                    session,
                    self.ctx,
                    unit,
                    PositionIn(lon=unit.station_lon, lat=unit.station_lat),
                )

    def stand_down(self, unit_id: int) -> bool:
        """Put a relieved unit off duty (it must be free); False if a human was first."""
        try:
            with session_scope(self.factory) as session:
                flows.set_unit_status(
                    session=session,
                    ctx=self.ctx,
                    settings=self.settings,
                    unit_id=unit_id,
                    status_in=StatusIn(status=UnitStatus.OFF_DUTY),
                )
        except REFUSED as exc:
            logger.debug("relieved unit %s not stood down: %s", unit_id, exc)
            return False
        self.relieved.discard(unit_id)
        return True
