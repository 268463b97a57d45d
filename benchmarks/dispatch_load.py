"""Load benchmark of the dispatch API on a real server, on SQLite and PostgreSQL.

For each backend the script creates a fresh database (a SQLite file in a temporary folder,
or a PostgreSQL database named ``arverne_bench_*`` that is dropped at the end), migrates
it, creates a supervisor account and an API token with the CLI, starts
``python -m arverne.cli serve --workers 2`` (uvicorn) and puts ``--units`` units in
service through the API. Then, with ``--clients`` concurrent HTTP clients (aiohttp, one
asyncio event loop, keep-alive connection pool):

1. ``idle``: one client takes 100 calls, then asks for recommendations (200 units in
   service) 300 times on an otherwise idle server: service times without contention.
   ``burst``: then ``--clients`` recommendations for those calls are sent at the same
   instant, 20 times (a pause between): dispatchers all asking at once.
2. ``paced`` (``--seconds``): the lifecycle of phase 3 started at Poisson arrival times,
   ``--paced-rate`` per second (default 10, about 860,000 calls a day: two thousand times
   the 420 a day of the simulated city of ``docs/simulation.md``), whatever the answers'
   speed (open loop): latencies at a fixed load rather than at saturation.
3. ``mixed`` (``--seconds``): the clients start one after another over the first
   ``RAMP_S`` (0.5 s), then every client runs the dispatcher's lifecycle: intake ->
   recommendations -> dispatch of the best free candidate (409 "busy" answers are counted
   and the next candidate is tried; 10 % of dispatches aim at a small pool of hot units to
   force races) -> unit status en_route -> position report -> on_scene -> close (5 % of
   closes race with the unit clearing itself, both requests sent at the same time).
4. ``intake`` (``--seconds``): every client (started as in ``mixed``) only takes calls,
   with unique ``Idempotency-Key`` headers, deliberate sequential retries and concurrent
   double sends of the same key; transport errors are retried with the same key, as a
   real client would.

After stopping the server, the database is checked directly with SQLAlchemy: no incident
lost or duplicated, retries created nothing, no unit with two open assignments, every
unit's ``current_incident_id`` matches its open assignment, duty log and audit chain
consistent. The results are printed as Rich tables (with measured/target ratios) and
written to ``benchmarks/results/dispatch_load.json``. Exit status 1 on any integrity
failure (missed performance targets are reported, not fatal).

Note: client and server share the machine (2 cores); the client's CPU use is reported so
the numbers can be judged. The client is aiohttp rather than httpx because every
millisecond of client CPU per request is taken from the server being measured, and
aiohttp costs about three times less (client CPU, workload included: about 0.7 ms per
request against 2 ms with httpx).

Run: ``python benchmarks/dispatch_load.py [--seconds 20] [--clients 16]
[--backends sqlite,postgresql] [--units 200] [--paced-rate 10] [--city PACK]``
(``--city``: geocode and route on a city pack's roads, e.g. one built by
``arverne city demo``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.dispatch.models import (
    Assignment,
    Call,
    DutyLogEntry,
    EventStaging,
    Incident,
    Unit,
)
from arverne.dispatch.status import COMMITTED
from arverne.security.audit import verify_chain
from arverne.security.models import AuditEntryStaging
from arverne.store.session import make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
console = Console(width=170)

BBOX = (3.05, 45.75, 3.15, 45.81)  # default city extent (min_lon, min_lat, max_lon, max_lat)
WORKERS = 2
# Targets from issue 4 (intake/s with 2 workers; latencies in ms).
INTAKE_RATE_TARGET = {"sqlite": 300.0, "postgresql": 500.0}
INTAKE_P99_TARGET_MS = 100.0
RECOMMEND_P99_TARGET_MS = 25.0
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

INCIDENT_TYPES = (
    ("theft", 30),
    ("pickpocketing", 15),
    ("noise", 15),
    ("vandalism", 10),
    ("suspicious_person", 10),
    ("assault", 10),
    ("fight", 5),  # P1: recommendations include preemptable units
    ("drug_dealing", 5),  # needs a dog unit
)
UNIT_TYPES = (
    ("car", 50),
    ("foot_patrol", 15),
    ("motorbike", 10),
    ("bac", 10),
    ("dog", 5),
    ("intervention", 5),
    ("community", 5),
)
HOT_UNITS = 4
HOT_SHARE = 0.10
SEQ_RETRY_SHARE = 0.03
CONCURRENT_RETRY_SHARE = 0.01
CLOSE_RACE_SHARE = 0.05
TRANSPORT_RETRIES = 5
# The closed-loop clients start one after another over this time, as any load tool's
# ramp-up: started at the same instant, they ran their first lifecycles in lock step
# (16 intakes answered together, then 16 recommendations asked together), a burst that
# is measured on its own (``burst``) rather than mixed into the saturation figures.
RAMP_S = 0.5
BURST_ROUNDS = 20


# --- measurements --------------------------------------------------------------------
@dataclass
class PhaseStats:
    """Latencies and outcomes of one phase, per operation."""

    name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    codes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_second: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    started: float = field(default_factory=time.perf_counter)
    ended: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    def record(self, op: str, code: str, seconds: float | None) -> None:
        """Count one answer (or transport failure) of ``op``."""
        self.codes[op][code] += 1
        if seconds is not None:
            self.latencies[op].append(seconds)
            if code.startswith("2"):
                self.per_second[op][int(time.perf_counter() - self.started)] += 1

    @property
    def wall_s(self) -> float:
        """Duration of the phase."""
        return max(self.ended - self.started, 1e-9)

    def ok(self, op: str) -> int:
        """Number of 2xx answers of ``op``."""
        return sum(n for c, n in self.codes[op].items() if c.startswith("2"))

    def summary(self) -> dict[str, Any]:
        """JSON-ready per-operation summary."""
        ops: dict[str, Any] = {}
        for op in sorted(self.codes):
            lat = np.array(self.latencies[op]) * 1000 if self.latencies[op] else np.array([0.0])
            seconds = sorted(self.per_second[op])
            timeline = [self.per_second[op][s] for s in range(seconds[-1] + 1)] if seconds else []
            ops[op] = {
                "requests": sum(self.codes[op].values()),
                "ok": self.ok(op),
                "ok_per_s": round(self.ok(op) / self.wall_s, 1),
                "p50_ms": round(float(np.percentile(lat, 50)), 2),
                "p95_ms": round(float(np.percentile(lat, 95)), 2),
                "p99_ms": round(float(np.percentile(lat, 99)), 2),
                "max_ms": round(float(lat.max()), 2),
                # A p99 of a few hundred answers rests on its slowest handful: the share
                # above the recommendation target says how many there were.
                "over_25_ms_pct": round(float((lat > RECOMMEND_P99_TARGET_MS).mean()) * 100, 2),
                "status_codes": dict(sorted(self.codes[op].items())),
                "ok_per_second_timeline": timeline,
            }
        return {
            "phase": self.name,
            "wall_s": round(self.wall_s, 2),
            "client_cpu_s": round(self.client_cpu_s, 2),
            "server_cpu_s": round(self.server_cpu_s, 2),
            "operations": ops,
        }


@dataclass(frozen=True)
class Answer:
    """An HTTP answer whose body was read in full (inside the timed section)."""

    status_code: int
    headers: Mapping[str, str]  # case-insensitive (aiohttp's CIMultiDictProxy)
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Ledger:
    """What the clients were told, to compare with the database afterwards."""

    key_to_id: dict[str, int] = field(default_factory=dict)
    created_answers: int = 0  # 201 answers without Idempotent-Replay
    replay_answers: int = 0
    replay_mismatches: list[str] = field(default_factory=list)
    failed_keys: set[str] = field(default_factory=set)
    dispatched: int = 0  # successful dispatches (one unit each)
    closed_ids: set[int] = field(default_factory=set)

    def intake_answer(self, key: str, response: Answer) -> int:
        """Record a 201 intake answer and return the incident id."""
        incident_id = int(response.json()["incident"]["id"])
        if response.headers.get("Idempotent-Replay") == "true":
            self.replay_answers += 1
        else:
            self.created_answers += 1
        known = self.key_to_id.setdefault(key, incident_id)
        if known != incident_id:
            self.replay_mismatches.append(f"key {key}: {known} then {incident_id}")
        self.failed_keys.discard(key)
        return incident_id


class Api:
    """Thin timed wrapper around the HTTP client."""

    def __init__(self, session: aiohttp.ClientSession, ledger: Ledger) -> None:
        self.session = session
        self.ledger = ledger
        self.stats = PhaseStats("setup")

    async def call(self, op: str, method: str, url: str, **kwargs: Any) -> Answer | None:
        """Send one request, timing it (body included) and recording its outcome."""
        kwargs.setdefault("allow_redirects", False)  # as httpx: redirects are answers
        start = time.perf_counter()
        try:
            async with self.session.request(method, url, **kwargs) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            self.stats.record(op, f"exc:{type(exc).__name__}", None)
            return None
        answer = Answer(response.status, response.headers, body)
        self.stats.record(op, str(answer.status_code), time.perf_counter() - start)
        return answer

    async def intake(self, body: dict[str, Any], key: str, op: str = "intake") -> int | None:
        """Intake with an idempotency key; transport errors are retried with the same key."""
        for attempt in range(TRANSPORT_RETRIES):
            response = await self.call(
                op if attempt == 0 else "intake_transport_retry",
                "POST",
                "/api/v1/incidents",
                json=body,
                headers={"Idempotency-Key": key},
            )
            if response is None:
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            if response.status_code == 201:
                return self.ledger.intake_answer(key, response)
            if response.status_code >= 500:
                self.ledger.failed_keys.add(key)
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            self.ledger.failed_keys.add(key)
            return None
        self.ledger.failed_keys.add(key)
        return None


# Points on the streets of the city pack given with --city (empty: straight-line city).
CITY_POINTS: list[tuple[float, float]] = []


def city_points(pack_dir: Path, count: int = 2000) -> list[tuple[float, float]]:
    """Random points the pack accepts for intake (inside the city, near a street)."""
    from arverne.dispatch.citypack import RoadCity
    from arverne.errors import InvalidInputError
    from arverne.geo.pack import load_pack

    city = RoadCity(load_pack(pack_dir))
    lon0, lat0, lon1, lat1 = city.info()["bbox"]
    rng, points = random.Random(7), []
    for _ in range(count * 20):
        lon, lat = round(rng.uniform(lon0, lon1), 6), round(rng.uniform(lat0, lat1), 6)
        try:
            city.locate(lon, lat)
        except InvalidInputError:
            continue
        points.append((lon, lat))
        if len(points) == count:
            break
    if len(points) < 100:
        msg = f"only {len(points)} usable points found in {pack_dir}; is it a city pack?"
        raise SystemExit(msg)
    return points


def random_point(rng: random.Random) -> tuple[float, float]:
    """A point well inside the city (on a street of the pack given with --city)."""
    if CITY_POINTS:
        return rng.choice(CITY_POINTS)
    min_lon, min_lat, max_lon, max_lat = BBOX
    return (
        round(rng.uniform(min_lon + 0.002, max_lon - 0.002), 6),
        round(rng.uniform(min_lat + 0.002, max_lat - 0.002), 6),
    )


def intake_body(rng: random.Random) -> dict[str, Any]:
    """A plausible intake request."""
    codes, weights = zip(*INCIDENT_TYPES, strict=True)
    lon, lat = random_point(rng)
    return {
        "type_code": rng.choices(codes, weights)[0],
        "lon": lon,
        "lat": lat,
        "description": "benchmark call",
        "call": {"channel": rng.choice(["emergency", "phone", "alarm"])},
    }


# --- workload ------------------------------------------------------------------------
async def intake_with_retries(api: Api, rng: random.Random, op: str = "intake") -> int | None:
    """One intake; sometimes retried on purpose (sequentially or concurrently)."""
    body, key = intake_body(rng), uuid.uuid4().hex
    roll = rng.random()
    if roll < CONCURRENT_RETRY_SHARE:
        ids = await asyncio.gather(api.intake(body, key, op), api.intake(body, key, "intake_dup"))
        return ids[0] if ids[0] is not None else ids[1]
    incident_id = await api.intake(body, key, op)
    if incident_id is not None and roll < CONCURRENT_RETRY_SHARE + SEQ_RETRY_SHARE:
        await api.intake(body, key, "intake_retry")
    return incident_id


async def lifecycle(api: Api, rng: random.Random, hot: list[int]) -> None:
    """Intake -> recommend -> dispatch -> en_route -> position -> on_scene -> close."""
    incident_id = await intake_with_retries(api, rng)
    if incident_id is None:
        return
    rec = await api.call("recommend", "GET", f"/api/v1/incidents/{incident_id}/recommendations")
    candidates: list[int] = []
    if rec is not None and rec.status_code == 200:
        candidates = [c["unit_id"] for c in rec.json()["candidates"] if not c["preemptable"]]
    if rng.random() < HOT_SHARE:
        candidates.insert(0, rng.choice(hot))
    unit_id = None
    for candidate in candidates[:4]:
        response = await api.call(
            "dispatch",
            "POST",
            f"/api/v1/incidents/{incident_id}/dispatch",
            json={"unit_ids": [candidate]},
        )
        if response is not None and response.status_code == 200:
            api.ledger.dispatched += 1
            unit_id = candidate
            break
    if unit_id is not None:
        for status in ("en_route", "on_scene"):
            await api.call(
                "status", "POST", f"/api/v1/units/{unit_id}/status", json={"status": status}
            )
            if status == "en_route":
                lon, lat = random_point(rng)
                await api.call(
                    "position",
                    "POST",
                    f"/api/v1/units/{unit_id}/positions",
                    json={"lon": lon, "lat": lat, "speed_mps": 12.0},
                )
    close = {"disposition": "report_taken"}
    if unit_id is not None and rng.random() < CLOSE_RACE_SHARE:
        closed, _ = await asyncio.gather(
            api.call("close", "POST", f"/api/v1/incidents/{incident_id}/close", json=close),
            api.call(
                "status_race",
                "POST",
                f"/api/v1/units/{unit_id}/status",
                json={"status": "available"},
            ),
        )
    else:
        closed = await api.call(
            "close", "POST", f"/api/v1/incidents/{incident_id}/close", json=close
        )
    if closed is not None and closed.status_code == 200:
        api.ledger.closed_ids.add(incident_id)


def quiet_client_gc() -> None:
    """Keep the load client's own pauses out of the latencies it measures.

    The client keeps every answer of every phase (and backend) for the report and the
    integrity checks; a full collection over that heap took 40-50 ms, a pause every
    request in flight then counted as the server's. At each phase start the heap so far
    is collected and frozen (:func:`gc.freeze`): later collections visit only what the
    phase itself makes.
    """
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def measured(api: Api, name: str, server: Server) -> Iterator[PhaseStats]:
    """Record the phase ``name``: its answers, wall time and client and server CPU time."""
    quiet_client_gc()
    stats = PhaseStats(name)
    api.stats = stats
    cpu0, server0 = time.process_time(), server.cpu_seconds()
    stats.started = time.perf_counter()
    yield stats
    stats.ended = time.perf_counter()
    stats.client_cpu_s = time.process_time() - cpu0
    stats.server_cpu_s = server.cpu_seconds() - server0


async def run_clients(
    api: Api, name: str, clients: int, seconds: float, body: Any, server: Server, seed: int
) -> PhaseStats:
    """Run ``clients`` loops of ``body`` until ``seconds`` have passed (in-flight ones finish)."""
    with measured(api, name, server) as stats:
        deadline = stats.started + seconds

        async def loop(i: int) -> None:
            rng = random.Random(seed * 1000 + i)
            await asyncio.sleep(i * RAMP_S / clients)
            while time.perf_counter() < deadline:
                await body(api, rng)

        await asyncio.gather(*(loop(i) for i in range(clients)))
    return stats


async def run_paced(
    api: Api, name: str, rate: float, seconds: float, body: Any, server: Server, seed: int
) -> PhaseStats:
    """Start ``body`` at Poisson arrival times (``rate`` per second) for ``seconds``.

    Open loop: a new lifecycle starts on schedule however slow the server is, so a slow
    answer cannot hold back the load that would have followed it (no coordinated
    omission); in-flight lifecycles finish before the phase ends, and an error in any
    of them is raised.
    """
    arrivals = random.Random(seed)
    with measured(api, name, server) as stats:
        due, deadline = stats.started, stats.started + seconds
        started: list[asyncio.Task[None]] = []
        while (due := due + arrivals.expovariate(rate)) < deadline:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            rng = random.Random(seed * 1000 + len(started))
            started.append(asyncio.create_task(body(api, rng)))
        await asyncio.gather(*started)
    return stats


def unit_body(call_sign: str, rng: random.Random) -> dict[str, Any]:
    """A unit of the benchmark's mix of types, its station at a random point."""
    types, weights = zip(*UNIT_TYPES, strict=True)
    lon, lat = random_point(rng)
    return {
        "call_sign": call_sign,
        "unit_type": rng.choices(types, weights)[0],
        "station_lon": lon,
        "station_lat": lat,
        "home_station": "Hôtel de police",
    }


