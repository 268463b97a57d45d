"""What each dispatch write costs the server, one request at a time (SQLite).

Under load a worker runs the write requests it has received together, in one
transaction on its event loop (``arverne.store.batch``); while it does, its other
requests wait, recommendations included. This benchmark measures that time per request
with nothing else running, so the cost of one route can be compared between two
versions of the code without the noise of a saturated server:

1. an app is built in process on a fresh SQLite file (as ``arverne serve`` builds it) and
   200 units are put in service through the API;
2. ``--lifecycles`` lifecycles run one request at a time: intake, recommendation,
   dispatch, en route, position, on scene, then either close with the unit still on the
   incident or the unit clears itself first and the incident is closed;
3. for each route it reports the SQL statements sent, the time of the write
   transaction the request ran in (its job alone, from ``BEGIN`` to ``COMMIT``: the
   audit entries and live events included) and, in one lifecycle in five (not timed),
   the Python function calls in that transaction: a count that does not drift with the
   machine's speed, which on a shared machine varies by half within minutes.

With ``--baseline REF`` the same measurement runs on the code of git revision ``REF``
too (a temporary worktree), alternately, ``--repeats`` times each, and the table gives
the ratios of the medians. Prints a table and writes
``benchmarks/results/dispatch_writes.json``.

Run: ``python benchmarks/dispatch_writes.py [--lifecycles 300] [--baseline HEAD~3]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import dispatch_load as load

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OPS = (
    "intake",
    "recommend",
    "dispatch",
    "en_route",
    "position",
    "on_scene",
    "close_busy",
    "clear",
    "close_free",
)
console = Console(width=150)


def measure(lifecycles: int, units: int, workdir: Path) -> dict[str, Any]:
    """Run the lifecycles in process; return statements and transaction ms per route."""
    # Imported here: a variant's process finds the package of its own tree first.
    from fastapi.testclient import TestClient
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from arverne.config import Settings
    from arverne.store import batch
    from arverne.web.app import create_app

    database = workdir / "writes.sqlite"
    env = load.backend_env(f"sqlite:///{database}")
    token = load.prepare_database(env)
    os.environ.update(env)
    current: dict[str, Any] = {"op": "", "count_calls": False}
    statements = {"n": 0}
    jobs: dict[str, list[float]] = {}
    python_calls: dict[str, list[int]] = {}

    def count(*_args: Any) -> None:
        statements["n"] += 1

    run_batch = batch.GroupCommit._run_batch

    def timed(self: Any, connection: Any, jobs_: Any) -> Any:
        if current["count_calls"]:  # a sampled request: Python calls, not time
            calls = [0]

            def profile(_frame: Any, event_: str, _arg: Any) -> None:
                if event_ in ("call", "c_call"):
                    calls[0] += 1

            sys.setprofile(profile)
            try:
                return run_batch(self, connection, jobs_)
            finally:
                sys.setprofile(None)
                python_calls.setdefault(current["op"], []).append(calls[0])
        started = time.perf_counter()
        try:
            return run_batch(self, connection, jobs_)
        finally:
            jobs.setdefault(current["op"], []).append((time.perf_counter() - started) * 1e3)

    event.listen(Engine, "before_cursor_execute", count)
    batch.GroupCommit._run_batch = timed  # type: ignore[method-assign,assignment]
    counts: dict[str, list[int]] = {}
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(Settings()), base_url="http://bench") as client:

        def call(op: str, method: str, url: str, **kwargs: Any) -> Any:
            current["op"], before = op, statements["n"]
            response = client.request(method, url, headers=headers, **kwargs)
            if response.status_code >= 400:
                msg = f"{op} {url}: {response.status_code} {response.text}"
                raise RuntimeError(msg)
            counts.setdefault(op, []).append(statements["n"] - before)
            return response.json()

        seed(call, units, rng)
        jobs.clear()
        counts.clear()
        for k in range(lifecycles):
            current["count_calls"] = k % 10 >= 8  # one lifecycle in five, of both kinds
            lifecycle(call, rng, clear_first=k % 2 == 1)
    batch.GroupCommit._run_batch = run_batch  # type: ignore[method-assign]
    event.remove(Engine, "before_cursor_execute", count)
    return {
        op: {
            "requests": len(counts[op]),
            "statements": statistics.median(counts[op]),
            "transaction_ms": statistics.median(jobs[op]) if op in jobs else None,
            "python_calls": statistics.median(python_calls[op]) if op in python_calls else None,
        }
        for op in OPS
        if op in counts
    }


def seed(call: Callable[..., Any], units: int, rng: random.Random) -> None:
    """Create ``units`` units of the load benchmark's mix, in service, with a position."""
    for i in range(units):
        body = load.unit_body(f"W-{i:04d}", rng)
        unit = call("unit_create", "POST", "/api/v1/units", json=body)
        at = {"lon": body["station_lon"], "lat": body["station_lat"]}
        call("seed", "POST", f"/api/v1/units/{unit['id']}/status", json={"status": "available"})
        call("seed", "POST", f"/api/v1/units/{unit['id']}/positions", json=at)


