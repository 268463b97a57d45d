"""``arverne city``: build, inspect and query city packs (routing, geocoding, beats).

Every command validates its input first; a bad file, a malformed ``LON,LAT`` or a point
far from the roads prints one line on stderr and exits with code 2, writing nothing.
The geo modules are imported inside the commands so ``arverne --help`` stays fast.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    help="City packs: build from OpenStreetMap, geocode, route, isochrones, patrol beats.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)
USAGE_ERROR = 2

PackArg = Annotated[Path, typer.Argument(help="City pack directory.", show_default=False)]


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(USAGE_ERROR)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn the city model's errors (all builtins' subclasses) into exit code 2."""
    from arverne.geo.errors import FetchError, NoRouteError

    try:
        yield
    except (ValueError, FileNotFoundError, FileExistsError, NoRouteError, FetchError) as exc:
        raise _fail(" ".join(str(exc).split())) from exc


def _lonlat(text: str, option: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise _fail(f"{option} {text!r} is not LON,LAT (e.g. 3.0825,45.7772)") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise _fail(f"{option} {text!r} is out of range; give LON,LAT in WGS84 degrees, lon first")
    return lon, lat


def _load(path: Path) -> Any:
    from arverne.geo.pack import load_pack

    with _errors():
        return load_pack(path)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _show_info(info: dict[str, Any]) -> None:
    table = Table(title=f"City pack {info['name']}", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    extent = ", ".join(f"{v:.5f}" for v in info["extent"])
    for key, value in (
        ("path", info["path"]),
        ("CRS", info["crs"]),
        ("synthetic", "yes (" + info["note"] + ")" if info["synthetic"] else "no"),
        ("built", info["built_at"]),
        ("source", info["source_file"]),
        ("extent (lon/lat)", extent),
        ("boundary", info["boundary_source"]),
        ("emergency factor", f"{info['emergency_factor']:g}"),
    ):
        table.add_row(key, str(value))
    for key, value in info["counts"].items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    console.print(table)


@app.command("build")
def build(
    pbf: Annotated[Path, typer.Option("--pbf", help="OSM extract (.osm.pbf or .osm XML).")],
    name: Annotated[str, typer.Option("--name", help="City name, e.g. 'Clermont-Ferrand'.")],
    out: Annotated[Path, typer.Option("--out", help="Pack directory to create.")],
    boundary: Annotated[
        Path | None, typer.Option("--boundary", help="GeoJSON of the city's area.")
    ] = None,
    admin_name: Annotated[
        str | None,
        typer.Option("--admin-name", help="Use the OSM administrative boundary of this name."),
    ] = None,
    districts: Annotated[
        Path | None, typer.Option("--districts", help="GeoJSON of named districts.")
    ] = None,
    emergency_factor: Annotated[
        float, typer.Option("--emergency-factor", help="Emergency driving speed-up (1-3).")
    ] = 1.3,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing pack.")] = False,
) -> None:
    """Build a city pack from an OpenStreetMap extract."""
    from arverne.geo.pack import build_pack, load_pack, pack_info

    with _errors(), _progress() as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1.0)
            bar.update(tasks[stage], completed=fraction)

        path = build_pack(
            pbf,
            name=name,
            out_dir=out,
            boundary=boundary,
            admin_name=admin_name,
            districts=districts,
            emergency_factor=emergency_factor,
            overwrite=overwrite,
            progress=report,
        )
    _show_info(pack_info(load_pack(path)))


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Pack directory to create.")],
    seed: Annotated[int, typer.Option(help="Random seed of the generated streets.")] = 63000,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing pack.")] = False,
) -> None:
    """Build the Clermont-Ferrand demo pack (generated streets, real landmarks)."""
    from arverne.geo.demo_city import build_demo_pack
    from arverne.geo.pack import load_pack, pack_info

    with _errors(), _progress() as bar:
        task = bar.add_task("demo city", total=None)
        path = build_demo_pack(
            out,
            seed=seed,
            overwrite=overwrite,
            progress=lambda stage, f: bar.update(task, description=stage),
        )
    _show_info(pack_info(load_pack(path)))


