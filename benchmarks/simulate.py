"""Benchmark of the dispatch simulator: one simulated year, >= 150,000 calls, 30 units.

Runs the simulation (calls generation, event loop, JSON and HTML report) twice with the
same seed on the Clermont-Ferrand demo city (144 zones on its streets, road travel times;
built into ``var/demo-city`` if missing) or, with ``--grid``, on a generated 12 x 12 grid
city, checks that the two reports have the same
bytes (SHA-256), and measures wall time and peak memory (tracemalloc for Python
allocations, and the process's peak resident set size). Prints a Rich table against the
targets (<= 20 s, <= 1 GB) and writes ``benchmarks/results/simulate.json``.

Run: ``python benchmarks/simulate.py [--days 365] [--rate 420] [--units 30] [--grid]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from arverne.planning import (
    City,
    SimulationConfig,
    build_report,
    default_inputs,
    generate_calls,
    grid_city,
    make_plan,
    report_html,
    report_json,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 20.0
TARGET_BYTES = 1024**3
console = Console(width=140)


def demo_city() -> City:
    """The demo city as simulation zones (the pack is built once, outside the timing)."""
    from arverne.geo.demo_city import build_demo_pack
    from arverne.geo.pack import load_pack
    from arverne.planning.from_pack import city_from_pack

    pack_dir = ROOT / "var" / "demo-city"
    if not (pack_dir / "meta.json").exists():
        pack_dir.parent.mkdir(parents=True, exist_ok=True)
        console.print("building the demo city pack (once)...")
        build_demo_pack(pack_dir)
    return city_from_pack(load_pack(pack_dir))


def one_run(
    city: City, days: float, rate: float, units: int, seed: int
) -> tuple[bytes, bytes, int]:
    """Generate calls, simulate, build both report files; return them and the call count."""
    inputs = default_inputs(rate)
    calls = generate_calls(inputs, city, days=days, seed=seed)
    config = SimulationConfig(days=days, seed=seed)
    result = simulate(calls, inputs, city, make_plan(city, units), config)
    report = build_report([result], city, calls, scenario={"source": "benchmark"})
    return report_json(report), report_html(report), len(calls)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--rate", type=float, default=420.0, help="calls per day")
    parser.add_argument("--units", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--grid", action="store_true", help="generated grid city instead")
    args = parser.parse_args(argv)
    city = grid_city(side=12) if args.grid else demo_city()

    tracemalloc.start()
    start = time.perf_counter()
    json_a, html_a, n_calls = one_run(city, args.days, args.rate, args.units, args.seed)
    elapsed = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    start = time.perf_counter()
    json_b, html_b, _ = one_run(city, args.days, args.rate, args.units, args.seed)
    elapsed_untraced = time.perf_counter() - start
    digest_a = hashlib.sha256(json_a + html_a).hexdigest()
    digest_b = hashlib.sha256(json_b + html_b).hexdigest()
    deterministic = digest_a == digest_b
    report = json.loads(json_a)
    plan = report["plans"][0]
    peak = max(traced_peak, rss_peak)
    results: dict[str, Any] = {
        "city": city.name,
        "zones": city.n_zones,
        "days": args.days,
        "units": args.units,
        "calls": n_calls,
        "seconds_traced": round(elapsed, 2),
        "seconds": round(elapsed_untraced, 2),
        "peak_traced_bytes": traced_peak,
        "peak_rss_bytes": rss_peak,
        "deterministic": deterministic,
        "report_sha256": digest_a,
        "targets": {"seconds": TARGET_S, "bytes": TARGET_BYTES, "calls": 150_000},
        "utilisation_mean": plan["utilisation"]["mean"],
        "within_target": {k: v["within_target"] for k, v in plan["response_by_priority"].items()},
        "preemptions": plan["preemptions"],
        "queue_max": plan["queue"]["max"],
        "python": sys.version.split()[0],
    }
    table = Table(title=f"arverne simulate benchmark (one year, {city.name}, {city.n_zones} zones)")
    for column in ("measure", "value", "target", "ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("calls", f"{n_calls:,}", ">= 150,000", f"{n_calls / 150_000:.2f}")
    table.add_row(
        "time (s, untraced)",
        f"{elapsed_untraced:.2f}",
        f"<= {TARGET_S:g}",
        f"{elapsed_untraced / TARGET_S:.2f}",
    )
    table.add_row("time (s, under tracemalloc)", f"{elapsed:.2f}", "", "")
    table.add_row(
        "peak memory (MB)", f"{peak / 2**20:.0f}", "<= 1024", f"{peak / TARGET_BYTES:.2f}"
    )
    table.add_row("same report bytes twice", str(deterministic), "True", "")
    console.print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "simulate.json").write_text(json.dumps(results, indent=1) + "\n")
    ok = (
        deterministic
        and n_calls >= 150_000
        and elapsed_untraced <= TARGET_S
        and peak <= TARGET_BYTES
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