async def seed_units(api: Api, count: int, rng: random.Random) -> list[int]:
    """Create ``count`` units, put them in service and report a position for each."""
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> int:
        async with sem:
            body = unit_body(f"BENCH-{i:04d}", rng)
            created = await api.call("unit_create", "POST", "/api/v1/units", json=body)
            if created is None or created.status_code != 201:
                msg = f"could not create a unit: {created.text if created else 'no answer'}"
                raise RuntimeError(msg)
            unit_id = int(created.json()["id"])
            await api.call(
                "status", "POST", f"/api/v1/units/{unit_id}/status", json={"status": "available"}
            )
            lon, lat = random_point(rng)
            await api.call(
                "position",
                "POST",
                f"/api/v1/units/{unit_id}/positions",
                json={"lon": lon, "lat": lat},
            )
            return unit_id

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def recommend_idle(
    api: Api, rng: random.Random, clients: int, requests: int = 300
) -> tuple[PhaseStats, PhaseStats]:
    """Service times of a single client on an idle server: 100 intakes, then
    recommendations; then :func:`recommend_burst` on those intakes, which are closed
    afterwards. Returns the idle and burst phases."""
    quiet_client_gc()
    stats = PhaseStats("idle")
    api.stats = stats
    stats.started = time.perf_counter()
    incidents = [await intake_with_retries(api, rng) for _ in range(100)]
    taken = [i for i in incidents if i is not None]
    ids = taken[:20]
    for n in range(requests):
        await api.call("recommend", "GET", f"/api/v1/incidents/{ids[n % len(ids)]}/recommendations")
    stats.ended = time.perf_counter()
    burst = await recommend_burst(api, rng, taken, clients)
    api.stats = PhaseStats("setup")
    for incident_id in taken:
        closed = await api.call(
            "close",
            "POST",
            f"/api/v1/incidents/{incident_id}/close",
            json={"disposition": "no_offence"},
        )
        if closed is not None and closed.status_code == 200:
            api.ledger.closed_ids.add(incident_id)
    return stats, burst


