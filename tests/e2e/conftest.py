"""End-to-end fixtures: a live ``arverne serve`` on a fresh database, and the system Chromium.

The server runs as a real subprocess on a free port with demo accounts and a few units in
service, on a small generated city pack (the 5 x 5 test town of ``tests/unit/geo/town.py``:
geocoder, road network, two districts), so typed addresses and road ETAs are exercised; a
second server without a city pack covers the map-click intake. The browser is
``/usr/bin/chromium`` driven by Playwright (never ``playwright install``). Screenshots go to
``test-artifacts/`` (ignored by git).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from arverne.cli._common import cli_context
from arverne.demo.service import DEMO_PASSWORD, seed_accounts
from arverne.geo.pack import build_pack
from arverne.people import service as people
from arverne.people.schemas import OfficerIn
from arverne.security import service as users
from arverne.security.policy import Role
from arverne.store import migrate
from arverne.store.session import make_engine, make_sessionmaker, normalise_url
from arverne.web.console.render import vendor_ready
from tests.conftest import PG_ENV, TEST_SECRET, make_settings
from tests.data import make_token, make_user
from tests.unit.geo.town import districts_geojson, grid_lonlat, write_town_osm

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Inside the test town (lon 3.080..3.085, lat 45.770..45.7736), on or near its streets.
UNITS = (
    ("PS-11", "car", grid_lonlat(2.0, 1.0)),
    ("PS-12", "car", grid_lonlat(4.0, 4.0)),
    ("BAC-1", "bac", grid_lonlat(3.0, 0.0)),
    ("PP-21", "foot_patrol", grid_lonlat(1.0, 3.0)),
)


@dataclasses.dataclass
class LiveServer:
    """A running server: its URL, a supervisor API token and the units in service."""

    url: str
    token: str
    units: dict[str, int]
    backend: str
    database_url: str = ""  # for tests that make time pass in the database

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the API as the supervisor (bearer token), with any ``headers`` given."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)


def _require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium chromium-driver)")
    if not vendor_ready():
        missing.append("the console's vendor files (npm ci && npm run vendor)")
    if missing:
        message = "end-to-end tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(url: str) -> str:
    """Migrate, seed the demo accounts and return a supervisor API token."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        seed_accounts(session=session, ctx=cli_context())
        session.commit()
        # A second dispatcher, to watch the first one's work live.
        make_user(session, Role.DISPATCHER, username="operateur2", password=DEMO_PASSWORD)
        supervisor = users.get_by_username(session=session, username="superviseur")
        assert supervisor is not None
        token = make_token(session, make_settings(url), supervisor)
    engine.dispose()
    return token


def _start(
    url: str,
    token: str,
    backend: str,
    log_dir: Path,
    pack: Path | None,
    units: tuple[tuple[str, str, tuple[float, float]], ...] = UNITS,
) -> Iterator[LiveServer]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "ARVERNE_CITY_PACK"},
        "ARVERNE_DATABASE_URL": url,
        "ARVERNE_SECRET_KEY": TEST_SECRET,
        "ARVERNE_ENV": "test",
        "ARVERNE_LOG_LEVEL": "WARNING",
        "ARVERNE_PURGE_INTERVAL_HOURS": "0",
    }
    if pack is not None:
        env["ARVERNE_CITY_PACK"] = str(pack)
    log = (log_dir / f"server-{backend}.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "arverne.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"server did not start; see {log.name}")
        server = LiveServer(url=base, token=token, units={}, backend=backend, database_url=url)
        for call_sign, unit_type, (lon, lat) in units:
            made = server.api(
                "POST",
                "/api/v1/units",
                json={
                    "call_sign": call_sign,
                    "unit_type": unit_type,
                    "home_station": "Hôtel de police",
                    "station_lon": lon,
                    "station_lat": lat,
                },
            )
            assert made.status_code == 201, made.text
            unit_id = made.json()["id"]
            moved = server.api(
                "POST", f"/api/v1/units/{unit_id}/status", json={"status": "available"}
            )
            assert moved.status_code == 200, moved.text
            server.api("POST", f"/api/v1/units/{unit_id}/positions", json={"lon": lon, "lat": lat})
            server.units[call_sign] = unit_id
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # open event streams keep uvicorn waiting
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def city_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test town as a city pack: named streets, house numbers, landmarks, two districts."""
    work = tmp_path_factory.mktemp("e2e-city")
    districts = work / "districts.geojson"
    districts.write_text(json.dumps(districts_geojson()), encoding="utf-8")
    pack: Path = build_pack(
        write_town_osm(work / "town.osm"),
        name="Testville",
        out_dir=work / "pack",
        districts=districts,
    )
    return pack


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, city_pack: Path) -> Iterator[LiveServer]:
    """A live server on a fresh, migrated SQLite database, with the test town's city pack."""
    _require_browser()
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'arverne.db'}"
    yield from _start(url, _prepare(url), "sqlite", folder, city_pack)


