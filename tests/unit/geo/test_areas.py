"""Isochrones, districts, patrol beats and extract downloads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from arverne.geo.districts import DistrictIndex, generate_beats, node_weights, read_districts
from arverne.geo.errors import DistrictError, FetchError, SnapError
from arverne.geo.fetch import MemoryTransport, fetch_extract, resolve_extract
from arverne.geo.isochrones import isochrone
from arverne.geo.pack import CityPack
from tests.unit.geo.town import districts_geojson, grid_lonlat


def test_isochrone_contains_near_points_and_not_far_ones(town: CityPack) -> None:
    start = grid_lonlat(0, 0.5)
    # 30 km/h on Rue Blatin: one minute reaches 500 m along the street.
    area = isochrone(town, start, minutes=0.5, buffer_m=20)  # about 250 m at 30 km/h
    assert area.geom_type in ("Polygon", "MultiPolygon")
    assert area.contains(shapely.Point(grid_lonlat(0, 1.5)))  # 100 m along
    assert area.contains(shapely.Point(grid_lonlat(0, 2.5)))  # 200 m along
    assert not area.contains(shapely.Point(grid_lonlat(0, 4)))  # 350 m along
    assert not area.contains(shapely.Point(grid_lonlat(4, 4)))
    bigger = isochrone(town, start, minutes=2, buffer_m=20)
    assert bigger.area > area.area
    assert bigger.contains(shapely.Point(grid_lonlat(0, 4)))
    emergency = isochrone(town, start, minutes=0.5, buffer_m=20, emergency=True)
    assert emergency.area > area.area


def test_isochrone_validates_input(town: CityPack) -> None:
    with pytest.raises(ValueError, match="minutes"):
        isochrone(town, grid_lonlat(0, 0.5), minutes=0)
    with pytest.raises(SnapError):
        isochrone(town, grid_lonlat(30, 30), minutes=5)


def test_read_districts_reports_every_bad_feature(tmp_path: Path) -> None:
    document = districts_geojson()
    districts = read_districts(document)
    assert [name for name, _ in districts] == ["Ouest", "Est"]
    bad = json.loads(json.dumps(document))
    bad["features"][0]["properties"] = {}
    bad["features"][1]["geometry"] = {"type": "Point", "coordinates": [3.0, 45.0]}
    with pytest.raises(DistrictError, match=r"feature 0 has no 'name'.*feature 1 has geometry"):
        read_districts(bad)
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(DistrictError, match="not valid JSON"):
        read_districts(path)


def test_district_lookup_is_vectorised(town: CityPack) -> None:
    index = DistrictIndex(town.districts)
    points = np.array([grid_lonlat(1, 0.5), grid_lonlat(1, 3.5), grid_lonlat(40, 40)])
    assert index.locate(points[:, 0], points[:, 1]).tolist() == [0, 1, -1]
    assert index.names_of(points[:, 0], points[:, 1]) == ["Ouest", "Est", None]
    # A point on the shared border goes to the first district listed.
    border = grid_lonlat(1, 2)
    assert index.names_of([border[0]], [border[1]]) == ["Ouest"]


def test_beats_are_balanced_and_cover_every_node(grid: CityPack) -> None:
    beats = generate_beats(grid, 4, seed=1)
    n = grid.drive.n_nodes
    assert beats.assignment.shape == (n,)
    assert set(beats.assignment.tolist()) == {0, 1, 2, 3}
    assert beats.workload.sum() == pytest.approx(n)
    assert beats.workload_ratio <= 1.2
    assert len(beats.polygons) == 4
    assert all(p.is_valid and not p.is_empty for p in beats.polygons)
    features = beats.to_features(grid)
    assert [f["properties"]["beat"] for f in features] == [0, 1, 2, 3]


def test_beats_balance_skewed_workload(grid: CityPack) -> None:
    graph = grid.drive
    # Ten times more incidents in the south-west quarter of the grid.
    hot = (graph.node_lon < grid_lonlat(0, 10)[0]) & (graph.node_lat < grid_lonlat(10, 0)[1])
    weights = np.where(hot, 10.0, 1.0)
    beats = generate_beats(grid, 5, weights=weights, seed=2)
    assert beats.workload.sum() == pytest.approx(weights.sum())
    assert beats.workload_ratio <= 1.35
    sizes = np.bincount(beats.assignment, minlength=5)
    hot_share = np.bincount(beats.assignment, weights=hot.astype(float), minlength=5) / sizes
    # The beat over the hot spot is smaller (fewer streets) than the quietest one.
    assert sizes[np.argmax(hot_share)] < sizes[np.argmin(hot_share)]


def test_beats_validate_input(grid: CityPack) -> None:
    with pytest.raises(ValueError, match="beats is out of range"):
        generate_beats(grid, 1)
    with pytest.raises(ValueError, match="weights must be"):
        generate_beats(grid, 3, weights=np.ones(5))
    with pytest.raises(ValueError, match="all zero"):
        generate_beats(grid, 3, weights=np.zeros(grid.drive.n_nodes))


def test_node_weights_sum_points_on_nearest_nodes(town: CityPack) -> None:
    points = np.array([grid_lonlat(0, 0), grid_lonlat(0.02, 0.02), grid_lonlat(4, 4)])
    load = node_weights(town, points, weights=[1.0, 2.0, 5.0])
    assert load.sum() == pytest.approx(8.0)
    assert sorted(load[load > 0].tolist()) == [3.0, 5.0]
    with pytest.raises(ValueError, match="weights"):
        node_weights(town, points, weights=[1.0, -1.0, 1.0])


def test_fetch_writes_osm_atomically_with_a_fake_transport(tmp_path: Path) -> None:
    url = resolve_extract("monaco")
    body = b"<?xml version='1.0'?>\n<osm version='0.6'></osm>\n"
    transport = MemoryTransport({url: body})
    path = fetch_extract("monaco", out_path=tmp_path / "monaco.osm", transport=transport)
    assert path.read_bytes() == body
    assert transport.requested == [url]


@pytest.mark.parametrize(
    ("response", "message"),
    [(b"<html>login</html>", "not an OSM extract"), (b"", "empty"), (503, "HTTP 503")],
)
def test_fetch_failures_write_nothing(tmp_path: Path, response: bytes | int, message: str) -> None:
    url = "https://example.org/city.osm.pbf"
    with pytest.raises(FetchError, match=message):
        fetch_extract(
            url, out_path=tmp_path / "city.osm.pbf", transport=MemoryTransport({url: response})
        )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="unknown extract"):
        resolve_extract("atlantis")