async def recommend_burst(
    api: Api, rng: random.Random, incident_ids: list[int], clients: int
) -> PhaseStats:
    """``clients`` recommendations for ``incident_ids`` asked at the same instant,
    :data:`BURST_ROUNDS` times with 50 ms between."""
    api.stats = PhaseStats("setup")
    burst = PhaseStats("burst")
    for n in range(BURST_ROUNDS + 1):
        # The first round is a warm-up: the single idle client reached one worker only,
        # and a worker's first recommendations (statements compiled, plans made) are slow.
        if n == 1:
            quiet_client_gc()
            api.stats = burst
            burst.started = time.perf_counter()
        await asyncio.gather(
            *(
                api.call("recommend", "GET", f"/api/v1/incidents/{incident_id}/recommendations")
                for incident_id in rng.sample(incident_ids, min(clients, len(incident_ids)))
            )
        )
        await asyncio.sleep(0.05)
    burst.ended = time.perf_counter()
    return burst


# --- server and databases ------------------------------------------------------------
class Server:
    """``arverne serve`` in its own process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until ``/readyz`` answers."""
        cmd = [sys.executable, "-m", "arverne.cli", "serve", "--port", str(self.port)]
        cmd += ["--workers", str(WORKERS)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                raise RuntimeError(msg)
            with (
                contextlib.suppress(OSError, http.client.HTTPException),
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as ready,
            ):
                if ready.status == 200:
                    time.sleep(1.0)  # let the second worker finish booting too
                    return
            time.sleep(0.2)
        msg = "server did not become ready within 60 s"
        raise RuntimeError(msg)

    def cpu_seconds(self) -> float:
        """User + system CPU time of every process of the server's group (Linux /proc)."""
        if self.proc is None:
            return 0.0
        total = 0
        tick = os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.proc.pid:  # field 5 (pgrp), after pid and comm
                    total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """Run ``python -m arverne.cli ARGS`` and return its output; raise on failure."""
    done = subprocess.run(
        [sys.executable, "-m", "arverne.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        msg = f"arverne {' '.join(args)} failed: {done.stdout}{done.stderr}"
        raise RuntimeError(msg)
    return done.stdout


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str | None]:
    """Create a fresh ``arverne_bench_*`` database, yield its URL, drop it afterwards."""
    import psycopg
    from psycopg import sql

    name = f"arverne_bench_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        console.print(f"[yellow]PostgreSQL not reachable at {admin_url} ({exc}); skipped[/]")
        yield None
        return
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.close()


def backend_env(database_url: str, city: Path | None = None) -> dict[str, str]:
    """Environment of the CLI and the server."""
    env = dict(os.environ)
    env.update(
        ARVERNE_DATABASE_URL=database_url,
        ARVERNE_SECRET_KEY=secrets.token_urlsafe(48),
        ARVERNE_ENV="production",
        ARVERNE_LOG_LEVEL="WARNING",
        ARVERNE_PURGE_INTERVAL_HOURS="0",
        COLUMNS="300",
        NO_COLOR="1",
    )
    env.pop("ARVERNE_CITY_PACK", None)
    if city is not None:
        env["ARVERNE_CITY_PACK"] = str(city)
    return env


# --- integrity -----------------------------------------------------------------------
def integrity_checks(database_url: str, ledger: Ledger, units: int) -> list[dict[str, Any]]:
    """Compare what clients were told with the database, and the database with itself."""
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            _database_checks(session, ledger, units, check)
    finally:
        engine.dispose()
    return checks


def _database_checks(session: Session, ledger: Ledger, units: int, check: Any) -> None:
    db_ids = set(session.scalars(select(Incident.id)))
    told_ids = set(ledger.key_to_id.values())
    lost, extra = told_ids - db_ids, db_ids - told_ids
    check(
        "incidents: database == successful intakes",
        not lost and not extra and len(db_ids) == len(ledger.key_to_id),
        f"{len(db_ids)} in db, {len(told_ids)} ids for {len(ledger.key_to_id)} keys; "
        f"lost {sorted(lost)[:5]}, unexpected {sorted(extra)[:5]}",
    )
    check(
        "idempotency: one incident per key, replays agree",
        ledger.created_answers <= len(told_ids) and not ledger.replay_mismatches,
        f"{ledger.created_answers} creations, {ledger.replay_answers} replays, "
        f"mismatches {ledger.replay_mismatches[:3]}",
    )
    check(
        "no intake left without an answer",
        not ledger.failed_keys,
        f"{len(ledger.failed_keys)} keys never got a 201",
    )
    double = session.execute(
        select(Assignment.unit_id, func.count())
        .where(Assignment.released_at.is_(None))
        .group_by(Assignment.unit_id)
        .having(func.count() > 1)
    ).all()
    check("no unit with two open assignments", not double, f"{len(double)} units: {double[:5]}")
    open_by_unit = {
        a.unit_id: a.incident_id
        for a in session.scalars(select(Assignment).where(Assignment.released_at.is_(None)))
    }
    committed = {s.value for s in COMMITTED}
    mismatched = [
        (u.id, u.status, u.current_incident_id, open_by_unit.get(u.id))
        for u in session.scalars(select(Unit))
        if u.current_incident_id != open_by_unit.get(u.id)
        or (u.status in committed) != (u.id in open_by_unit)
    ]
    check(
        "unit.current_incident_id and status match the open assignment",
        not mismatched,
        f"{len(mismatched)} units (id, status, current, open): {mismatched[:5]}",
    )
    assignments = session.scalar(select(func.count()).select_from(Assignment)) or 0
    check(
        "assignments == successful dispatches",
        assignments == ledger.dispatched,
        f"{assignments} rows, {ledger.dispatched} dispatches answered 200",
    )
    open_on_closed = session.scalar(
        select(func.count())
        .select_from(Assignment)
        .join(Incident, Incident.id == Assignment.incident_id)
        .where(Assignment.released_at.is_(None), Incident.status.in_(["closed", "cancelled"]))
    )
    not_closed = session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.id.in_(ledger.closed_ids), Incident.status != "closed")
    )
    check(
        "closed incidents: closed in db, no unit still on them",
        not open_on_closed and not not_closed,
        f"{len(ledger.closed_ids)} closed by clients; {not_closed} not closed in db, "
        f"{open_on_closed} open assignments on closed incidents",
    )
    created_log = dict(
        session.execute(
            select(DutyLogEntry.incident_id, func.count())
            .where(DutyLogEntry.kind == "incident_created")
            .group_by(DutyLogEntry.incident_id)
        ).all()
    )
    calls = session.scalar(select(func.count()).select_from(Call)) or 0
    call_log = (
        session.scalar(
            select(func.count())
            .select_from(DutyLogEntry)
            .where(DutyLogEntry.kind == "call_received")
        )
        or 0
    )
    check(
        "duty log: one incident_created per incident, one call_received per call",
        set(created_log) == db_ids
        and all(n == 1 for n in created_log.values())
        and calls == call_log,
        f"{sum(created_log.values())} incident_created for {len(db_ids)} incidents; "
        f"{call_log} call_received for {calls} calls",
    )
    unit_count = session.scalar(select(func.count()).select_from(Unit)) or 0
    check("units in service", unit_count == units, f"{unit_count} units")
    report = verify_chain(session)
    check(
        "audit chain intact",
        report.ok,
        f"{report.entries} entries" + (f"; {report.problem}" if report.problem else ""),
    )
    # PostgreSQL chains them inside COMMIT (migration 0012): none may stay behind.
    unchained = {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (AuditEntryStaging, EventStaging)
    }
    check(
        "every audit entry and live event chained",
        not any(unchained.values()),
        ", ".join(f"{n} rows in {name}" for name, n in unchained.items()),
    )