def lifecycle(call: Callable[..., Any], rng: random.Random, *, clear_first: bool) -> None:
    """One call from intake to closure, one request at a time."""
    incident_id = call("intake", "POST", "/api/v1/incidents", json=load.intake_body(rng))[
        "incident"
    ]["id"]
    ranked = call("recommend", "GET", f"/api/v1/incidents/{incident_id}/recommendations")
    free = [c["unit_id"] for c in ranked["candidates"] if not c["preemptable"]]
    close = {"disposition": "report_taken"}
    if not free:  # no unit with the capability: closed as it is
        call("close_free", "POST", f"/api/v1/incidents/{incident_id}/close", json=close)
        return
    unit = free[0]
    url = f"/api/v1/units/{unit}"
    call("dispatch", "POST", f"/api/v1/incidents/{incident_id}/dispatch", json={"unit_ids": [unit]})
    call("en_route", "POST", f"{url}/status", json={"status": "en_route"})
    lon, lat = load.random_point(rng)
    call("position", "POST", f"{url}/positions", json={"lon": lon, "lat": lat, "speed_mps": 12.0})
    call("on_scene", "POST", f"{url}/status", json={"status": "on_scene"})
    if clear_first:
        call("clear", "POST", f"{url}/status", json={"status": "available"})
        call("close_free", "POST", f"/api/v1/incidents/{incident_id}/close", json=close)
    else:
        call("close_busy", "POST", f"/api/v1/incidents/{incident_id}/close", json=close)


def run_variant(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Measure with the package at ``src`` in a fresh process; return its result."""
    with tempfile.TemporaryDirectory(prefix="arverne-writes-") as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, PYTHONPATH=str(src))
        cmd = [sys.executable, __file__, "--measure-to", str(out)]
        cmd += ["--lifecycles", str(args.lifecycles), "--units", str(args.units)]
        subprocess.run(cmd, env=env, check=True, cwd=ROOT)
        return dict(json.loads(out.read_text()))


def report(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Print the table of medians over runs (and ratios to the baseline); return it."""
    table = Table(title="Dispatch writes, one request at a time (SQLite, server side)")
    table.add_column("route")
    for name in runs:
        table.add_column(f"{name}: statements", justify="right")
        table.add_column(f"{name}: Python calls", justify="right")
        table.add_column(f"{name}: transaction ms", justify="right")
    if "baseline" in runs:
        table.add_column("ratio of calls", justify="right")
        table.add_column("ratio of ms", justify="right")
    summary: dict[str, Any] = {}
    for op in OPS:
        row, medians = [op], {}
        for name, results in runs.items():
            found = [r[op] for r in results if op in r]
            if not found:
                row += ["-", "-", "-"]
                continue
            medians[name] = {key: _median(found, key) for key in ("python_calls", "transaction_ms")}
            row.append(f"{_median(found, 'statements'):.0f}")
            row.append(_text(medians[name]["python_calls"], "{:,.0f}"))
            row.append(_text(medians[name]["transaction_ms"], "{:.2f}"))
        ratios = {}
        if "baseline" in runs:
            for key in ("python_calls", "transaction_ms"):
                base = medians.get("baseline", {}).get(key)
                cur = medians.get("current", {}).get(key)
                ratios[key] = round(cur / base, 2) if base and cur else None
                row.append(_text(ratios[key], "{:.2f}"))
        summary[op] = {"medians": medians, "ratios": ratios}
        table.add_row(*row)
    console.print(table)
    return summary


def _median(found: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in found if r.get(key) is not None]
    return statistics.median(values) if values else None


def _text(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lifecycles", type=int, default=300, help="lifecycles measured")
    parser.add_argument("--units", type=int, default=200, help="units in service")
    parser.add_argument("--baseline", help="git revision to compare with (a worktree)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each version")
    parser.add_argument("--measure-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lifecycles < 1 or args.units < 1 or args.repeats < 1:
        parser.error("--lifecycles, --units and --repeats must be positive")
    if args.measure_to is not None:  # a variant's own process
        with tempfile.TemporaryDirectory(prefix="arverne-writes-") as tmp:
            result = measure(args.lifecycles, args.units, Path(tmp))
        args.measure_to.write_text(json.dumps(result))
        return 0
    variants = {"current": ROOT / "src"}
    with tempfile.TemporaryDirectory(prefix="arverne-baseline-") as tmp:
        if args.baseline:
            tree = Path(tmp) / "tree"
            git = ["git", "-C", str(ROOT), "worktree"]
            subprocess.run([*git, "add", "--detach", str(tree), args.baseline], check=True)
            variants["baseline"] = tree / "src"
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        try:
            for n in range(args.repeats):
                for name, src in variants.items():  # alternated: the machine's speed drifts
                    console.print(f"run {n + 1}/{args.repeats}: {name}")
                    runs[name].append(run_variant(src, args))
        finally:
            if args.baseline:
                subprocess.run([*git, "remove", "--force", str(tree)], check=False)
    summary = report(runs)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "dispatch_writes.json"
    out.write_text(json.dumps({"args": vars(args) | {"measure_to": None}, "runs": runs,
                               "summary": summary}, indent=2, default=str))  # fmt: skip
    console.print(f"results written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
