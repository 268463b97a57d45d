"""Capacity of the dispatch API: latencies against offered load, on SQLite and PostgreSQL.

``dispatch_load.py`` measures the targets of issue 4 idle, at one fixed load and at
saturation (16 clients without think time). This script answers the question between
them: up to which load do the targets hold (recommendation p99 <= 25 ms, intake p99 <=
100 ms, end to end)?

For each backend, the server is set up as in ``dispatch_load.py`` (fresh database,
``arverne serve --workers 2``, ``--units`` units in service, the load client on the same
machine). Then the dispatcher's lifecycle of that script (intake -> recommendations ->
dispatch of the best free unit -> en route -> position -> on scene -> close, with its
deliberate retries and races) is started at Poisson arrival times, at each rate of
``--rates`` in turn (open loop: a slow answer does not hold back the load behind it),
``--seconds`` per rate with a pause between. The sweep stops after the first rate the
server cannot keep up with (lifecycles completed per second below 90 % of those
started, or a recommendation p99 above ten times its target). The database is then
checked as by ``dispatch_load.py`` (nothing lost or duplicated, no unit on two
incidents, duty log and audit chain consistent).

Prints a table per backend (p50 and p99 of each operation, completed lifecycles per
second, server and client CPU in cores) and the highest rate at which both targets held
at that rate and every lower one; writes ``benchmarks/results/dispatch_capacity.json``
and a chart, ``dispatch_capacity.png`` (p99 against offered load, with the targets).
Exit status 1 on an integrity failure (missed targets are reported, not fatal).

Run: ``python benchmarks/dispatch_capacity.py [--rates 5,10,15,20,30,40,60,80]
[--seconds 15] [--backends sqlite,postgresql] [--units 200] [--city PACK]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from dispatch_load import (
    CITY_POINTS,
    DEFAULT_PG_ADMIN,
    HOT_UNITS,
    INTAKE_P99_TARGET_MS,
    RECOMMEND_P99_TARGET_MS,
    RESULTS,
    WORKERS,
    Api,
    PhaseStats,
    Server,
    api_client,
    backend_env,
    backend_names,
    city_points,
    console,
    each_backend,
    exit_status,
    integrity_checks,
    lifecycle,
    loop_factory,
    prepare_database,
    run_paced,
    seed_units,
)

OPS = ("intake", "recommend", "dispatch", "status", "close")
KEEP_UP = 0.9  # completed / started lifecycles per second, below which the server lags
GIVE_UP = 10.0  # recommendation p99 above this many times its target ends the sweep
PAUSE_S = 3.0  # between two rates: the previous rate's work drains


def postgres_cpu_seconds() -> float:
    """User + system CPU time of the machine's PostgreSQL processes (Linux /proc)."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            if text.split(" (", 1)[1].startswith("postgres)"):
                fields = text.rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def step_summary(
    rate: float, seconds: float, stats: PhaseStats, postgres_s: float
) -> dict[str, Any]:
    """One rate of the sweep: latencies per operation, throughput, CPU in cores."""
    summary = stats.summary()
    ops = summary["operations"]
    # From the first arrival to the last lifecycle's end (never shorter than the window of
    # arrivals, which may end before its last arrival would have come).
    wall = max(stats.wall_s, seconds)
    started = ops.get("intake", {}).get("requests", 0)  # one per lifecycle ("intake" op)
    completed = ops.get("close", {}).get("ok", 0) / wall
    row: dict[str, Any] = {
        "offered_per_s": rate,
        "started_per_s": round(started / seconds, 1),  # Poisson: near, not equal, to rate
        "completed_per_s": round(completed, 1),
        "wall_s": round(wall, 1),
        "server_cores": round(stats.server_cpu_s / wall, 2),
        "postgres_cores": round(postgres_s / wall, 2),  # the machine's, whatever the backend
        "client_cores": round(stats.client_cpu_s / wall, 2),
        "intakes": started,
    }
    for op in OPS:
        row[op] = {k: ops.get(op, {}).get(k, 0.0) for k in ("p50_ms", "p99_ms", "ok")}
    row["status_codes"] = {op: o["status_codes"] for op, o in ops.items()}
    rec, intake = row["recommend"]["p99_ms"], row["intake"]["p99_ms"]
    row["targets_met"] = rec <= RECOMMEND_P99_TARGET_MS and intake <= INTAKE_P99_TARGET_MS
    row["kept_up"] = completed >= KEEP_UP * rate
    return row


