"""The demo world: stations, officers, units and three years of history (all fictional).

:func:`seed_world` is idempotent: it does nothing when the demo units already exist.
Units and incidents go through the dispatch service layer; the history is inserted in
bulk (it is too large for one flow call per row) with the same columns the flows write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.demo.history import HistoryConfig, generate_history
from arverne.dispatch import flows, service
from arverne.dispatch.models import Assignment, Call, Incident, Unit
from arverne.dispatch.schemas import StatusIn, UnitIn
from arverne.dispatch.shifts import SHIFTS, shift_of_hour
from arverne.dispatch.status import UnitStatus, UnitType
from arverne.people.models import Officer
from arverne.security.audit import AuditContext

if TYPE_CHECKING:
    from arverne.geo.pack import CityPack

Progress = Callable[[str, float], None]
DEMO_ACTOR = "démo (données fictives)"

# Stations: the Hôtel de police (national police) and two municipal police posts.
STATIONS: tuple[tuple[str, float, float], ...] = (
    ("Hôtel de police", 3.0960, 45.7760),
    ("Police municipale — Hôtel de ville", 3.0858, 45.7781),
    ("Police municipale — Montferrand", 3.1160, 45.7990),
)
# Per shift: (prefix, unit type, count, station index)
SHIFT_UNITS: tuple[tuple[str, UnitType, int, int], ...] = (
    ("PS", UnitType.CAR, 4, 0),
    ("BAC", UnitType.BAC, 1, 0),
    ("MOTO", UnitType.MOTORBIKE, 1, 0),
    ("PM", UnitType.CAR, 2, 1),
    ("PED", UnitType.FOOT_PATROL, 1, 1),
    ("PROX", UnitType.COMMUNITY, 1, 2),
)
EXTRA_UNITS: tuple[tuple[str, UnitType, str, int], ...] = (
    ("CYNO-1", UnitType.DOG, "evening", 0),
    ("CYNO-2", UnitType.DOG, "night", 0),
    ("INTER-1", UnitType.INTERVENTION, "night", 0),
    ("ENQ-1", UnitType.INVESTIGATOR, "day", 0),
)
FIRST_NAMES = (
    "Lucie", "Hugo", "Manon", "Louis", "Chloé", "Jules", "Inès", "Nathan", "Léa", "Théo",
    "Camille", "Enzo", "Sarah", "Noah", "Jade", "Arthur", "Zoé", "Gabriel", "Lina", "Raphaël",
)  # fmt: skip
# Surnames taken from Auvergne cheeses, dishes and volcanoes: obviously fictional.
LAST_NAMES = (
    "Truffade", "Aligot", "Pounti", "Salers", "Cantal", "Fourme", "Gaperon", "Sancy",
    "Pariou", "Gergovie", "Chanturgue", "Volvic", "Montdore", "Bourboule", "Tripoux",
    "Murol", "Chavade", "Besse", "Artense", "Livradois", "Combrailles", "Forez",
)  # fmt: skip
RANKS = ("gardien de la paix", "brigadier", "brigadier-chef", "major", "lieutenant")


@dataclasses.dataclass(frozen=True, slots=True)
class WorldReport:
    """What :func:`seed_world` created."""

    officers: int
    units: int
    incidents: int


def current_shift(now: dt.datetime, zone: dt.tzinfo) -> str:
    """Name of the shift on duty at ``now`` (day 6-14 h, evening 14-22 h, night 22-6 h)."""
    return shift_of_hour(now.astimezone(zone).hour)


def _officers(session: Session, n: int, rng: np.random.Generator) -> list[Officer]:
    officers = []
    for i in range(n):
        officer = Officer(
            badge=f"DEMO-{i + 1:04d}",
            first_name=str(rng.choice(FIRST_NAMES)),
            last_name=f"{rng.choice(LAST_NAMES)} (fictif)",
            rank=str(rng.choice(RANKS, p=[0.45, 0.25, 0.15, 0.1, 0.05])),
            synthetic=True,
        )
        session.add(officer)
        officers.append(officer)
    session.flush()
    return officers


def _unit_specs(districts: list[str]) -> list[dict[str, Any]]:
    specs = []
    beat_index = 0
    for shift in SHIFTS:
        for prefix, unit_type, count, station in SHIFT_UNITS:
            for k in range(count):
                beat = districts[beat_index % len(districts)] if districts else None
                beat_index += 1
                specs.append(
                    {
                        "call_sign": f"{prefix}-{shift[0].upper()}{k + 1}",
                        "unit_type": unit_type,
                        "shift": shift,
                        "station": station,
                        "beat": beat,
                    }
                )
    for call_sign, unit_type, shift, station in EXTRA_UNITS:
        specs.append(
            {"call_sign": call_sign, "unit_type": unit_type, "shift": shift, "station": station}
        )
    return specs


def seed_units(
    session: Session,
    settings: Settings,
    ctx: AuditContext,
    pack: CityPack | None,
    *,
    seed: int = 63,
) -> tuple[int, int]:
    """Create the officers and units (idempotent); units of the current shift go on duty."""
    if session.scalar(select(func.count()).select_from(Unit).where(Unit.synthetic.is_(True))):
        return 0, 0
    rng = np.random.default_rng(seed)
    officers = _officers(session, 120, rng)
    districts = [name for name, _ in pack.districts] if pack is not None else []
    on_duty = current_shift(dt.datetime.now(dt.UTC), settings.zone)
    specs = _unit_specs(districts)
    crew_size = {UnitType.FOOT_PATROL: 2, UnitType.INVESTIGATOR: 2, UnitType.COMMUNITY: 1}
    next_officer = 0
    for spec in specs:
        name, lon, lat = STATIONS[spec["station"]]
        size = crew_size.get(spec["unit_type"], 3)
        crew = [o.id for o in officers[next_officer : next_officer + size]]
        next_officer += size
        unit = service.create_unit(
            session,
            ctx,
            UnitIn(
                call_sign=spec["call_sign"],
                unit_type=spec["unit_type"],
                home_station=name,
                station_lon=lon,
                station_lat=lat,
                beat=spec.get("beat"),
                shift=spec["shift"],
                crew_officer_ids=crew,
            ),
            synthetic=True,
        )
        if spec["shift"] == on_duty:
            flows.set_unit_status(
                session=session,
                ctx=ctx,
                settings=settings,
                unit_id=unit.id,
                status_in=StatusIn(status=UnitStatus.AVAILABLE),
            )
    return len(officers), len(specs)


def seed_history(
    session: Session,
    pack: CityPack,
    *,
    years: float = 3.0,
    seed: int = 63,
    progress: Progress | None = None,
) -> int:
    """Insert generated past incidents, calls and assignments (idempotent)."""
    report = progress or (lambda stage, fraction: None)
    if years <= 0:
        return 0
    if session.scalar(
        select(func.count()).select_from(Incident).where(Incident.synthetic.is_(True))
    ):
        return 0
    today = dt.datetime.now(dt.UTC).date()
    cfg = HistoryConfig(
        start=today - dt.timedelta(days=math.ceil(365.25 * years)), end=today, seed=seed
    )
    report("generating history", 0.0)
    frame = generate_history(pack, cfg)
    units = session.execute(select(Unit.id, Unit.shift)).all()
    by_shift: dict[str, list[int]] = {}
    for unit_id, shift in units:
        by_shift.setdefault(shift or "day", []).append(unit_id)
    roster = _Roster(by_shift, np.random.default_rng(seed + 1))
    chunk = 5000
    total = len(frame)
    for start in range(0, total, chunk):
        part = frame.iloc[start : start + chunk]
        _insert_chunk(session, part, roster)
        report("writing history", min(1.0, (start + chunk) / total))
    return total


def _times(series: pd.Series[Any]) -> list[dt.datetime | None]:
    floored = pd.to_datetime(series, utc=True).dt.floor("us")
    return [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in floored]


class _Roster:
    """Which unit answered each past incident: never two incidents at once.

    A unit of the shift that is free at dispatch time is chosen at random; when all are
    busy, the incident waits for the first one to clear (its times move by the wait).
    """

    def __init__(self, by_shift: dict[str, list[int]], rng: np.random.Generator) -> None:
        self.by_shift = by_shift
        self.everyone = [u for pool in by_shift.values() for u in pool]
        self.busy_until: dict[int, dt.datetime] = {}
        self.rng = rng

    def assign(self, hour: int, dispatched: dt.datetime) -> tuple[int, dt.timedelta] | None:
        pool = self.by_shift.get(shift_of_hour(hour)) or self.everyone
        if not pool:
            return None
        floor = dispatched - dt.timedelta(days=3650)
        free = [u for u in pool if self.busy_until.get(u, floor) <= dispatched]
        if free:
            return int(self.rng.choice(free)), dt.timedelta(0)
        unit = min(pool, key=lambda u: self.busy_until.get(u, floor))
        return unit, self.busy_until[unit] - dispatched


def _insert_chunk(session: Session, part: pd.DataFrame, roster: _Roster) -> None:
    n = len(part)
    call_at = _times(part["first_call_at"])
    created = _times(part["created_at"])
    dispatched = _times(part["dispatched_at"])
    arrived = _times(part["arrived_at"])
    closed = _times(part["closed_at"])
    hours = pd.DatetimeIndex(part["first_call_at"]).tz_convert("Europe/Paris").hour.tolist()
    unit_of: list[int | None] = [None] * n
    for i in range(n):
        sent, there, done = dispatched[i], arrived[i], closed[i]
        if sent is None or there is None or done is None:
            continue
        chosen = roster.assign(hours[i], sent)
        if chosen is None:
            continue
        unit_of[i], wait = chosen
        dispatched[i], arrived[i], closed[i] = sent + wait, there + wait, done + wait
        roster.busy_until[chosen[0]] = done + wait
    priority = part["priority"].to_numpy(dtype=np.int64).tolist()
    eta = part["eta_s"].to_numpy(dtype=np.float64).tolist()
    text = {
        c: part[c].astype(object).tolist()
        for c in ("type_code", "address", "street", "district", "disposition")
    }
    lon = part["lon"].to_numpy(dtype=np.float64).tolist()
    lat = part["lat"].to_numpy(dtype=np.float64).tolist()
    rows = [
        {
            "type_code": text["type_code"][i],
            "priority": priority[i],
            "status": "closed",
            "lon": lon[i],
            "lat": lat[i],
            "address": text["address"][i],
            "street": text["street"][i],
            "district": text["district"][i],
            "snap_distance_m": 9.0,
            "created_at": created[i],
            "created_by": DEMO_ACTOR,
            "first_call_at": call_at[i],
            "first_dispatch_at": dispatched[i],
            "first_arrival_at": arrived[i],
            "closed_at": closed[i],
            "disposition": text["disposition"][i],
            "offence_codes": [],
            "synthetic": True,
            "updated_at": closed[i],
        }
        for i in range(n)
    ]
    ids = session.scalars(
        insert(Incident).returning(Incident.id, sort_by_parameter_order=True), rows
    ).all()
    calls = [
        {
            "incident_id": iid,
            "channel": "emergency" if priority[i] <= 2 else "phone",
            "received_at": call_at[i],
            "taken_by": DEMO_ACTOR,
        }
        for i, iid in enumerate(ids)
    ]
    assignments = []
    for i, iid in enumerate(ids):
        if unit_of[i] is None:
            continue
        assignments.append(
            {
                "incident_id": iid,
                "unit_id": unit_of[i],
                "dispatched_at": dispatched[i],
                "dispatched_by": DEMO_ACTOR,
                "eta_s": eta[i],
                "en_route_at": dispatched[i],
                "arrived_at": arrived[i],
                "released_at": closed[i],
                "release_reason": "closed",
            }
        )
    session.execute(insert(Call), calls)
    if assignments:
        session.execute(insert(Assignment), assignments)


def seed_world(
    session: Session,
    settings: Settings,
    ctx: AuditContext,
    pack: CityPack | None,
    *,
    history_years: float = 3.0,
    progress: Progress | None = None,
) -> WorldReport:
    """Create the demo officers, units and history (each part only once)."""
    officers, units = seed_units(session, settings, ctx, pack)
    incidents = seed_history(session, pack, years=history_years, progress=progress) if pack else 0
    return WorldReport(officers=officers, units=units, incidents=incidents)
