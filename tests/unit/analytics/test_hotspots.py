"""Gi* on grids and street segments, Benjamini–Hochberg, KDE surfaces."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from arverne.analytics.errors import GridError, NotEnoughDataError
from arverne.analytics.grid import Grid
from arverne.analytics.hotspots import benjamini_hochberg, gi_star, hot_spots, kde_surface
from arverne.analytics.segments import (
    network_gi_star,
    network_hot_spots,
    segment_adjacency,
    snap_to_segments,
)


def _brute_gi_star(values: np.ndarray, valid: np.ndarray, radius: float) -> np.ndarray:
    """Textbook Gi* with a double loop, for comparison."""
    ny, nx = values.shape
    cells = [(r, c) for r in range(ny) for c in range(nx) if valid[r, c]]
    x = np.array([values[r, c] for r, c in cells])
    n, mean, std = x.size, x.mean(), x.std()
    out = np.full(values.shape, np.nan)
    for r, c in cells:
        w = np.array([np.hypot(r - r2, c - c2) <= radius + 1e-9 for r2, c2 in cells], float)
        big_w = w.sum()
        denom = std * np.sqrt((n * big_w - big_w**2) / (n - 1))
        out[r, c] = (w @ x - mean * big_w) / denom
    return out


def test_gi_star_matches_the_textbook_formula() -> None:
    rng = np.random.default_rng(3)
    values = rng.poisson(2.0, size=(7, 9)).astype(float)
    valid = np.ones((7, 9), dtype=bool)
    valid[0, :3] = False
    valid[5, 6] = False
    z = gi_star(values, valid=valid, radius_m=150.0, cell_m=100.0)
    expected = _brute_gi_star(values, valid, 1.5)
    assert np.allclose(z[valid], expected[valid])
    assert np.isnan(z[~valid]).all()


def test_gi_star_finds_a_planted_cluster_and_only_hot_spots() -> None:
    rng = np.random.default_rng(0)
    grid = Grid.from_bounds(0, 0, 4000, 4000, cell_m=100, crs="EPSG:2154")
    counts = rng.poisson(1.0, size=grid.shape).astype(float)
    counts[20:23, 10:13] += 8.0  # a 3 x 3 cluster
    counts[5:8, 30:33] = 0.0  # a cold patch: never reported
    result = hot_spots(counts, grid=grid, alpha=0.05)
    assert result.hot[21, 11]
    rows, cols = np.nonzero(result.hot)
    near = (rows >= 19) & (rows <= 23) & (cols >= 9) & (cols <= 13)
    assert near.sum() >= 9
    assert (~near).sum() <= 0.1 * rows.size  # the false discovery rate, not zero errors
    assert not result.hot[5:8, 30:33].any()
    report = result.to_dict(grid)
    assert report["n_hot"] == int(result.hot.sum())
    assert report["cells"][0]["z"] >= report["cells"][-1]["z"]


def test_fdr_suppresses_noise_that_raw_p_values_would_flag() -> None:
    grid = Grid.from_bounds(0, 0, 5000, 5000, cell_m=100, crs="EPSG:2154")
    false_hot, raw_hot = 0, 0
    for seed in range(5):
        counts = np.random.default_rng(seed).poisson(3.0, size=grid.shape).astype(float)
        result = hot_spots(counts, grid=grid, alpha=0.05)
        false_hot += int(result.hot.sum())
        raw_hot += int(np.nansum(result.p <= 0.05))
    assert raw_hot > 100  # about 5 % of 2,500 cells each time
    assert false_hot <= 5


def test_gi_star_uses_only_the_study_area() -> None:
    mask = np.zeros((10, 20), dtype=bool)
    mask[:, :10] = True
    counts = np.random.default_rng(1).poisson(1.0, size=(10, 20)).astype(float)
    counts[:, 10:] = 50.0  # busy cells outside the study area change nothing
    z = gi_star(counts, valid=mask, radius_m=150, cell_m=100)
    inside = gi_star(counts[:, :10], valid=np.ones((10, 10), bool), radius_m=150, cell_m=100)
    assert np.allclose(z[:, :10], inside)
    assert np.isnan(z[:, 10:]).all()
    area = shapely.Polygon([(0, 0), (1000, 0), (1000, 1000), (0, 1000)]).buffer(-1)
    assert Grid.from_polygon(area, cell_m=100, crs="EPSG:2154").n_valid == 100


def test_gi_star_refuses_constant_values() -> None:
    with pytest.raises(NotEnoughDataError, match="Gi"):
        gi_star(np.ones((5, 5)), valid=np.ones((5, 5), bool), radius_m=150, cell_m=100)


def test_benjamini_hochberg_known_values() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.20, np.nan])
    q = benjamini_hochberg(p)
    # Sorted p 0.01, 0.03, 0.04, 0.20 scaled by m / rank: 0.04, 0.06, 0.0533, 0.20; then
    # the running minimum from the largest rank down.
    assert q[:4] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert np.isnan(q[4])


def test_kde_keeps_mass_and_peaks_at_the_points() -> None:
    grid = Grid.from_bounds(0, 0, 3000, 3000, cell_m=100, crs="EPSG:2154")
    x = np.full(50, 1550.0)
    y = np.full(50, 1450.0)
    surface = kde_surface(x, y, grid=grid, bandwidth_m=150.0)
    assert surface.shape == grid.shape
    assert surface.sum() == pytest.approx(50.0, rel=1e-3)
    assert np.unravel_index(surface.argmax(), surface.shape) == (14, 15)


def test_grid_geometry_row_zero_is_south() -> None:
    grid = Grid.from_bounds(100, 200, 1000, 700, cell_m=100, crs="EPSG:2154")
    assert grid.shape == (6, 10)  # the north-east corner point still falls inside
    row, col, inside = grid.locate(np.array([150.0, 999.0]), np.array([210.0, 690.0]))
    assert row.tolist() == [0, 4]
    assert col.tolist() == [0, 8]
    assert inside.all()
    with pytest.raises(GridError, match="cell"):
        Grid.from_bounds(0, 0, 1, 1, cell_m=0, crs="EPSG:2154")


def test_segment_gi_star_finds_a_hot_stretch_of_street() -> None:
    # A straight street of 60 segments, vertex i to i + 1.
    n = 60
    xs = np.arange(n + 1) * 50.0
    segments = np.column_stack([xs[:-1], np.zeros(n), xs[1:], np.zeros(n)])
    adjacency = segment_adjacency(np.arange(n), np.arange(1, n + 1))
    assert len(adjacency) == n - 1
    counts = np.random.default_rng(2).poisson(1.0, size=n).astype(float)
    counts[30:34] += 9.0
    result = network_hot_spots(counts, adjacency=adjacency)
    hot = np.flatnonzero(result.hot)
    assert hot.size
    assert hot.min() >= 29
    assert hot.max() <= 34
    # Events a few metres off the street snap to the segment under them.
    snapped = snap_to_segments(
        np.array([1510.0, 25.0, 99999.0]), np.array([3.0, -4.0, 0.0]), segments=segments
    )
    assert snapped.tolist() == [30, 0, -1]
    # Same formula as the grid version on a graph that is a 1-D grid.
    z_grid = gi_star(counts[None, :], valid=np.ones((1, n), bool), radius_m=50, cell_m=50)
    assert np.allclose(network_gi_star(counts, adjacency=adjacency), z_grid[0])
