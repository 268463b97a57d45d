"""Benchmark of city packs: build, load, many-to-one ranking and geocoding.

Builds packs from the real OSM extracts in ``../shared/data/osm`` (Monaco 2019 and central
Helsinki; skipped cleanly when that folder is absent) and from a large generated city
(the demo generator scaled up to >= 50,000 drive nodes), then measures:

* build time and node / edge / address counts;
* pack load time (target <= 1 s);
* many-to-one ranking of 200 unit positions to a random target on the large graph
  (targets p50 <= 2 ms, p99 <= 10 ms) and the speed-up over a plain networkx Dijkstra
  per query measured in the same run (target >= 20x);
* geocoding latency on the large pack (target p99 <= 20 ms with >= 20,000 addresses)
  and the top-1 hit rate of perturbed address queries.

Prints Rich tables and writes ``benchmarks/results/city_build.json``.

Run: ``python benchmarks/city_build.py [--data DIR] [--scale 12] [--queries 200]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from rich.console import Console
from rich.table import Table

from arverne.geo.demo_city import build_demo_pack
from arverne.geo.geocode import Geocoder
from arverne.geo.pack import CityPack, build_pack, load_pack
from arverne.geo.routing import rank_to_target

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
EXTRACTS = (
    (
        "Monaco",
        "osm/monaco-2019.osm.pbf",
        ("Boulevard Princesse Charlotte", "bd princesse charlote"),
    ),
    ("Helsinki", "osm/helsinki.osm.pbf", ("Mannerheimintie", "mannerheimintie 5")),
)
UNITS = 200
console = Console(width=160)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _percentiles(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples)
    return {
        "p50_ms": _ms(float(np.percentile(values, 50))),
        "p99_ms": _ms(float(np.percentile(values, 99))),
        "max_ms": _ms(float(values.max())),
    }


def _load_time(path: Path, repeats: int = 3) -> tuple[CityPack, float]:
    best = np.inf
    pack = None
    for _ in range(repeats):
        start = time.perf_counter()
        pack = load_pack(path)
        best = min(best, time.perf_counter() - start)
    assert pack is not None
    return pack, best


def _counts(pack: CityPack) -> dict[str, int]:
    counts = pack.meta["counts"]
    return {
        "drive_nodes": counts["drive_nodes"],
        "drive_links": counts["drive_links"],
        "walk_nodes": counts["walk_nodes"],
        "streets": counts["streets"],
        "addresses": counts["addresses"],
        "landmarks": counts["landmarks"],
    }


def _random_positions(pack: CityPack, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points on random street pieces, a few metres to the side (like GPS fixes)."""
    graph = pack.drive
    links = rng.integers(graph.n_links, size=n)
    points = []
    for link in links.tolist():
        x, y = graph.link_points(link)
        k = int(rng.integers(x.size))
        points.append((x[k] + rng.normal(0, 5), y[k] + rng.normal(0, 5)))
    xy = np.asarray(points)
    lon, lat = pack.projector.to_lonlat(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _networkx_graph(pack: CityPack) -> nx.DiGraph:
    graph = pack.drive
    reverse = nx.DiGraph()
    reverse.add_weighted_edges_from(
        zip(
            graph.arc_v.tolist(),
            graph.arc_u.tolist(),
            graph.arc_travel_time_s.tolist(),
            strict=True,
        )
    )
    return reverse


def bench_ranking(pack: CityPack, queries: int, rng: np.random.Generator) -> dict[str, Any]:
    """Time rank_to_target (200 units -> one target) and a networkx Dijkstra per query."""
    start = time.perf_counter()
    pack.hierarchy.distances_to(np.array([0]), np.zeros(1), np.zeros(1), np.array([1]))
    pack.snapper("drive")
    warm_up = time.perf_counter() - start
    samples: list[float] = []
    cpu: list[float] = []
    cases = []
    for _ in range(queries):
        origins = _random_positions(pack, UNITS, rng)
        target = _random_positions(pack, 1, rng)[0]
        begin, begin_cpu = time.perf_counter(), time.process_time()
        ranking = rank_to_target(pack, origins, target)
        samples.append(time.perf_counter() - begin)
        cpu.append(time.process_time() - begin_cpu)
        cases.append((target, ranking))
    reverse = _networkx_graph(pack)
    nx_samples: list[float] = []
    mismatches = 0
    for target, ranking in cases[: max(5, queries // 20)]:
        x, y = pack.projector.to_metric(target[0], target[1])
        snap = pack.snapper("drive").snap([float(x)], [float(y)])
        node = int(pack.drive.link_u[snap.link[0]])
        begin = time.perf_counter()
        lengths = nx.single_source_dijkstra_path_length(reverse, node, weight="weight")
        nx_samples.append(time.perf_counter() - begin)
        mismatches += int(len(lengths) != pack.drive.n_nodes) + int(not ranking.ok.all())
    result = _percentiles(samples)
    nx_median = float(np.median(nx_samples))
    result.update(
        {
            "cpu_p50_ms": _ms(float(np.percentile(cpu, 50))),
            "cpu_p99_ms": _ms(float(np.percentile(cpu, 99))),
            "queries": queries,
            "units_per_query": UNITS,
            "warm_up_ms": _ms(warm_up),
            "networkx_dijkstra_median_ms": _ms(nx_median),
            "speedup_vs_networkx_p50": round(nx_median / float(np.percentile(samples, 50)), 1),
            "speedup_vs_networkx_p99": round(nx_median / float(np.percentile(samples, 99)), 1),
            "problems": mismatches,
        }
    )
    return result


def _perturb(text: str, rng: np.random.Generator) -> str:
    """Lower case, an abbreviation or a one-letter typo, like a call taker typing fast."""
    choice = rng.integers(4)
    if choice == 0:
        return text.lower()
    if choice == 1:
        for long, short in (
            ("Rue ", "r. "),
            ("Avenue ", "av "),
            ("Boulevard ", "bd "),
            ("Place ", "pl "),
        ):
            text = text.replace(long, short)
        return text
    if choice == 2:
        words = text.split()
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[longest]
        if len(word) > 5:
            k = int(rng.integers(1, len(word) - 1))
            words[longest] = word[:k] + word[k + 1 :]
        return " ".join(words)
    return text


def bench_geocode(pack: CityPack, queries: int, rng: np.random.Generator) -> dict[str, Any]:
    """Geocoder build time and latency of perturbed address, street and landmark queries."""
    start = time.perf_counter()
    geocoder = Geocoder(pack)
    build = time.perf_counter() - start
    addresses = pack.addresses
    rows = rng.integers(len(addresses), size=queries)
    samples: list[float] = []
    hits = 0
    for row in rows.tolist():
        expected = f"{addresses['housenumber'].iloc[row]} {addresses['street'].iloc[row]}"
        query = _perturb(expected, rng)
        begin = time.perf_counter()
        result = geocoder.geocode(query)
        samples.append(time.perf_counter() - begin)
        hits += bool(result) and result[0].label == expected
    others = [*pack.landmarks["name"].sample(min(50, len(pack.landmarks)), random_state=1)]
    others += ["angle " + " et ".join(pack.street_names[1:3]), "rue qui n'existe pas du tout"]
    for query in others:
        begin = time.perf_counter()
        geocoder.geocode(query)
        samples.append(time.perf_counter() - begin)
    result = _percentiles(samples)
    result.update(
        {
            "geocoder_build_s": round(build, 2),
            "queries": len(samples),
            "address_top1_hit_rate": round(hits / queries, 3),
            "addresses": len(addresses),
        }
    )
    return result


def build_real(data: Path, work: Path) -> list[dict[str, Any]]:
    """Build and check the packs of the real extracts."""
    rows = []
    for name, relative, (street, fuzzy) in EXTRACTS:
        source = data / relative
        if not source.is_file():
            console.print(f"[yellow]skip {name}: {source} not found[/]")
            continue
        start = time.perf_counter()
        path = build_pack(source, name=name, out_dir=work / name.lower())
        build_s = time.perf_counter() - start
        pack, load_s = _load_time(path)
        geocoder = Geocoder(pack)
        found = {
            q: [(c.label, c.confidence) for c in geocoder.geocode(q)][:2] for q in (street, fuzzy)
        }
        rows.append(
            {
                "city": name,
                "crs": pack.meta["crs"]["name"],
                "build_s": round(build_s, 2),
                "load_s": round(load_s, 3),
                **_counts(pack),
                "geocode_checks": found,
                "street_found": any(label.startswith(street) for label, _ in found[street]),
            }
        )
    return rows


def build_large(work: Path, scale: float, queries: int, seed: int) -> dict[str, Any]:
    """Build the generated large city and measure load, ranking and geocoding."""
    start = time.perf_counter()
    path = build_demo_pack(work / "large", scale=scale)
    build_s = time.perf_counter() - start
    pack, load_s = _load_time(path)
    rng = np.random.default_rng(seed)
    return {
        "city": f"generated x{scale:g}",
        "crs": pack.meta["crs"]["name"],
        "build_s": round(build_s, 2),
        "load_s": round(load_s, 3),
        **_counts(pack),
        "ranking": bench_ranking(pack, queries, rng),
        "geocode": bench_geocode(pack, max(queries, 500), rng),
    }


def _show(real: list[dict[str, Any]], large: dict[str, Any] | None) -> None:
    table = Table(title="City packs: build and load")
    columns = ("city", "crs", "build_s", "load_s", "drive_nodes", "drive_links", "walk_nodes")
    for column in (*columns, "addresses", "landmarks"):
        table.add_column(column, justify="right" if column not in ("city", "crs") else "left")
    for row in [*real, *([large] if large else [])]:
        table.add_row(
            *(
                f"{row[c]:,}" if isinstance(row[c], int) else str(row[c])
                for c in (*columns, "addresses", "landmarks")
            )
        )
    console.print(table)
    for row in real:
        console.print(f"{row['city']}: geocode checks {row['geocode_checks']}")
    if large is None:
        return
    ranking, geocode = large["ranking"], large["geocode"]
    perf = Table(title=f"Queries on {large['city']} ({large['drive_nodes']:,} drive nodes)")
    for column in ("measure", "value", "target", "met"):
        perf.add_column(column)
    checks = (
        ("pack load", f"{large['load_s'] * 1000:.0f} ms", "<= 1000 ms", large["load_s"] <= 1.0),
        ("rank 200 units p50", f"{ranking['p50_ms']:.2f} ms", "<= 2 ms", ranking["p50_ms"] <= 2),
        ("rank 200 units p99", f"{ranking['p99_ms']:.2f} ms", "<= 10 ms", ranking["p99_ms"] <= 10),
        (
            "rank CPU time p50 / p99",
            f"{ranking['cpu_p50_ms']:.2f} / {ranking['cpu_p99_ms']:.2f} ms",
            "",
            True,
        ),
        ("networkx Dijkstra / query", f"{ranking['networkx_dijkstra_median_ms']:.1f} ms", "", True),
        (
            "speed-up vs networkx (p50)",
            f"{ranking['speedup_vs_networkx_p50']}x",
            ">= 20x",
            ranking["speedup_vs_networkx_p50"] >= 20,
        ),
        ("geocode p50", f"{geocode['p50_ms']:.2f} ms", "", True),
        ("geocode p99", f"{geocode['p99_ms']:.2f} ms", "<= 20 ms", geocode["p99_ms"] <= 20),
        ("address top-1 hit rate", f"{geocode['address_top1_hit_rate']:.1%}", "", True),
    )
    for name, value, target, met in checks:
        perf.add_row(name, value, target, "[green]yes[/]" if met else "[red]no[/]")
    console.print(perf)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--scale", type=float, default=12.0, help="area scale of the large city")
    parser.add_argument("--queries", type=int, default=200, help="ranking queries to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-large", action="store_true", help="only the real extracts")
    parser.add_argument("--out", type=Path, default=RESULTS / "city_build.json")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        console.print(f"[yellow]{args.data} not found: skipping the real extracts[/]")
    with tempfile.TemporaryDirectory(prefix="arverne-city-bench-") as temp:
        work = Path(temp)
        real = build_real(args.data, work) if args.data.is_dir() else []
        large = None if args.skip_large else build_large(work, args.scale, args.queries, args.seed)
    _show(real, large)
    report = {
        "command": "python benchmarks/city_build.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "real_extracts": real,
        "large": large,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
