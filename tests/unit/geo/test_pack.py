"""Reading OSM and building, writing and loading city packs."""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

import numpy as np
import osmium
import pandas as pd
import pytest

from arverne.geo import hierarchy
from arverne.geo.errors import CityPackError
from arverne.geo.osm_read import read_osm, sniff_format
from arverne.geo.pack import CityPack, build_pack, load_pack, pack_info
from tests.unit.geo.town import grid_lonlat, write_town_osm


def test_read_osm_collects_ways_landmarks_and_addresses(town_osm: Path) -> None:
    raw = read_osm(town_osm)
    names = {w.tags.get("name") for w in raw.ways}
    assert {"Rue Blatin", "Passage des Jacobins", "Impasse du Cul-de-Sac"} <= names
    assert {m.name for m in raw.landmarks} >= {"Hôtel de police", "CHU Gabriel-Montpied"}
    assert {(a.housenumber, a.street) for a in raw.addresses} >= {
        ("1", "Rue Blatin"),
        ("12 bis", "Avenue des États-Unis"),
    }


def test_pbf_written_by_pyosmium_reads_like_xml(tmp_path: Path) -> None:
    path = tmp_path / "tiny.osm.pbf"
    with osmium.SimpleWriter(str(path)) as writer:
        for i in range(3):
            lon, lat = grid_lonlat(0, i)
            writer.add_node(osmium.osm.mutable.Node(id=i + 1, location=(lon, lat), tags={}))
        writer.add_way(
            osmium.osm.mutable.Way(
                id=10, nodes=[1, 2, 3], tags={"highway": "residential", "name": "Rue PBF"}
            )
        )
    assert sniff_format(path) == "pbf"
    raw = read_osm(path)
    assert [w.tags["name"] for w in raw.ways] == ["Rue PBF"]
    assert raw.ways[0].refs.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01garbage" * 50, "not an OSM file"),
        (b'{"type": "FeatureCollection"}', "not an OSM file"),
        (b"<?xml version='1.0'?><gpx></gpx>", "not OSM XML"),
        (b"<?xml version='1.0'?>\n<osm version='0.6'><node id='1' lat='1' lon='2'><tag", "parsed"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    tmp_path: Path, content: bytes, message: str
) -> None:
    source = tmp_path / "bad.osm"
    source.write_bytes(content)
    with pytest.raises(CityPackError, match=message):
        build_pack(source, name="Bad", out_dir=tmp_path / "pack")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.osm"]


def test_osm_without_roads_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "empty.osm"
    source.write_text("<?xml version='1.0'?>\n<osm version='0.6'></osm>\n")
    with pytest.raises(CityPackError, match="no drivable road"):
        build_pack(source, name="Empty", out_dir=tmp_path / "pack")
    assert not (tmp_path / "pack").exists()


