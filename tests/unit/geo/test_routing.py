"""Routing: oneways, travel times, edge snapping, many-to-one ranking, hierarchy."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import shapely

from arverne.geo.errors import SnapError
from arverne.geo.hierarchy import build_hierarchy
from arverne.geo.pack import CityPack
from arverne.geo.routing import rank_to_target, route
from tests.unit.geo.town import grid_lonlat

WEST_ON_ROTONDE = grid_lonlat(2, 1.5)
EAST_ON_ROTONDE = grid_lonlat(2, 3.5)


def test_routes_follow_oneways(town: CityPack) -> None:
    along = route(town, WEST_ON_ROTONDE, EAST_ON_ROTONDE)
    against = route(town, EAST_ON_ROTONDE, WEST_ON_ROTONDE)
    assert along.street_names == ["Rue de la Rotonde"]
    assert along.distance_m == pytest.approx(200.0, rel=0.02)
    # Going back west must leave the oneway street and come round another block.
    assert against.distance_m > along.distance_m + 150.0
    assert against.travel_time_s > along.travel_time_s
    assert "Rue de la Rotonde" in against.street_names
    assert len(against.street_names) >= 3


def test_travel_time_matches_length_and_speed(town: CityPack) -> None:
    found = route(town, WEST_ON_ROTONDE, EAST_ON_ROTONDE)
    assert found.travel_time_s == pytest.approx(found.distance_m / (30 / 3.6), rel=1e-6)
    on_avenue = route(town, grid_lonlat(3, 0.5), grid_lonlat(3, 3.5))  # secondary, 50 km/h
    assert on_avenue.street_names == ["Avenue des États-Unis"]
    assert on_avenue.travel_time_s == pytest.approx(on_avenue.distance_m / (50 / 3.6), rel=1e-6)
    emergency = route(town, grid_lonlat(3, 0.5), grid_lonlat(3, 3.5), emergency=True)
    assert emergency.travel_time_s == pytest.approx(on_avenue.travel_time_s / 1.3)


def test_points_snap_to_the_middle_of_an_edge_not_to_a_node(town: CityPack) -> None:
    lon, lat = grid_lonlat(0.1, 1.5)  # 10 m north of the middle of a Rue Blatin block
    x, y = town.projector.to_metric(lon, lat)
    snaps = town.snapper("drive").snap(x, y)
    link = int(snaps.link[0])
    graph = town.drive
    assert town.street_names[graph.link_name_id[link]] == "Rue Blatin"
    assert snaps.distance_m[0] == pytest.approx(10.0, rel=0.05)
    assert snaps.offset_m[0] == pytest.approx(graph.link_length_m[link] / 2, rel=0.02)
    assert snaps.ok[0]
    found = route(town, (lon, lat), grid_lonlat(0.1, 3.5))
    assert found.snap_from_m == pytest.approx(10.0, rel=0.05)
    assert found.distance_m == pytest.approx(200.0, rel=0.02)  # not node to node (300 m)
    assert found.street_names == ["Rue Blatin"]
    start = shapely.Point(found.geometry[0])
    assert start.distance(shapely.Point(lon, lat)) < 0.0002
    feature = found.to_geojson()
    assert feature["geometry"]["type"] == "LineString"


def test_walking_uses_the_footway_and_ignores_oneways(town: CityPack) -> None:
    a, b = grid_lonlat(0, 0), grid_lonlat(1, 1)
    walk = route(town, a, b, mode="walk")
    drive = route(town, a, b)
    assert "Passage des Jacobins" in walk.street_names
    assert walk.distance_m == pytest.approx(100 * math.sqrt(2), rel=0.03)
    assert drive.distance_m == pytest.approx(200.0, rel=0.03)
    back = route(town, EAST_ON_ROTONDE, WEST_ON_ROTONDE, mode="walk")
    assert back.street_names == ["Rue de la Rotonde"]
    with pytest.raises(ValueError, match="driving only"):
        route(town, a, b, mode="walk", emergency=True)


def test_far_or_invalid_points_are_refused(town: CityPack) -> None:
    with pytest.raises(SnapError, match="outside the city"):
        route(town, grid_lonlat(40, 40), EAST_ON_ROTONDE)
    with pytest.raises(ValueError, match="WGS84"):
        route(town, (500.0, 45.0), EAST_ON_ROTONDE)
    with pytest.raises(ValueError, match="lon, lat"):
        route(town, "nowhere", EAST_ON_ROTONDE)


def _reference_etas(pack: CityPack, origins: np.ndarray, target: tuple[float, float]) -> np.ndarray:
    """ETAs from networkx Dijkstra, with snapping done independently by shapely."""
    graph = pack.drive
    lines = [
        shapely.LineString(np.column_stack(graph.link_points(k))) for k in range(graph.n_links)
    ]
    network = nx.DiGraph()
    for u, v, t in zip(graph.arc_u, graph.arc_v, graph.arc_travel_time_s, strict=True):
        if not network.has_edge(int(u), int(v)) or network[int(u)][int(v)]["w"] > t:
            network.add_edge(int(u), int(v), w=float(t))

    def snap(lon: float, lat: float) -> tuple[int, float]:
        x, y = pack.projector.to_metric(lon, lat)
        point = shapely.Point(float(x), float(y))
        link = int(np.argmin([line.distance(point) for line in lines]))
        return link, lines[link].project(point) / lines[link].length

    def times(link: int) -> tuple[float, float]:
        fwd, bwd = graph.link_fwd_arc[link], graph.link_bwd_arc[link]
        return (
            float(graph.arc_travel_time_s[fwd]) if fwd >= 0 else math.inf,
            float(graph.arc_travel_time_s[bwd]) if bwd >= 0 else math.inf,
        )

    t_link, t_frac = snap(*target)
    t_fwd, t_bwd = times(t_link)
    network.add_edge("T", "T")  # make sure the node exists
    for node, cost in (
        (graph.link_u[t_link], t_frac * t_fwd),
        (graph.link_v[t_link], (1 - t_frac) * t_bwd),
    ):
        if math.isfinite(cost):
            network.add_edge(int(node), "T", w=cost)
    to_target = nx.single_source_dijkstra_path_length(network.reverse(copy=True), "T", weight="w")
    result = []
    for lon, lat in origins:
        link, frac = snap(lon, lat)
        fwd, bwd = times(link)
        best = math.inf
        for node, cost in (
            (graph.link_v[link], (1 - frac) * fwd),
            (graph.link_u[link], frac * bwd),
        ):
            if math.isfinite(cost) and int(node) in to_target:
                best = min(best, cost + to_target[int(node)])
        if link == t_link:
            direct = (t_frac - frac) * fwd if t_frac >= frac else (frac - t_frac) * bwd
            best = min(best, direct)
        result.append(best)
    return np.array(result)


@pytest.mark.parametrize("which", ["town", "grid"])
def test_many_to_one_ranking_agrees_with_networkx(
    which: str, request: pytest.FixtureRequest
) -> None:
    pack: CityPack = request.getfixturevalue(which)
    size = 4 if which == "town" else 19
    rng = np.random.default_rng(7)
    for _ in range(4):
        origins = np.array([grid_lonlat(*rng.uniform(0, size, 2)) for _ in range(40)])
        target = grid_lonlat(*rng.uniform(0, size, 2))
        ranking = rank_to_target(pack, origins, target)
        expected = _reference_etas(pack, origins, target)
        assert ranking.ok.all()
        np.testing.assert_allclose(ranking.eta_s, expected, rtol=1e-9, atol=1e-6)
        assert np.all(np.diff(ranking.eta_s[ranking.order]) >= 0)
        assert np.all(ranking.distance_m > 0)


def test_ranking_flags_lost_units_instead_of_guessing(town: CityPack) -> None:
    origins = np.array([WEST_ON_ROTONDE, grid_lonlat(40, 40), (np.nan, np.nan), grid_lonlat(0, 1)])
    ranking = rank_to_target(town, origins, EAST_ON_ROTONDE)
    assert ranking.ok.tolist() == [True, False, False, True]
    assert np.isinf(ranking.eta_s[[1, 2]]).all()
    assert ranking.order[0] == 0  # straight along the oneway
    assert set(ranking.order[-2:].tolist()) == {1, 2}
    assert ranking.snap_distance_m[1] > 1000
    emergency = rank_to_target(town, origins, EAST_ON_ROTONDE, emergency=True)
    assert emergency.eta_s[0] == pytest.approx(ranking.eta_s[0] / 1.3)
    walk = rank_to_target(town, origins[[0, 3]], EAST_ON_ROTONDE, mode="walk")
    assert walk.eta_s[0] == pytest.approx(200 / (5 / 3.6), rel=0.02)
    with pytest.raises(SnapError):
        rank_to_target(town, origins, grid_lonlat(40, 40))
    with pytest.raises(ValueError, match="shape"):
        rank_to_target(town, np.zeros(3), EAST_ON_ROTONDE)


def test_core_hierarchy_is_exact(grid: CityPack) -> None:
    from scipy.sparse.csgraph import dijkstra

    graph = grid.drive
    for fraction in (0.05, 0.3):
        hierarchy = build_hierarchy(graph, core_fraction=fraction)
        sources = np.arange(graph.n_nodes)
        for target in (0, 57, 211, graph.n_nodes - 1):
            times, lengths = hierarchy.distances_to(
                np.array([target]), np.zeros(1), np.zeros(1), sources
            )
            expected = dijkstra(graph.matrix_reversed, indices=target)
            np.testing.assert_allclose(times, expected, rtol=1e-9, atol=1e-9)
            assert lengths[target] == 0.0
            assert np.all(lengths[sources != target] > 0)


def test_edge_snapping_is_exact_near_and_far(grid: CityPack) -> None:
    graph = grid.drive
    lines = shapely.linestrings(
        [np.column_stack(graph.link_points(k)) for k in range(graph.n_links)]
    )
    rng = np.random.default_rng(11)
    lonlat = np.array([grid_lonlat(*rng.uniform(-3, 22, 2)) for _ in range(300)])
    x, y = grid.projector.to_metric(lonlat[:, 0], lonlat[:, 1])
    snaps = grid.snapper("drive").snap(x, y, max_snap_m=60.0)
    expected = shapely.distance(lines[None, :], shapely.points(x, y)[:, None]).min(axis=1)
    np.testing.assert_allclose(snaps.distance_m, expected, atol=1e-6)
    assert (snaps.ok == (expected <= 60.0) & ~snaps.outside).all()
    assert (~snaps.ok).any()
    assert snaps.ok.any()


def test_units_standing_on_junctions_leave_by_any_street(grid: CityPack) -> None:
    from scipy.sparse.csgraph import dijkstra

    graph = grid.drive
    rng = np.random.default_rng(5)
    nodes = rng.choice(graph.n_nodes, size=60, replace=False)
    origins = np.column_stack([graph.node_lon[nodes], graph.node_lat[nodes]])
    for target in (3, 150, 321):
        ranking = rank_to_target(grid, origins, (graph.node_lon[target], graph.node_lat[target]))
        expected = dijkstra(graph.matrix_reversed, indices=target)[nodes]
        np.testing.assert_allclose(ranking.eta_s, expected, rtol=1e-9, atol=1e-6)


def test_core_hierarchy_lengths_follow_the_fastest_paths(grid: CityPack) -> None:
    from scipy.sparse.csgraph import dijkstra

    from arverne.geo.routing import _path_lengths

    graph = grid.drive
    hierarchy = build_hierarchy(graph, core_fraction=0.05)
    sources = np.arange(graph.n_nodes)
    for target in (0, 57, 211):
        _, lengths = hierarchy.distances_to(np.array([target]), np.zeros(1), np.zeros(1), sources)
        _, pred = dijkstra(graph.matrix_reversed, indices=target, return_predecessors=True)
        expected = _path_lengths(graph, pred.astype(np.int64), 0.0)
        # Lengths of shortcuts are stored as float32.
        np.testing.assert_allclose(lengths, expected, rtol=1e-6)


def test_edge_snapping_is_exact_on_vertices_and_far_away(grid: CityPack) -> None:
    graph = grid.drive
    lines = shapely.linestrings(
        [np.column_stack(graph.link_points(k)) for k in range(graph.n_links)]
    )
    rng = np.random.default_rng(3)
    # Junctions (several segments tie), points a few cells away, and points kilometres off.
    x0, y0 = graph.node_x.mean(), graph.node_y.mean()
    angle = rng.uniform(0, 2 * np.pi, 20)
    far = rng.uniform(5_000, 20_000, 20)
    x = np.concatenate([graph.node_x[:30], x0 + far * np.cos(angle)])
    y = np.concatenate([graph.node_y[:30], y0 + far * np.sin(angle)])
    snapper = grid.snapper("drive")
    snaps = snapper.snap(x, y)
    expected = shapely.distance(lines[None, :], shapely.points(x, y)[:, None]).min(axis=1)
    np.testing.assert_allclose(snaps.distance_m, expected, atol=1e-6)
    picked = shapely.distance(lines[snaps.link], shapely.points(x, y))
    np.testing.assert_allclose(picked, expected, atol=1e-6)
    np.testing.assert_allclose(snaps.distance_m[:30], 0.0, atol=1e-9)
    assert not snaps.ok[30:].any()
    segments = snapper.nearest_segments(x, y)
    assert np.array_equal(snapper._seg_link[segments], snaps.link)