# --- one backend ---------------------------------------------------------------------
@contextlib.asynccontextmanager
async def api_client(server: Server, token: str, pool: int) -> AsyncIterator[Api]:
    """A timed API client of ``server`` (keep-alive pool of ``pool`` connections)."""
    async with aiohttp.ClientSession(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=60.0),
        connector=aiohttp.TCPConnector(limit=pool, limit_per_host=pool),
    ) as session:
        yield Api(session, Ledger())


async def load(server: Server, token: str, args: argparse.Namespace) -> dict[str, Any]:
    """Seed units, then run the three phases; return stats and the ledger."""
    async with api_client(server, token, args.clients * 2 + 8) as api:
        ledger = api.ledger
        rng = random.Random(4)
        started = time.perf_counter()
        unit_ids = await seed_units(api, args.units, rng)
        seed_s = time.perf_counter() - started
        idle, burst = await recommend_idle(api, rng, args.clients)
        hot = unit_ids[:HOT_UNITS]

        async def mixed_body(api: Api, rng: random.Random) -> None:
            await lifecycle(api, rng, hot)

        async def intake_body_(api: Api, rng: random.Random) -> None:
            await intake_with_retries(api, rng)

        paced = await run_paced(api, "paced", args.paced_rate, args.seconds, mixed_body, server, 3)
        mixed = await run_clients(api, "mixed", args.clients, args.seconds, mixed_body, server, 1)
        intake = await run_clients(
            api, "intake", args.clients, args.seconds, intake_body_, server, 2
        )
    return {"ledger": ledger, "phases": [idle, burst, paced, mixed, intake], "seed_s": seed_s}


