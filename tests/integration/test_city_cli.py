"""``arverne city``: build, info, geocode, reverse, route, isochrone, beats, demo; exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arverne.cli import app
from arverne.geo.pack import load_pack
from tests.unit.geo.town import grid_lonlat, write_grid_osm, write_town_osm

runner = CliRunner()
ENV = {"COLUMNS": "200"}


def _lonlat(row: float, col: float) -> str:
    lon, lat = grid_lonlat(row, col)
    return f"{lon:.7f},{lat:.7f}"


@pytest.fixture(scope="module")
def town_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cli-town")
    source = write_town_osm(work / "town.osm")
    out = work / "pack"
    result = runner.invoke(
        app,
        ["city", "build", "--pbf", str(source), "--name", "Testville", "--out", str(out)],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert "Testville" in result.output
    assert "EPSG:2154" in result.output
    return out


def test_info_prints_counts_as_json(town_pack: Path) -> None:
    result = runner.invoke(app, ["city", "info", str(town_pack), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["counts"]["drive_nodes"] == 25
    assert info["synthetic"] is False
    table = runner.invoke(app, ["city", "info", str(town_pack)], env=ENV)
    assert "drive nodes" in table.output


def test_geocode_prints_ranked_candidates(town_pack: Path) -> None:
    result = runner.invoke(app, ["city", "geocode", str(town_pack), "3 r. blatin"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "3 Rue Blatin" in result.output
    crossing = runner.invoke(
        app, ["city", "geocode", str(town_pack), "angle rue blatin et rue gonod"], env=ENV
    )
    assert "Rue Blatin / Rue Gonod" in crossing.output


def test_geocode_unknown_address_exits_1_with_a_hint(town_pack: Path) -> None:
    result = runner.invoke(app, ["city", "geocode", str(town_pack), "rue de Nullepart"], env=ENV)
    assert result.exit_code == 1
    assert "no match" in result.output


def test_route_prints_time_distance_and_streets(town_pack: Path) -> None:
    args = ["city", "route", str(town_pack), "--from", _lonlat(2, 1.5), "--to", _lonlat(2, 3.5)]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    assert "0 min 24 s" in result.output  # 200 m at 30 km/h
    assert "Rue de la Rotonde" in result.output
    back = runner.invoke(
        app,
        ["city", "route", str(town_pack), "--from", _lonlat(2, 3.5), "--to", _lonlat(2, 1.5)],
        env=ENV,
    )
    assert back.exit_code == 0
    assert back.output.count("→") >= 2  # round the block: the oneway is not reversed


@pytest.mark.parametrize(
    ("start", "message"),
    [("3.08", "is not LON,LAT"), ("300,45", "out of range"), (None, "outside the city")],
)
def test_route_bad_points_exit_2(town_pack: Path, start: str | None, message: str) -> None:
    start = start or _lonlat(50, 50)
    args = ["city", "route", str(town_pack), "--from", start, "--to", _lonlat(2, 1.5)]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 2
    assert message in result.output


def test_reverse_names_the_street(town_pack: Path) -> None:
    lon, lat = grid_lonlat(-0.05, 0.75)
    args = ["city", "reverse", str(town_pack), "--lon", str(lon), "--lat", str(lat)]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    assert "3 Rue Blatin" in result.output


def test_isochrone_and_beats_write_geojson(town_pack: Path, tmp_path: Path) -> None:
    iso = tmp_path / "iso.geojson"
    args = ["city", "isochrone", str(town_pack), "--from", _lonlat(0, 0.5), "--minutes", "1"]
    result = runner.invoke(app, [*args, "--out", str(iso)], env=ENV)
    assert result.exit_code == 0, result.output
    document = json.loads(iso.read_text())
    assert document["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    weights = tmp_path / "incidents.csv"
    weights.write_text("lon,lat\n" + "\n".join(_lonlat(r, 1) for r in range(5)) + "\n")
    grid = write_grid_osm(tmp_path / "grid.osm", size=12, seed=5)
    pack = tmp_path / "grid"
    assert (
        runner.invoke(
            app,
            ["city", "build", "--pbf", str(grid), "--name", "Grid", "--out", str(pack)],
            env=ENV,
        ).exit_code
        == 0
    )
    beats = tmp_path / "beats.geojson"
    result = runner.invoke(
        app,
        ["city", "beats", str(pack), "--k", "3", "--out", str(beats), "--weights", str(weights)],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(beats.read_text())["features"]) == 3
    bad = runner.invoke(
        app,
        ["city", "beats", str(pack), "--k", "3", "--out", str(beats), "--weights", str(iso)],
        env=ENV,
    )
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.osm.pbf", b"", "file is empty"),
        ("corrupt.osm.pbf", b"\x00\x00\x00\x0d\n\tOSMHeader" + b"\xff" * 300, "cannot be parsed"),
        ("notes.txt", b"just some notes\n", "not an OSM file"),
        ("page.osm", b"<html><body>404</body></html>", "not OSM XML"),
    ],
)
def test_build_refuses_bad_files_with_exit_2_and_writes_nothing(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "pack"
    result = runner.invoke(
        app, ["city", "build", "--pbf", str(source), "--name", "Bad", "--out", str(out)], env=ENV
    )
    assert result.exit_code == 2
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_build_refuses_a_missing_file_and_an_existing_pack(town_pack: Path, tmp_path: Path) -> None:
    missing = runner.invoke(
        app,
        [
            "city",
            "build",
            "--pbf",
            str(tmp_path / "nope.osm"),
            "--name",
            "X",
            "--out",
            str(tmp_path / "p"),
        ],
        env=ENV,
    )
    assert missing.exit_code == 2
    assert "file not found" in missing.output
    source = write_town_osm(tmp_path / "town.osm")
    again = runner.invoke(
        app,
        ["city", "build", "--pbf", str(source), "--name", "X", "--out", str(town_pack)],
        env=ENV,
    )
    assert again.exit_code == 2
    assert "already exists" in again.output


def test_info_on_a_non_pack_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["city", "info", str(tmp_path)], env=ENV)
    assert result.exit_code == 2
    assert "not a city pack" in result.output


def test_demo_pack_builds_and_is_marked_synthetic(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = runner.invoke(app, ["city", "demo", "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.output
    assert "generated" in result.output
    pack = load_pack(out)
    assert pack.synthetic
    assert "generated" in pack.meta["note"]
    assert pack.epsg == 2154
    assert pack.drive.n_nodes > 3000
    assert len(pack.addresses) > 10_000
    assert {"Place de Jaude", "Gare de Clermont-Ferrand", "Hôtel de police"} <= set(
        pack.landmarks["name"]
    )
    lon_min, lat_min, lon_max, lat_max = pack.meta["extent"]
    assert 3.04 < lon_min < 3.06
    assert 3.14 < lon_max < 3.16
    assert 45.74 < lat_min < 45.76
    assert 45.80 < lat_max < 45.82
    geocode = runner.invoke(app, ["city", "geocode", str(out), "gare"], env=ENV)
    assert "Gare de Clermont-Ferrand" in geocode.output
    jaude = runner.invoke(app, ["city", "geocode", str(out), "pl de jaude"], env=ENV)
    assert "Place de Jaude" in jaude.output