@pytest.fixture(scope="session")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server without a city pack (no geocoder, straight-line ETAs), one unit."""
    _require_browser()
    folder = tmp_path_factory.mktemp("e2e-bare")
    url = f"sqlite:///{folder / 'arverne.db'}"
    units = (("PS-91", "car", (3.0830, 45.7772)),)  # Clermont-Ferrand centre
    yield from _start(url, _prepare(url), "bare", folder, None, units)


@pytest.fixture(scope="session")
def pg_live_server(
    tmp_path_factory: pytest.TempPathFactory, city_pack: Path
) -> Iterator[LiveServer]:
    """A live server on a fresh PostgreSQL database (when ARVERNE_TEST_DATABASE_URL is set)."""
    _require_browser()
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"PostgreSQL end-to-end tests need {PG_ENV}")
    base = normalise_url(base)
    name = f"{make_url(base).database}_e2e_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield from _start(
            url, _prepare(url), "postgresql", tmp_path_factory.mktemp("e2e-pg"), city_pack
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The system Chromium, headless."""
    _require_browser()
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (kept after the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def sign_in(browser: Any, server: LiveServer, username: str, **context: Any) -> Any:
    """A new browser context signed in as ``username``; returns its first page."""
    ctx = browser.new_context(base_url=server.url, locale="fr-FR", **context)
    ctx.set_default_timeout(10_000)
    page = ctx.new_page()
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page


def run_axe(page: Any) -> list[dict[str, Any]]:
    """Run axe-core (served from /static/vendor) and return serious or critical violations."""
    page.add_script_tag(url="/static/vendor/axe/axe.min.js")
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def crew_on_scene(
    server: LiveServer, type_code: str, where: tuple[float, float], call_sign: str
) -> tuple[dict[str, Any], int]:
    """Take a call at ``where``, send unit ``call_sign`` and put it on scene (API).

    Returns the incident and the unit's id.
    """
    made = server.api(
        "POST", "/api/v1/incidents", json={"type_code": type_code, "lon": where[0], "lat": where[1]}
    )
    assert made.status_code == 201, made.text
    incident: dict[str, Any] = made.json()["incident"]
    unit_id = server.units[call_sign]
    for path, body in (
        (f"/api/v1/incidents/{incident['id']}/dispatch", {"unit_ids": [unit_id]}),
        (f"/api/v1/units/{unit_id}/status", {"status": "on_scene"}),
    ):
        answer = server.api("POST", path, json=body)
        assert answer.status_code == 200, answer.text
    return incident, unit_id


def agent_badge(server: LiveServer) -> str:
    """The badge of the officer « Camille Salers » the demo account ``agent`` is (linked on
    first use, as `arverne officer add --user agent` does)."""
    engine = make_engine(server.database_url)
    with make_sessionmaker(engine)() as session:
        agent = users.get_by_username(session=session, username="agent")
        assert agent is not None
        officer = people.officer_of_user(session, agent.id)
        if officer is None:
            officer = people.create_officer(
                session,
                cli_context(),
                OfficerIn(badge="E2E-AGENT", first_name="Camille", last_name="Salers"),
            )
            people.link_user(session, cli_context(), officer, agent)
            session.commit()
        badge = officer.badge
    engine.dispose()
    return badge