def loop_factory() -> Any:
    """uvloop when available: less client CPU taken from the server on a small machine."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def prepare_database(env: dict[str, str]) -> str:
    """Migrate the database of ``env``, add a supervisor account; return its API token."""
    cli(env, "db", "upgrade")
    cli(env, "user", "add", "bench", "--name", "Benchmark", "--role", "supervisor",
        "--password-stdin", stdin=secrets.token_urlsafe(24) + "\n")  # fmt: skip
    out = cli(env, "user", "token", "bench", "--name", "dispatch-load", "--days", "1")
    match = re.search(r"(arv_[A-Za-z0-9_\-]+)", out)
    if match is None:
        msg = f"no token in {out!r}"
        raise RuntimeError(msg)
    return match.group(1)


def run_backend(
    backend: str, database_url: str, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """Migrate, create the account, serve, load, stop, check."""
    env = backend_env(database_url, args.city)
    loadavg = os.getloadavg()[0]
    if loadavg > 1.0:
        console.print(
            f"[yellow]load average {loadavg:.1f} before {backend}: other work shares the CPUs[/]"
        )
    token = prepare_database(env)
    server = Server(env, tmp / f"server-{backend}.log")
    console.print(f"[bold]{backend}[/]: serving on {server.url} with {WORKERS} workers")
    try:
        server.start()  # a server that never became ready is stopped too
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            result = runner.run(load(server, token, args))
    finally:
        server.stop()
    console.print(f"[bold]{backend}[/]: load done, checking the database")
    result["loadavg_before"] = round(loadavg, 2)
    result["checks"] = integrity_checks(database_url, result["ledger"], args.units)
    log_text = server.log.read_text(errors="replace")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / server.log.name).write_text(log_text)
    first = log_text.find("Traceback")
    result["server_log_tail"] = log_text[max(0, first - 200) : first + 3000] if first >= 0 else ""
    return result


# --- report --------------------------------------------------------------------------
def ms(value: float) -> str:
    """Milliseconds for the table."""
    return f"{value:.1f}"


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> bool:
    """Print the tables, write the JSON; return whether every integrity check passed."""
    ops_table = Table(title=f"Dispatch API under load ({args.clients} clients, {WORKERS} workers)")
    for col in ("backend", "phase", "operation", "requests", "ok/s", "p50 ms", "p95 ms"):
        ops_table.add_column(col, justify="right" if "ms" in col or "/" in col else "left")
    for col in ("p99 ms", "max ms", "answers (status: count)"):
        ops_table.add_column(col, justify="left" if "answers" in col else "right")
    targets = Table(title="Targets (issue 4)")
    for col in ("backend", "metric", "measured", "target", "ratio measured/target", "met"):
        targets.add_column(col)
    checks_table = Table(title="Integrity checks")
    for col in ("backend", "check", "result", "detail"):
        checks_table.add_column(col)
    payload: dict[str, Any] = {
        "benchmark": "dispatch_load",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "seconds": args.seconds,
            "clients": args.clients,
            "units": args.units,
            "paced_rate_per_s": args.paced_rate,
            "workers": WORKERS,
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "city": str(args.city) if args.city else "straight-line (no city pack)",
        },
        "backends": {},
    }
    for backend, result in results.items():
        payload["settings"][f"loadavg_before_{backend}"] = result["loadavg_before"]
    all_ok = True
    for backend, result in results.items():
        phases = {p.name: p.summary() for p in result["phases"]}
        for name, phase in phases.items():
            for op, s in phase["operations"].items():
                answers = ", ".join(f"{c}: {n}" for c, n in s["status_codes"].items())
                ops_table.add_row(
                    backend, name, op, str(s["requests"]), f"{s['ok_per_s']:.1f}",
                    ms(s["p50_ms"]), ms(s["p95_ms"]), ms(s["p99_ms"]), ms(s["max_ms"]), answers,
                )  # fmt: skip
            ops_table.add_row(
                backend, name, "[dim]cpu[/]", "", "", "", "", "", "",
                f"[dim]{phase['wall_s']:.1f} s wall, client {phase['client_cpu_s']:.1f} s cpu, "
                f"server {phase['server_cpu_s']:.1f} s cpu[/]",
            )  # fmt: skip
        intake = phases["intake"]["operations"]["intake"]
        timeline = intake["ok_per_second_timeline"]
        # Poisson arrivals with a fixed seed: the rate started is not the rate asked.
        started = phases["paced"]["operations"].get("intake", {}).get("requests", 0)
        paced = f"paced, {started / args.seconds:.1f} lifecycles/s started"
        phases["paced"]["lifecycles_started_per_s"] = round(started / args.seconds, 2)
        rows = [
            ("intake rate (intake phase)", intake["ok_per_s"], INTAKE_RATE_TARGET[backend], True),
            ("intake p99 ms (intake phase)", intake["p99_ms"], INTAKE_P99_TARGET_MS, False),
            (
                "intake p99 ms (mixed phase)",
                phases["mixed"]["operations"]["intake"]["p99_ms"],
                INTAKE_P99_TARGET_MS,
                False,
            ),
            (
                f"intake p99 ms ({paced})",
                phases["paced"]["operations"]["intake"]["p99_ms"],
                INTAKE_P99_TARGET_MS,
                False,
            ),
            (
                f"recommend p99 ms (idle, {args.units} units)",
                phases["idle"]["operations"]["recommend"]["p99_ms"],
                RECOMMEND_P99_TARGET_MS,
                False,
            ),
            (
                f"recommend p99 ms ({args.clients} asked at once, {args.units} units)",
                phases["burst"]["operations"]["recommend"]["p99_ms"],
                RECOMMEND_P99_TARGET_MS,
                False,
            ),
            (
                f"recommend p99 ms ({paced}, {args.units} units)",
                phases["paced"]["operations"]["recommend"]["p99_ms"],
                RECOMMEND_P99_TARGET_MS,
                False,
            ),
            (
                f"recommend p99 ms (mixed load, {args.units} units)",
                phases["mixed"]["operations"]["recommend"]["p99_ms"],
                RECOMMEND_P99_TARGET_MS,
                False,
            ),
        ]
        target_rows = []
        for metric, measured, target, higher_better in rows:
            met = measured >= target if higher_better else measured <= target
            ratio = measured / target
            targets.add_row(
                backend, metric, f"{measured:.1f}", f"{'>=' if higher_better else '<='} {target:g}",
                f"{ratio:.2f}", "[green]yes[/]" if met else "[red]no[/]",
            )  # fmt: skip
            target_rows.append(
                {"metric": metric, "measured": measured, "target": target,
                 "ratio": round(ratio, 3), "met": met}
            )  # fmt: skip
        for c in result["checks"]:
            all_ok &= c["ok"]
            checks_table.add_row(
                backend, c["check"], "[green]PASS[/]" if c["ok"] else "[red]FAIL[/]", c["detail"]
            )
        payload["backends"][backend] = {
            "seed_units_s": round(result["seed_s"], 2),
            "phases": phases,
            "intake_first_last_5s_per_s": [
                round(sum(timeline[:5]) / 5, 1),
                round(sum(timeline[-6:-1]) / 5, 1) if len(timeline) > 6 else None,
            ],
            "targets": target_rows,
            "checks": result["checks"],
            "server_log_tail": result["server_log_tail"],
        }
        if result["server_log_tail"]:
            console.print(
                f"[yellow]{backend} server log shows errors:[/]\n{result['server_log_tail']}"
            )
    console.print(ops_table)
    console.print(targets)
    console.print(checks_table)
    for backend, data in payload["backends"].items():
        first, last = data["intake_first_last_5s_per_s"]
        console.print(f"{backend}: intake/s over the first 5 s {first}, over the last 5 s {last}")
        slow = ", ".join(
            f"{name} {phase['operations']['recommend']['over_25_ms_pct']:.2f} %"
            for name, phase in data["phases"].items()
            if "recommend" in phase["operations"]
        )
        console.print(f"{backend}: recommendations slower than 25 ms: {slow}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "dispatch_load.json"
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    console.print(f"results written to {out.relative_to(ROOT)}")
    return all_ok


def backend_names(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """The backends named by ``--backends`` (exit code 2 naming an unknown one)."""
    backends = [b.strip() for b in text.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backends {sorted(unknown)}; use sqlite and/or postgresql")
    return backends


def each_backend(
    backends: list[str], pg_admin_url: str, run: Callable[[str, str, Path], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``run(backend, database_url, tmp)`` on a fresh database of each backend: a SQLite
    file in a temporary folder, a PostgreSQL database dropped afterwards (skipped when
    PostgreSQL cannot be reached)."""
    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="arverne-bench-"))
    try:
        for backend in backends:
            if backend == "sqlite":
                results[backend] = run(backend, f"sqlite:///{tmp / 'bench.db'}", tmp)
                continue
            with postgres_database(pg_admin_url) as pg_url:
                if pg_url is not None:
                    results[backend] = run(backend, pg_url, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--units", type=int, default=200, help="units in service")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=10.0,
        help="lifecycles started per second (Poisson) in the paced phase",
    )
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("ARVERNE_BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN),
        help="PostgreSQL maintenance database used to create and drop the bench database",
    )
    parser.add_argument(
        "--city",
        type=Path,
        default=None,
        help="city pack: the server geocodes and routes on its roads (e.g. var/demo-city)",
    )
    args = parser.parse_args()
    if args.paced_rate <= 0:
        parser.error("--paced-rate must be a positive number of lifecycles per second")
    if args.city is not None:
        CITY_POINTS.extend(city_points(args.city))
        console.print(f"city pack {args.city}: {len(CITY_POINTS)} street points for calls")
    backends = backend_names(parser, args.backends)
    results = each_backend(
        backends, args.pg_admin_url, lambda b, url, tmp: run_backend(b, url, args, tmp)
    )
    return exit_status(results, lambda: report(results, args))


def exit_status(results: dict[str, dict[str, Any]], report: Callable[[], bool]) -> int:
    """Report the backends run: 0 when every integrity check passed, 1 otherwise (or when
    no backend could run)."""
    if not results:
        console.print("[red]no backend was run[/]")
        return 1
    ok = report()
    console.print("[green]integrity: PASS[/]" if ok else "[red]integrity: FAIL[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
