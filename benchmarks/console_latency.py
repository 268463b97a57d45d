"""Benchmark of the dispatch console in a real browser (system Chromium, headless).

1. First render: time from navigation start to the dispatch screen drawn (queue, unit board,
   map markers) with 200 units and 300 open incidents.
2. Live update: time from an API call (another dispatcher's action) to its appearance in a
   second browser, over >= 50 events (new incidents and unit status changes), median and p95.

Targets (issue #5): first render <= 1.5 s; live update median <= 300 ms, p95 <= 1 s.
Prints a table and writes ``benchmarks/results/console_latency.json``.

Run: ``python benchmarks/console_latency.py [--events 60] [--renders 5]``
(needs /usr/bin/chromium and the console's vendor files: ``npm ci && npm run vendor``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright
from rich.console import Console
from rich.table import Table

from arverne.cli._common import cli_context
from arverne.config import Environment, Settings
from arverne.demo.service import DEMO_PASSWORD, seed_accounts
from arverne.security import auth
from arverne.security import service as users
from arverne.store import migrate
from arverne.store.session import make_engine, make_sessionmaker

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SECRET = "benchmark-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - throw-away server
BBOX = (3.05, 45.75, 3.15, 45.81)
TYPES = ("theft", "assault", "noise", "burglary_report", "traffic_damage", "threats", "fight")
UNIT_TYPES = ("car", "car", "car", "foot_patrol", "bac", "motorbike", "dog")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
console = Console(width=120)

# In the watching page: resolve expectations ({key: css selector}) the moment they match.
OBSERVER_JS = """() => {
  window.__seen = {}; window.__expect = {};
  const check = () => {
    for (const [key, selector] of Object.entries(window.__expect)) {
      if (!document.querySelector(selector)) continue;
      window.__seen[key] = Date.now();
      delete window.__expect[key];
    }
  };
  new MutationObserver(check).observe(document.body, {childList: true, subtree: true});
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _point(rng: random.Random) -> tuple[float, float]:
    return rng.uniform(BBOX[0] + 0.005, BBOX[2] - 0.005), rng.uniform(
        BBOX[1] + 0.005, BBOX[3] - 0.005
    )


@contextmanager
def server(folder: Path) -> Iterator[tuple[str, str]]:
    """Serve a fresh SQLite database with the demo accounts; yield (url, supervisor token)."""
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(env=Environment.TEST, database_url=url, secret_key=SECRET)
    with make_sessionmaker(engine)() as session:
        seed_accounts(session=session, ctx=cli_context())
        session.commit()
        supervisor = users.get_by_username(session=session, username="superviseur")
        assert supervisor is not None
        _, token = auth.create_api_token(
            session=session, settings=settings, ctx=cli_context(), user=supervisor, name="bench"
        )
        session.commit()
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "ARVERNE_DATABASE_URL": url,
        "ARVERNE_SECRET_KEY": SECRET,
        "ARVERNE_ENV": "test",
        "ARVERNE_LOG_LEVEL": "WARNING",
        "ARVERNE_PURGE_INTERVAL_HOURS": "0",
    }
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(
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
            raise SystemExit(f"the server did not start; see {folder / 'server.log'}")
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def seed(api: httpx.Client, n_units: int, n_incidents: int, rng: random.Random) -> list[int]:
    """Create units in service and open incidents; return the unit ids."""
    unit_ids = []
    for i in range(n_units):
        made = api.post(
            "/api/v1/units",
            json={"call_sign": f"U-{i + 1:03d}", "unit_type": UNIT_TYPES[i % len(UNIT_TYPES)]},
        )
        made.raise_for_status()
        uid = made.json()["id"]
        api.post(f"/api/v1/units/{uid}/status", json={"status": "available"}).raise_for_status()
        lon, lat = _point(rng)
        api.post(f"/api/v1/units/{uid}/positions", json={"lon": lon, "lat": lat})
        unit_ids.append(uid)
    for i in range(n_incidents):
        lon, lat = _point(rng)
        body = {"type_code": TYPES[i % len(TYPES)], "lon": lon, "lat": lat}
        api.post("/api/v1/incidents", json=body).raise_for_status()
    return unit_ids


def open_console(browser: Any, base: str, username: str) -> Page:
    """A signed-in page on the dispatch screen (sign-in through the API, not timed)."""
    ctx = browser.new_context(base_url=base, viewport={"width": 1920, "height": 1080})
    ctx.request.post("/api/v1/auth/login", data={"username": username, "password": DEMO_PASSWORD})
    page = ctx.new_page()
    page.goto("/console/dispatch")
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page


def first_render(browser: Any, base: str, runs: int) -> list[float]:
    """Milliseconds from navigation start to the first complete render, per run."""
    times = []
    page = open_console(browser, base, "operateur")  # warm the server and the cache once
    for _ in range(runs):
        page.reload()
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        mark = page.evaluate("performance.getEntriesByName('arverne-ready')[0].startTime")
        rows = page.locator("#queue li").count()
        assert rows >= 300, f"only {rows} incidents drawn"
        times.append(float(mark))
    page.context.close()
    return times


def live_updates(
    browser: Any, base: str, api: httpx.Client, unit_ids: list[int], events: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    """Latency (ms) from sending the API call, and from its answer, to the change on screen."""
    page = open_console(browser, base, "superviseur")
    page.evaluate(OBSERVER_JS)
    from_send, from_answer = [], []
    units = dict.fromkeys(unit_ids, "available")
    for i in range(events):
        key = f"e{i}"
        if i % 2 == 0:
            lon, lat = _point(rng)
            body = {"type_code": "theft", "lon": lon, "lat": lat}
            sent = time.time() * 1000
            answer = api.post("/api/v1/incidents", json=body)
            answered = time.time() * 1000
            answer.raise_for_status()
            iid = answer.json()["incident"]["id"]
            selector = f"#queue li[data-id='{iid}']"
        else:
            uid = rng.choice(unit_ids)
            target = "at_station" if units[uid] == "available" else "available"
            selector = f"section[data-status='{target}'] li[data-id='{uid}']"
            sent = time.time() * 1000
            answer = api.post(f"/api/v1/units/{uid}/status", json={"status": target})
            answered = time.time() * 1000
            answer.raise_for_status()
            units[uid] = target
        # Watch for the change (it may already be on screen when the answer comes back).
        page.evaluate(
            "([k, s]) => { window.__expect[k] = s; if (document.querySelector(s))"
            " { window.__seen[k] = Date.now(); delete window.__expect[k]; } }",
            [key, selector],
        )
        page.wait_for_function("(k) => window.__seen[k] !== undefined", arg=key, timeout=10_000)
        seen = float(page.evaluate("(k) => window.__seen[k]", key))
        from_send.append(seen - sent)
        from_answer.append(max(0.0, seen - answered))
        time.sleep(rng.uniform(0.05, 0.25))
    page.context.close()
    return from_send, from_answer


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    """Run the benchmark, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--renders", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp)) as (base, token):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        started = time.perf_counter()
        unit_ids = seed(api, args.units, args.incidents, rng)
        console.print(
            f"seeded {args.units} units and {args.incidents} incidents "
            f"in {time.perf_counter() - started:.1f} s"
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            renders = first_render(browser, base, args.renders)
            sent, answered = live_updates(browser, base, api, unit_ids, args.events, rng)
            browser.close()
        api.close()
    results = {
        "units": args.units,
        "open_incidents": args.incidents,
        "first_render_ms": {
            "median": statistics.median(renders),
            "max": max(renders),
            "runs": renders,
            "target": 1500,
        },
        "live_update_ms": {
            "events": len(sent),
            "median": statistics.median(sent),
            "p95": p95(sent),
            "max": max(sent),
            "median_after_api_answer": statistics.median(answered),
            "p95_after_api_answer": p95(answered),
            "target_median": 300,
            "target_p95": 1000,
        },
    }
    table = Table(
        "measure", "median (ms)", "p95 / max (ms)", "target (ms)", title="Console latency"
    )
    table.add_row(
        f"first render ({args.units} units, {args.incidents} incidents)",
        f"{results['first_render_ms']['median']:.0f}",
        f"max {max(renders):.0f}",
        "<= 1500",
    )
    live = results["live_update_ms"]
    table.add_row(
        f"live update, from API call ({len(sent)} events)",
        f"{live['median']:.0f}",
        f"p95 {live['p95']:.0f}",
        "median <= 300, p95 <= 1000",
    )
    table.add_row(
        "live update, from API answer",
        f"{live['median_after_api_answer']:.0f}",
        f"p95 {live['p95_after_api_answer']:.0f}",
        "",
    )
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "console_latency.json").write_text(json.dumps(results, indent=2))
    console.print(f"written {RESULTS / 'console_latency.json'}")


if __name__ == "__main__":
    main()