def highest_rate_meeting_targets(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The step of the highest rate at which both targets held, and at every lower rate."""
    best = None
    for step in sorted(steps, key=lambda s: s["offered_per_s"]):
        if not (step["targets_met"] and step["kept_up"]):
            break
        best = step
    return best


async def sweep(server: Server, token: str, args: argparse.Namespace) -> dict[str, Any]:
    """Seed the units, then run the lifecycle at each rate until the server lags."""
    rates = sorted(args.rates)
    async with api_client(server, token, pool=4 * int(max(rates)) + 32) as api:
        unit_ids = await seed_units(api, args.units, random.Random(4))
        hot = unit_ids[:HOT_UNITS]

        async def body(api: Api, rng: random.Random) -> None:
            await lifecycle(api, rng, hot)

        steps = []
        for n, rate in enumerate(rates):
            postgres_before = postgres_cpu_seconds()
            stats = await run_paced(api, f"{rate:g}/s", rate, args.seconds, body, server, 10 + n)
            postgres_s = postgres_cpu_seconds() - postgres_before
            step = step_summary(rate, args.seconds, stats, postgres_s)
            steps.append(step)
            console.print(
                f"  {rate:g} lifecycles/s asked, {step['started_per_s']} started, "
                f"{step['completed_per_s']} completed/s, "
                f"recommend p99 {step['recommend']['p99_ms']} ms, "
                f"intake p99 {step['intake']['p99_ms']} ms, server {step['server_cores']} cores, "
                f"PostgreSQL {step['postgres_cores']} cores"
            )
            if not step["kept_up"] or step["recommend"]["p99_ms"] > GIVE_UP * (
                RECOMMEND_P99_TARGET_MS
            ):
                console.print("  the server no longer keeps up: sweep ended")
                break
            await asyncio.sleep(PAUSE_S)
    return {"ledger": api.ledger, "steps": steps}


def run_backend(
    backend: str, database_url: str, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    """Migrate, create the account, serve, sweep, stop, check."""
    env = backend_env(database_url, args.city)
    loadavg = os.getloadavg()[0]
    token = prepare_database(env)
    server = Server(env, tmp / f"capacity-{backend}.log")
    console.print(f"[bold]{backend}[/]: serving on {server.url} with {WORKERS} workers")
    try:
        server.start()
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            result = runner.run(sweep(server, token, args))
    finally:
        server.stop()
    checks = integrity_checks(database_url, result.pop("ledger"), args.units)
    return {**result, "loadavg_before": round(loadavg, 2), "checks": checks}


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> bool:
    """Print the tables, write the JSON and the chart; whether every check passed."""
    all_ok = True
    for backend, result in results.items():
        table = Table(title=f"{backend}: latencies (ms) against offered load, {args.units} units")
        for name in ("asked/s", "started/s", "completed/s", "recommend p50", "recommend p99",
                     "intake p50", "intake p99", "dispatch p99", "status p99", "close p99",
                     "server cores", "PostgreSQL cores", "client cores", "targets"):  # fmt: skip
            table.add_column(name, justify="right")
        for s in result["steps"]:
            met = "[green]met[/]" if s["targets_met"] and s["kept_up"] else "[red]missed[/]"
            table.add_row(
                f"{s['offered_per_s']:g}",
                f"{s['started_per_s']:.1f}",
                f"{s['completed_per_s']:.1f}",
                f"{s['recommend']['p50_ms']:.1f}",
                f"{s['recommend']['p99_ms']:.1f}",
                f"{s['intake']['p50_ms']:.1f}",
                f"{s['intake']['p99_ms']:.1f}",
                f"{s['dispatch']['p99_ms']:.1f}",
                f"{s['status']['p99_ms']:.1f}",
                f"{s['close']['p99_ms']:.1f}",
                f"{s['server_cores']:.2f}",
                f"{s['postgres_cores']:.2f}",
                f"{s['client_cores']:.2f}",
                met,
            )
        console.print(table)
        best = highest_rate_meeting_targets(result["steps"])
        result["highest_rate_meeting_targets"] = best and {
            k: best[k] for k in ("offered_per_s", "started_per_s", "server_cores")
        }
        reach = "no rate tried"
        if best is not None:
            reach = (
                f"{best['offered_per_s']:g} lifecycles/s asked ({best['started_per_s']:g} "
                f"started, the server using {best['server_cores']:.2f} cores)"
            )
        console.print(
            f"{backend}: recommendation p99 <= {RECOMMEND_P99_TARGET_MS:g} ms and intake p99 "
            f"<= {INTAKE_P99_TARGET_MS:g} ms up to {reach} "
            f"(load average {result['loadavg_before']} before)"
        )
        for check in result["checks"]:
            all_ok &= check["ok"]
            if not check["ok"]:
                console.print(f"[red]FAIL {check['check']}: {check['detail']}[/]")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "dispatch_capacity.json"
    out.write_text(
        json.dumps(
            {
                "seconds_per_rate": args.seconds,
                "units": args.units,
                "workers": WORKERS,
                "city_pack": str(args.city) if args.city else None,
                "targets_ms": {
                    "recommend_p99": RECOMMEND_P99_TARGET_MS,
                    "intake_p99": INTAKE_P99_TARGET_MS,
                },
                "backends": results,
            },
            indent=2,
        )
    )
    console.print(f"JSON: {out}")
    console.print(f"chart: {chart(results, RESULTS / 'dispatch_capacity.png')}")
    return all_ok


def chart(results: dict[str, dict[str, Any]], path: Path) -> Path:
    """p99 of recommendations and intakes against offered load, targets as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    panels = (("recommend", RECOMMEND_P99_TARGET_MS), ("intake", INTAKE_P99_TARGET_MS))
    for ax, (op, target) in zip(axes, panels, strict=True):
        for n, (backend, result) in enumerate(results.items()):
            steps = result["steps"]
            x = [s["started_per_s"] for s in steps]
            color = f"C{n}"
            ax.plot(x, [s[op]["p99_ms"] for s in steps], color=color, marker="o",
                    label=f"{backend} p99")  # fmt: skip
            ax.plot(x, [s[op]["p50_ms"] for s in steps], color=color, linestyle=":",
                    marker=".", label=f"{backend} p50")  # fmt: skip
        ax.axhline(target, color="red", linewidth=1, label=f"target {target:g} ms")
        ax.set_yscale("log")
        ax.set_title(f"{op}: latency end to end")
        ax.set_xlabel("lifecycles started per second (about 7 requests each)")
        ax.set_ylabel("ms")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"Arverne dispatch API: {WORKERS} workers, {os.cpu_count()} cores shared by the server, "
        "PostgreSQL and the load client"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",") if r.strip()],
        default=[5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0],
        help="lifecycles started per second, comma-separated (tried in increasing order)",
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each rate")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--units", type=int, default=200, help="units in service")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("ARVERNE_BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN),
        help="PostgreSQL maintenance database used to create and drop the bench database",
    )
    parser.add_argument("--city", type=Path, default=None, help="city pack (roads, geocoding)")
    args = parser.parse_args()
    if not args.rates or min(args.rates) <= 0:
        parser.error("--rates must list positive numbers of lifecycles per second, e.g. 10,20,40")
    if args.city is not None:
        CITY_POINTS.extend(city_points(args.city))
    backends = backend_names(parser, args.backends)
    started = time.perf_counter()
    results = each_backend(
        backends, args.pg_admin_url, lambda b, url, tmp: run_backend(b, url, args, tmp)
    )
    console.print(f"{time.perf_counter() - started:.0f} s of load in all")
    return exit_status(results, lambda: report(results, args))


if __name__ == "__main__":
    raise SystemExit(main())
