"""Regular square grid over a study area, in a metric CRS.

Every surface in the package (counts, KDE, Gi*, forecasts) is an ``(ny, nx)`` array on a
:class:`Grid`: row 0 is the southmost row, column 0 the westmost; cell ``(r, c)`` covers
``[x0 + c*cell, x0 + (c+1)*cell) x [y0 + r*cell, y0 + (r+1)*cell)``. The valid-cell mask
marks the cells whose centre lies in the study area; metrics and hotspot tests only look
at valid cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import ndimage

from arverne.analytics.errors import GridError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

#: Refuse grids larger than this many cells (a 4000 x 4000 grid is 128 MB per surface).
MAX_CELLS = 16_000_000


@dataclass(frozen=True, eq=False)
class Grid:
    """A regular grid: origin ``(x0, y0)`` (south-west corner), square cells of ``cell``.

    Parameters
    ----------
    x0, y0
        South-west corner in CRS units (metres).
    cell
        Cell side in metres.
    nx, ny
        Number of columns (west to east) and rows (south to north).
    crs
        CRS of the coordinates, e.g. ``"EPSG:32616"``.
    mask
        Valid cells, ``(ny, nx)`` booleans; all cells are valid when omitted.
    """

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    crs: str
    mask: BoolArray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (self.cell > 0 and math.isfinite(self.cell)):
            raise GridError(f"cell={self.cell!r} is not a positive size", "give metres > 0")
        if self.nx < 1 or self.ny < 1:
            raise GridError(f"grid of {self.nx} x {self.ny} cells is empty", "widen the area")
        if self.nx * self.ny > MAX_CELLS:
            raise GridError(
                f"grid of {self.nx} x {self.ny} cells is too large",
                f"use a larger cell (at most {MAX_CELLS:,} cells)",
            )
        if self.mask is not None and self.mask.shape != (self.ny, self.nx):
            raise GridError(
                f"mask shape {self.mask.shape} differs from (ny, nx)=({self.ny}, {self.nx})",
                "build the mask on the same grid",
            )

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls,
        xmin: float,
        ymin: float,
        xmax: float,
        ymax: float,
        *,
        cell_m: float,
        crs: str,
    ) -> Grid:
        """Build the smallest grid with cells of ``cell_m`` covering a bounding box."""
        if not cell_m > 0:
            raise GridError(f"cell_m={cell_m!r} is not positive", "give a cell size in metres")
        if not (math.isfinite(xmin) and math.isfinite(ymin) and xmax >= xmin and ymax >= ymin):
            raise GridError("the bounding box is empty or not finite", "check the coordinates")
        nx = max(1, math.ceil((xmax - xmin) / cell_m + 1e-9))
        ny = max(1, math.ceil((ymax - ymin) / cell_m + 1e-9))
        # Points exactly on the east/north edge must still fall inside.
        if xmin + nx * cell_m <= xmax:
            nx += 1
        if ymin + ny * cell_m <= ymax:
            ny += 1
        return cls(float(xmin), float(ymin), float(cell_m), nx, ny, crs)

    @classmethod
    def from_polygon(
        cls, area: shapely.Polygon | shapely.MultiPolygon, *, cell_m: float, crs: str
    ) -> Grid:
        """Build a grid over a study-area polygon; valid cells have their centre inside.

        Parameters
        ----------
        area
            Study area (Polygon or MultiPolygon) in the metric CRS.
        cell_m
            Cell side in metres.
        crs
            CRS of ``area``.
        """
        if area.is_empty or area.area <= 0:
            raise GridError("the study area is empty", "give a polygon with a positive area")
        xmin, ymin, xmax, ymax = area.bounds
        grid = cls.from_bounds(xmin, ymin, xmax, ymax, cell_m=cell_m, crs=crs)
        xc, yc = grid.centres()
        mask = np.asarray(shapely.contains_xy(area, xc, yc), dtype=bool)
        if not mask.any():
            raise GridError("no cell centre lies inside the study area", "use smaller cells")
        return grid.with_mask(mask)

    @classmethod
    def from_points(
        cls,
        x: FloatArray,
        y: FloatArray,
        *,
        cell_m: float,
        crs: str,
        closing_m: float = 500.0,
    ) -> Grid:
        """Build a grid over event locations; the study area is their filled footprint.

        The valid cells are the occupied cells after a morphological closing of radius
        ``closing_m`` (it bridges gaps between nearby events without growing the outer
        edge) with interior holes filled. Give a polygon to :meth:`from_polygon` when the
        true study area is known.

        Parameters
        ----------
        x, y
            Event coordinates in the metric CRS.
        cell_m
            Cell side in metres.
        crs
            CRS of the coordinates.
        closing_m
            Radius of the closing, in metres.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.size == 0:
            raise GridError("no events to build a grid from", "import events first")
        pad = cell_m
        grid = cls.from_bounds(
            float(x.min() - pad),
            float(y.min() - pad),
            float(x.max() + pad),
            float(y.max() + pad),
            cell_m=cell_m,
            crs=crs,
        )
        occupied = grid.counts(x, y) > 0
        radius = max(1, round(closing_m / cell_m))
        yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        disk = (xx**2 + yy**2) <= radius**2
        closed = ndimage.binary_closing(occupied, structure=disk, border_value=0)
        mask = ndimage.binary_fill_holes(closed | occupied)
        return grid.with_mask(np.asarray(mask, dtype=bool))

    def with_mask(self, mask: BoolArray | None) -> Grid:
        """Return the same grid with another valid-cell mask."""
        array = None if mask is None else np.asarray(mask, dtype=bool)
        return Grid(self.x0, self.y0, self.cell, self.nx, self.ny, self.crs, array)

    # -- geometry ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.ny, self.nx)

    @property
    def valid(self) -> BoolArray:
        """The valid-cell mask (all True when the grid has none)."""
        if self.mask is None:
            return np.ones((self.ny, self.nx), dtype=bool)
        return self.mask

    @property
    def n_valid(self) -> int:
        """Number of valid cells."""
        return int(self.valid.sum())

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the whole grid."""
        return (
            self.x0,
            self.y0,
            self.x0 + self.nx * self.cell,
            self.y0 + self.ny * self.cell,
        )

    def centres(self) -> tuple[FloatArray, FloatArray]:
        """Cell-centre coordinates as two ``(ny, nx)`` arrays."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.cell
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.cell
        xc, yc = np.meshgrid(xs, ys)
        return xc, yc

    def locate(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, IntArray, BoolArray]:
        """Row, column and inside-the-grid flag of points (rows/cols are -1 outside)."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        col = np.floor((x - self.x0) / self.cell)
        row = np.floor((y - self.y0) / self.cell)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        inside &= np.isfinite(col) & np.isfinite(row)
        col_i = np.where(inside, col, -1).astype(np.int64)
        row_i = np.where(inside, row, -1).astype(np.int64)
        return row_i, col_i, inside

    def flat_index(self, x: FloatArray, y: FloatArray) -> IntArray:
        """Flat cell index ``row * nx + col`` of points; -1 outside the grid."""
        row, col, inside = self.locate(x, y)
        return np.where(inside, row * self.nx + col, -1)

    def counts(
        self, x: FloatArray, y: FloatArray, *, weights: FloatArray | None = None
    ) -> FloatArray:
        """Count (or sum ``weights`` of) points per cell; points off the grid are ignored."""
        flat = self.flat_index(x, y)
        keep = flat >= 0
        w = None if weights is None else np.asarray(weights, dtype=float)[keep]
        total = np.bincount(flat[keep], weights=w, minlength=self.nx * self.ny)
        return total.astype(float).reshape(self.ny, self.nx)

    def cell_polygon(self, row: int, col: int) -> shapely.Polygon:
        """The square of cell ``(row, col)``."""
        x = self.x0 + col * self.cell
        y = self.y0 + row * self.cell
        return shapely.box(x, y, x + self.cell, y + self.cell)

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The grid parameters as JSON-ready values (the mask is saved separately)."""
        return {
            "x0": self.x0,
            "y0": self.y0,
            "cell": self.cell,
            "nx": self.nx,
            "ny": self.ny,
            "crs": self.crs,
            "n_valid": self.n_valid,
            "row0": "south",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, mask: BoolArray | None = None) -> Grid:
        """Rebuild a grid from :meth:`to_dict` output."""
        return cls(
            float(data["x0"]),
            float(data["y0"]),
            float(data["cell"]),
            int(data["nx"]),
            int(data["ny"]),
            str(data["crs"]),
            mask,
        )