def test_failed_build_leaves_no_partial_pack(
    tmp_path: Path, town_osm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self: object, path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(hierarchy.Hierarchy, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        build_pack(town_osm, name="Testville", out_dir=tmp_path / "pack")
    assert list(tmp_path.iterdir()) == []


def test_existing_pack_needs_overwrite(tmp_path: Path, town_osm: Path) -> None:
    target = build_pack(town_osm, name="Testville", out_dir=tmp_path / "pack")
    with pytest.raises(FileExistsError):
        build_pack(town_osm, name="Testville", out_dir=target)
    build_pack(town_osm, name="Testville", out_dir=target, overwrite=True, emergency_factor=1.5)
    assert load_pack(target).emergency_factor == 1.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]


def test_pack_files_are_columnar_and_metadata_is_complete(
    town_pack_dir: Path, town_osm: Path
) -> None:
    names = {p.name for p in town_pack_dir.iterdir()}
    assert {"meta.json", "drive.npz", "walk.npz", "drive_ch.npz", "streets.parquet"} <= names
    assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    for npz in ("drive.npz", "walk.npz", "drive_ch.npz"):
        with np.load(town_pack_dir / npz, allow_pickle=False) as data:
            assert all(data[key].dtype != object for key in data.files)
    meta = json.loads((town_pack_dir / "meta.json").read_text())
    assert meta["source"]["sha256"] == hashlib.sha256(town_osm.read_bytes()).hexdigest()
    assert meta["crs"]["epsg"] == 2154
    assert meta["synthetic"] is False
    assert meta["counts"]["addresses"] == 9
    assert pd.read_parquet(town_pack_dir / "addresses.parquet").shape[0] == 9


def test_pack_reloads_with_graphs_restricted_to_the_strong_component(town: CityPack) -> None:
    assert town.epsg == 2154
    assert town.drive.n_nodes == 25  # the oneway dead end is cut off
    assert town.walk is not None
    assert town.walk.n_nodes == 26
    drive_names = {town.street_names[i] for i in np.unique(town.drive.link_name_id)}
    assert "Passage des Jacobins" not in drive_names
    assert "Impasse du Cul-de-Sac" not in drive_names
    walk_names = {town.street_names[i] for i in np.unique(town.walk.link_name_id)}
    assert {"Passage des Jacobins", "Impasse du Cul-de-Sac"} <= walk_names


def test_edges_carry_length_name_class_and_travel_time(town: CityPack) -> None:
    graph = town.drive
    rotonde = town.street_names.index("Rue de la Rotonde")
    links = np.flatnonzero(graph.link_name_id == rotonde)
    assert links.size == 4
    assert np.all(graph.link_bwd_arc[links] == -1)  # oneway: no backward arc
    arcs = graph.link_fwd_arc[links]
    assert graph.link_length_m[links] == pytest.approx(np.full(4, 100.0), rel=0.02)
    assert graph.arc_speed_kmh[arcs] == pytest.approx(np.full(4, 30.0))
    expected = graph.arc_length_m[arcs] / (30.0 / 3.6)
    assert graph.arc_travel_time_s[arcs] == pytest.approx(expected)
    classes = graph.highway_classes[graph.link_highway_id[links]]
    assert set(classes.tolist()) == {"residential"}
    avenue = np.flatnonzero(graph.link_name_id == town.street_names.index("Avenue des États-Unis"))
    assert graph.arc_speed_kmh[graph.link_fwd_arc[avenue]] == pytest.approx(np.full(4, 50.0))


def test_load_pack_refuses_missing_or_damaged_packs(tmp_path: Path, town_pack_dir: Path) -> None:
    with pytest.raises(CityPackError, match=r"no meta\.json"):
        load_pack(tmp_path)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for item in town_pack_dir.iterdir():
        (damaged / item.name).write_bytes(item.read_bytes())
    (damaged / "drive.npz").write_bytes(b"not a zip")
    with pytest.raises(CityPackError, match="damaged"):
        load_pack(damaged)
    meta = json.loads((damaged / "meta.json").read_text())
    meta["format_version"] = 99
    (damaged / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CityPackError, match="format version"):
        load_pack(damaged)


def test_pack_info_summarises(town: CityPack) -> None:
    info = pack_info(town)
    assert info["name"] == "Testville"
    assert info["crs"] == "EPSG:2154"
    assert info["counts"]["drive_nodes"] == 25
    lon_min, lat_min, lon_max, lat_max = info["extent"]
    assert lon_min < 3.08 < 3.08 + 4 * 0.00129 < lon_max
    assert lat_min < 45.77 < lat_max


def test_boundary_argument_clips_roads(tmp_path: Path) -> None:
    import shapely

    source = write_town_osm(tmp_path / "town.osm")
    (a, b), (c, d) = grid_lonlat(-0.5, -0.5), grid_lonlat(0.5, 4.5)
    pack = load_pack(
        build_pack(source, name="Clip", out_dir=tmp_path / "pack", boundary=shapely.box(a, b, c, d))
    )
    assert pack.meta["boundary_source"] == "argument"
    # Ways touching the boundary plus 250 m are kept whole; Rue Saint-Esprit (400 m) is not.
    names = {pack.street_names[i] for i in np.unique(pack.drive.link_name_id)}
    assert "Rue Blatin" in names
    assert "Rue Saint-Esprit" not in names
    # Addresses and landmarks must lie inside the boundary itself.
    assert set(pack.addresses["street"]) == {"Rue Blatin"}
    assert "Gare de Clermont-Ferrand" not in set(pack.landmarks["name"])


def test_boundary_from_an_osm_admin_area_by_name(tmp_path: Path) -> None:
    source = write_town_osm(tmp_path / "town.osm", admin_area=True)
    pack = load_pack(
        build_pack(source, name="Nord", out_dir=tmp_path / "pack", admin_name="quartier nord")
    )
    assert pack.meta["boundary_source"] == "osm admin area quartier nord"
    assert set(pack.landmarks["name"]) == {"Gare de Clermont-Ferrand", "CHU Gabriel-Montpied"}
    assert set(pack.addresses["street"]) == {"Avenue des États-Unis"}
    with pytest.raises(CityPackError, match="Quartier Nord"):
        build_pack(source, name="X", out_dir=tmp_path / "other", admin_name="Quartier Sud")
    assert not (tmp_path / "other").exists()


def test_package_exports_are_the_functions_even_after_submodule_imports() -> None:
    import importlib

    import arverne.geo as geo

    for name in geo.__all__:
        module = geo._EXPORTS[name]
        importlib.import_module(f"arverne.geo.{module}")
        value = getattr(geo, name)
        assert not inspect.ismodule(value), name