@app.command("info")
def info(
    pack: PackArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show a pack's counts, extent, CRS and synthetic flag."""
    from arverne.geo.pack import pack_info

    details = pack_info(_load(pack))
    if as_json:
        console.print_json(json.dumps(details))
    else:
        _show_info(details)


@app.command("geocode")
def geocode(
    pack: PackArg,
    query: Annotated[str, typer.Argument(help="Address, street, place or 'rue X / rue Y'.")],
    limit: Annotated[int, typer.Option(min=1, max=50, help="Candidates to show.")] = 5,
) -> None:
    """Find an address, street, landmark or intersection."""
    from arverne.geo.geocode import Geocoder

    city = _load(pack)
    with _errors():
        result = Geocoder(city).geocode(query, limit=limit)
    if not result:
        err_console.print(f"[yellow]no match:[/] {result.hint}", highlight=False)
        raise typer.Exit(1)
    table = Table(title=f"{query!r} in {city.name}")
    for column in ("#", "label", "kind", "lon", "lat", "confidence", "note"):
        table.add_column(column)
    for rank, c in enumerate(result, start=1):
        table.add_row(
            str(rank),
            c.label,
            c.kind,
            f"{c.lon:.6f}",
            f"{c.lat:.6f}",
            f"{c.confidence:.2f}",
            c.note or "",
        )
    console.print(table)


@app.command("reverse")
def reverse(
    pack: PackArg,
    lon: Annotated[float, typer.Option("--lon", help="Longitude (WGS84).")],
    lat: Annotated[float, typer.Option("--lat", help="Latitude (WGS84).")],
) -> None:
    """Name the street and house number nearest to a point."""
    from arverne.geo.geocode import Geocoder

    lon, lat = _lonlat(f"{lon},{lat}", "--lon/--lat")
    city = _load(pack)
    with _errors():
        result = Geocoder(city).reverse(lon, lat)
    flags = [
        f
        for f, on in (("outside the city", result.outside), ("far from any street", result.far))
        if on
    ]
    if result.street is None:
        raise _fail("the pack has no named street; nothing to report for this point")
    console.print(
        f"{result.label}  ({result.distance_m:.0f} m from {result.street})"
        + (f"  [yellow]warning: {', '.join(flags)}[/]" if flags else "")
    )


@app.command("route")
def route(
    pack: PackArg,
    start: Annotated[str, typer.Option("--from", help="Start as LON,LAT.")],
    end: Annotated[str, typer.Option("--to", help="Destination as LON,LAT.")],
    walk: Annotated[bool, typer.Option("--walk", help="Walk instead of drive.")] = False,
    emergency: Annotated[bool, typer.Option("--emergency", help="Emergency driving.")] = False,
) -> None:
    """Fastest route: time, distance and the streets followed."""
    from arverne.geo.routing import route as find_route

    a, b = _lonlat(start, "--from"), _lonlat(end, "--to")
    if walk and emergency:
        raise _fail("--emergency applies to driving; drop --walk or --emergency")
    city = _load(pack)
    with _errors():
        found = find_route(city, a, b, mode="walk" if walk else "drive", emergency=emergency)
    minutes, seconds = divmod(round(found.travel_time_s), 60)
    console.print(
        f"[bold]{minutes} min {seconds:02d} s[/], {found.distance_m / 1000:.2f} km "
        f"({found.mode}{', emergency' if emergency else ''})"
    )
    console.print("via " + (" → ".join(found.street_names) or "unnamed streets"))


@app.command("isochrone")
def isochrone(
    pack: PackArg,
    start: Annotated[str, typer.Option("--from", help="Start as LON,LAT.")],
    minutes: Annotated[float, typer.Option("--minutes", help="Travel time budget.")],
    out: Annotated[Path, typer.Option("--out", help="GeoJSON file to write.")],
    walk: Annotated[bool, typer.Option("--walk", help="Walk instead of drive.")] = False,
    emergency: Annotated[bool, typer.Option("--emergency", help="Emergency driving.")] = False,
) -> None:
    """Write the area reachable within a time budget as GeoJSON."""
    from arverne.geo.geojson import feature, write_feature_collection
    from arverne.geo.isochrones import isochrone as reachable

    a = _lonlat(start, "--from")
    city = _load(pack)
    with _errors():
        area = reachable(
            city, a, minutes=minutes, mode="walk" if walk else "drive", emergency=emergency
        )
        write_feature_collection(
            out,
            [
                feature(
                    area, {"minutes": minutes, "from": list(a), "mode": "walk" if walk else "drive"}
                )
            ],
        )
    console.print(f"wrote {out} ({minutes:g} min from {a[0]:.5f},{a[1]:.5f})")


@app.command("beats")
def beats(
    pack: PackArg,
    k: Annotated[int, typer.Option("--k", min=2, help="Number of beats.")],
    out: Annotated[Path, typer.Option("--out", help="GeoJSON file to write.")],
    weights: Annotated[
        Path | None, typer.Option("--weights", help="CSV of lon,lat[,weight] (e.g. incidents).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Generate K patrol beats of balanced workload."""
    import pandas as pd

    from arverne.geo.districts import generate_beats, node_weights
    from arverne.geo.geojson import write_feature_collection

    city = _load(pack)
    node_load = None
    if weights is not None:
        try:
            frame = pd.read_csv(weights)
        except (OSError, ValueError) as exc:
            raise _fail(f"{weights}: cannot read the CSV ({exc})") from exc
        if not {"lon", "lat"} <= set(frame.columns):
            raise _fail(f"{weights}: needs 'lon' and 'lat' columns (and optionally 'weight')")
        with _errors():
            node_load = node_weights(
                city,
                frame[["lon", "lat"]].to_numpy(),
                weights=frame["weight"].to_numpy() if "weight" in frame else None,
            )
    with _errors():
        result = generate_beats(city, k, weights=node_load, seed=seed)
        write_feature_collection(out, result.to_features(city))
    table = Table(title=f"{k} beats, workload max/min {result.workload_ratio:.2f}")
    for column in ("beat", "workload", "nodes", "mean travel time from centre"):
        table.add_column(column)
    for beat in range(k):
        table.add_row(
            str(beat + 1),
            f"{result.workload[beat]:.1f}",
            str(int((result.assignment == beat).sum())),
            f"{result.mean_travel_time_s[beat]:.0f} s",
        )
    console.print(table)
    console.print(f"wrote {out}")


@app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="Extract name (monaco, auvergne ...) or https URL.")],
    out: Annotated[Path, typer.Option("--out", help="File to write (.osm.pbf).")],
) -> None:
    """Download an OpenStreetMap extract."""
    from arverne.geo.fetch import fetch_extract

    with _errors():
        path = fetch_extract(name, out_path=out)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
