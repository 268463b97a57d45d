"""Synthetic incident history for the demo city: realistic rhythms, places and response times.

Everything produced here is fictional and flagged ``synthetic``. The process:

* **Rates.** About 70 incidents a day over the city, split by type with weights close to
  the mix of French recorded crime and police calls (thefts, road traffic, disturbances
  and violence first); each type follows a yearly cycle (summer peak), a weekly cycle
  (Friday and Saturday nights) and a daily profile (day, evening or night activity).
  Counts per hour are Poisson.
* **Places.** Each type draws its places from anchors: nightlife (bars, pubs, clubs) for
  noise, fights and drunkenness at night; shops, the station and tram stops for
  pickpocketing and shoplifting; the station and stops for drugs; home addresses for
  burglaries and domestic calls; any street for traffic and damage. Every incident sits
  at a real address of the pack, so it has a street and a district.
* **Bursts.** Each burglary has a Poisson number of near repeats within a few hundred
  metres and two weeks (the near-repeat effect); the stadium's match days (every other
  Saturday, August to May) bring disorder around it in the evening.
* **Response.** Call handling, queueing delays by priority and hour load, road travel
  time from the nearest of a few free patrol positions (real shortest paths on the
  pack's drive graph), on-scene times by type.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from arverne.dispatch.taxonomy import TYPES_BY_CODE

if TYPE_CHECKING:
    from arverne.geo.pack import CityPack

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

# type code: (weight, place anchor, daily profile)
TYPE_MIX: dict[str, tuple[float, str, str]] = {
    "theft": (10.0, "shops", "day"),
    "pickpocketing": (6.0, "shops", "day"),
    "shoplifting": (4.0, "shops", "day"),
    "vehicle_theft": (2.0, "street", "night"),
    "theft_from_vehicle": (6.0, "street", "night"),
    "burglary_report": (6.0, "home", "day"),
    "burglary_in_progress": (1.0, "home", "evening"),
    "intrusion_alarm": (3.0, "shops", "night"),
    "assault": (6.0, "nightlife", "evening"),
    "fight": (2.0, "nightlife", "night"),
    "threats": (3.0, "home", "day"),
    "domestic_dispute": (5.0, "home", "evening"),
    "robbery": (1.5, "transport", "evening"),
    "traffic_injury": (2.0, "street", "day"),
    "traffic_damage": (6.0, "street", "day"),
    "traffic_hazard": (2.0, "street", "day"),
    "drunk_driver": (1.0, "street", "night"),
    "traffic_obstruction": (4.0, "street", "day"),
    "noise": (8.0, "nightlife", "night"),
    "disturbance": (4.0, "nightlife", "evening"),
    "drunk_person": (4.0, "nightlife", "night"),
    "neighbour_dispute": (3.0, "home", "evening"),
    "drug_dealing": (1.5, "transport", "evening"),
    "drug_use": (1.5, "transport", "evening"),
    "suspicious_person": (4.0, "home", "evening"),
    "suspicious_vehicle": (2.0, "street", "night"),
    "missing_person": (1.0, "home", "evening"),
    "assistance_person": (3.0, "street", "day"),
    "found_property": (1.0, "shops", "day"),
    "vandalism": (5.0, "street", "night"),
    "graffiti": (1.0, "street", "night"),
    "animal": (1.0, "street", "day"),
}
ANCHOR_KINDS = {
    "nightlife": ("bar", "pub", "nightclub"),
    "shops": ("shop", "station", "tram_stop", "square"),
    "transport": ("station", "tram_stop", "bus_stop", "stop"),
}
ANCHOR_SPREAD_M = {"nightlife": 120.0, "shops": 150.0, "transport": 120.0}
_HOURS = np.arange(24)
PROFILES: dict[str, F64] = {
    # Relative activity per local hour (0..23), normalised below.
    "day": 0.25 + np.exp(-0.5 * ((_HOURS - 14.5) / 4.0) ** 2),
    "evening": 0.3 + np.exp(-0.5 * ((_HOURS - 20.0) / 3.5) ** 2),
    "night": 0.2 + np.exp(-0.5 * (((_HOURS + 6) % 24 - 5.0) / 2.5) ** 2),
}
WEEKLY = {  # Monday .. Sunday
    "day": np.array([1.0, 1.0, 1.0, 1.0, 1.05, 1.0, 0.75]),
    "evening": np.array([0.9, 0.9, 0.95, 1.0, 1.15, 1.2, 0.9]),
    "night": np.array([0.75, 0.75, 0.8, 0.95, 1.3, 1.5, 1.05]),
}
# Median seconds from incident creation to dispatch, by priority (queue under load).
DISPATCH_DELAY_S = {1: 50.0, 2: 240.0, 3: 900.0, 4: 3600.0}
ON_SCENE_MEDIAN_S = {"traffic_injury": 3600.0, "burglary_report": 2700.0, "missing_person": 3600.0}
DISPOSITIONS = (
    ("report_taken", 0.42),
    ("advice_given", 0.2),
    ("warning", 0.1),
    ("gone_on_arrival", 0.1),
    ("arrest", 0.08),
    ("no_offence", 0.06),
    ("referred", 0.04),
)


@dataclasses.dataclass(frozen=True)
class HistoryConfig:
    """Knobs of the generator."""

    start: dt.date
    end: dt.date
    per_day: float = 70.0
    near_repeat_mean: float = 0.3
    patrol_positions: int = 40
    free_positions: int = 6
    time_zone: str = "Europe/Paris"
    seed: int = 63


def _hourly_counts(cfg: HistoryConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Poisson counts per (local hour, type), then uniform times inside each hour."""
    hours = pd.date_range(cfg.start, cfg.end, freq="h", inclusive="left")
    doy = hours.dayofyear.to_numpy()
    yearly = 1.0 + 0.12 * np.cos(2 * np.pi * (doy - 196) / 365.25)
    total_weight = sum(w for w, _, _ in TYPE_MIX.values())
    frames = []
    for code, (weight, _, profile) in TYPE_MIX.items():
        shape = PROFILES[profile] / PROFILES[profile].mean()
        rate = (
            cfg.per_day
            * weight
            / total_weight
            / 24.0
            * yearly
            * WEEKLY[profile][hours.dayofweek.to_numpy()]
            / WEEKLY[profile].mean()
            * shape[hours.hour.to_numpy()]
        )
        counts = rng.poisson(rate)
        idx = np.repeat(np.arange(hours.size), counts)
        frames.append(
            pd.DataFrame(
                {
                    "local": hours[idx] + pd.to_timedelta(rng.random(idx.size) * 3600, unit="s"),
                    "type_code": code,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _match_days(cfg: HistoryConfig) -> pd.DatetimeIndex:
    days = pd.date_range(cfg.start, cfg.end, freq="W-SAT", inclusive="left")
    in_season = (days.month >= 8) | (days.month <= 5)
    return days[in_season][::2]


class _Places:
    """Addresses of the pack, with anchors, districts and a patrol travel-time table."""

    def __init__(self, pack: CityPack, cfg: HistoryConfig, rng: np.random.Generator) -> None:
        addresses = pack.addresses
        if len(addresses) == 0:
            msg = "the city pack has no addresses to place incidents on"
            raise ValueError(msg)
        self.addr = addresses.reset_index(drop=True)
        self.addr_xy = np.column_stack([self.addr["x"], self.addr["y"]]).astype(float)
        self.addr_tree = cKDTree(self.addr_xy)
        marks = pack.landmarks
        self.anchors: dict[str, F64] = {}
        for group, kinds in ANCHOR_KINDS.items():
            chosen = marks[marks["kind"].isin(kinds)]
            self.anchors[group] = np.column_stack([chosen["x"], chosen["y"]]).astype(float)
        stadium = marks[marks["kind"] == "stadium"]
        self.stadium = (
            np.array([float(stadium["x"].iloc[0]), float(stadium["y"].iloc[0])])
            if len(stadium)
            else None
        )
        graph = pack.drive
        self.node_tree = cKDTree(np.column_stack([graph.node_x, graph.node_y]))
        sources = rng.choice(
            graph.n_nodes, size=min(cfg.patrol_positions, graph.n_nodes), replace=False
        )
        # Travel times from each patrol position to every node (seconds, emergency driving).
        self.patrol_times = dijkstra(graph.matrix, indices=sources) / pack.emergency_factor
        self.district_names = pack.districts
        self.pack = pack

    def near(self, centres: F64, spread: float, rng: np.random.Generator) -> I64:
        """Indices of the addresses nearest to jittered centres."""
        points = centres + rng.normal(0.0, spread, size=centres.shape)
        _, idx = self.addr_tree.query(points)
        return np.asarray(idx, dtype=np.int64)

    def place(self, anchor: str, n: int, rng: np.random.Generator) -> I64:
        """Addresses for ``n`` incidents of an anchor kind."""
        centres = self.anchors.get(anchor)
        if anchor in ("home", "street") or centres is None or len(centres) == 0:
            return rng.integers(0, len(self.addr), size=n)
        pick = centres[rng.integers(0, len(centres), size=n)]
        return self.near(pick, ANCHOR_SPREAD_M[anchor], rng)

    def travel(self, address_idx: I64, n_free: int, rng: np.random.Generator) -> F64:
        """Road time from the nearest of ``n_free`` random patrol positions."""
        _, node = self.node_tree.query(self.addr_xy[address_idx])
        times = self.patrol_times[:, np.asarray(node, dtype=np.int64)]
        free = rng.random(times.shape).argsort(axis=0)[:n_free]
        best = np.take_along_axis(times, free, axis=0).min(axis=0)
        fallback = np.nanmedian(times[np.isfinite(times)]) if np.isfinite(times).any() else 600.0
        return np.where(np.isfinite(best), best, fallback)


def generate_history(pack: CityPack, cfg: HistoryConfig) -> pd.DataFrame:
    """Generate synthetic incidents with their response timeline.

    Parameters
    ----------
    pack
        The city pack (addresses, landmarks, districts, drive graph).
    cfg
        Period, volume and seed.

    Returns
    -------
    pandas.DataFrame
        One row per incident, sorted by call time: ``type_code``, ``first_call_at``,
        ``created_at``, ``dispatched_at``, ``arrived_at``, ``closed_at`` (UTC; dispatch
        and arrival are NaT for P4 calls handled without a unit), ``eta_s``, ``lon``,
        ``lat``, ``address``, ``street``, ``district``, ``disposition``, ``priority``.
    """
    rng = np.random.default_rng(cfg.seed)
    places = _Places(pack, cfg, rng)
    frame = _hourly_counts(cfg, rng)
    frame["addr"] = -1
    for code, (_, anchor, _) in TYPE_MIX.items():
        mask = (frame["type_code"] == code).to_numpy()
        frame.loc[mask, "addr"] = places.place(anchor, int(mask.sum()), rng)
    extra = [_near_repeats(frame, places, cfg, rng), _match_day_disorder(cfg, places, rng)]
    frame = pd.concat([frame, *(e for e in extra if len(e))], ignore_index=True)
    frame = frame[frame["local"] < pd.Timestamp(cfg.end)].sort_values("local", ignore_index=True)
    frame["addr"] = frame["addr"].astype(np.int64)
    local = pd.DatetimeIndex(frame["local"]).tz_localize(
        cfg.time_zone, ambiguous=np.ones(len(frame), dtype=bool), nonexistent="shift_forward"
    )
    call = local.tz_convert("UTC")
    n = len(frame)
    priority = frame["type_code"].map(lambda c: int(TYPES_BY_CODE[c].priority)).to_numpy()
    handling = rng.lognormal(np.log(np.where(priority == 1, 45.0, 90.0)), 0.4)
    hour = local.hour.to_numpy()
    busy = 1.0 + 0.5 * ((hour >= 21) | (hour <= 2)) * np.isin(local.dayofweek.to_numpy(), (4, 5))
    delay = rng.lognormal(np.log(np.vectorize(DISPATCH_DELAY_S.get)(priority) * busy), 0.6)
    travel = places.travel(frame["addr"].to_numpy(), cfg.free_positions, rng) + 30.0
    travel = travel * np.where(priority <= 2, 1.0, pack.emergency_factor)  # no lights for P3/P4
    median_scene = frame["type_code"].map(lambda c: ON_SCENE_MEDIAN_S.get(c, 1500.0)).to_numpy()
    on_scene = rng.lognormal(np.log(median_scene), 0.5)
    attended = (priority < 4) | (rng.random(n) < 0.5)
    created = call + pd.to_timedelta(handling, unit="s")
    dispatched = created + pd.to_timedelta(delay, unit="s")
    arrived = dispatched + pd.to_timedelta(travel, unit="s")
    wrap_up = np.where(attended, 0.0, rng.lognormal(np.log(1800.0), 0.5, n))
    end_work = np.where(attended, on_scene, 0.0) + wrap_up
    start_work = np.where(
        attended, arrived.tz_convert(None).to_numpy(), created.tz_convert(None).to_numpy()
    )
    closed = pd.DatetimeIndex(start_work).tz_localize("UTC") + pd.to_timedelta(end_work, unit="s")
    names, probs = zip(*DISPOSITIONS, strict=True)
    addr = places.addr.iloc[frame["addr"].to_numpy()].reset_index(drop=True)
    from arverne.geo.districts import DistrictIndex

    districts = (
        DistrictIndex(places.district_names).names_of(addr["lon"], addr["lat"])
        if places.district_names
        else [None] * n
    )
    return pd.DataFrame(
        {
            "type_code": frame["type_code"].to_numpy(),
            "priority": priority,
            "first_call_at": call,
            "created_at": created,
            "dispatched_at": dispatched.where(attended),
            "arrived_at": arrived.where(attended),
            "closed_at": closed,
            "eta_s": np.where(attended, np.round(travel, 1), np.nan),
            "lon": addr["lon"].to_numpy(dtype=float),
            "lat": addr["lat"].to_numpy(dtype=float),
            "address": (addr["number"].astype(str) + " " + addr["street"].astype(str)).to_numpy(),
            "street": addr["street"].astype(str).to_numpy(),
            "district": districts,
            "disposition": rng.choice(np.array(names), size=n, p=np.array(probs) / sum(probs)),
        }
    )


def _near_repeats(
    frame: pd.DataFrame, places: _Places, cfg: HistoryConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Follow-up burglaries near earlier ones (within ~200 m and 14 days)."""
    parents = frame[frame["type_code"] == "burglary_report"]
    children = rng.poisson(cfg.near_repeat_mean, size=len(parents))
    idx = np.repeat(np.arange(len(parents)), children)
    if idx.size == 0:
        return frame.iloc[0:0]
    base = parents.iloc[idx]
    centres = places.addr_xy[base["addr"].to_numpy()]
    return pd.DataFrame(
        {
            "local": base["local"].to_numpy()
            + pd.to_timedelta(rng.uniform(1.0, 14.0, idx.size), unit="D").to_numpy(),
            "type_code": "burglary_report",
            "addr": places.near(centres, 120.0, rng),
        }
    )


def _match_day_disorder(
    cfg: HistoryConfig, places: _Places, rng: np.random.Generator
) -> pd.DataFrame:
    """Evening incidents around the stadium on match days."""
    if places.stadium is None:
        return places_empty()
    rows = []
    kinds = np.array(["disturbance", "fight", "drunk_person", "traffic_obstruction", "theft"])
    for day in _match_days(cfg):
        n = int(rng.poisson(7))
        start = day + pd.Timedelta(hours=17)
        rows.append(
            pd.DataFrame(
                {
                    "local": start + pd.to_timedelta(rng.uniform(0, 6 * 3600, n), unit="s"),
                    "type_code": rng.choice(kinds, size=n, p=[0.3, 0.15, 0.25, 0.2, 0.1]),
                    "addr": places.near(np.tile(places.stadium, (n, 1)), 250.0, rng),
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else places_empty()


def places_empty() -> pd.DataFrame:
    """An empty incident frame."""
    return pd.DataFrame({"local": [], "type_code": [], "addr": []})
