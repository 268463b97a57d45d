"""Street layout of the generated demo city (metric Lambert-93 coordinates).

The layout imitates Clermont-Ferrand's shape: an irregular old centre of concentric
streets on the hill around the cathedral, crossed by radial lanes; an inner ring of
boulevards; radial avenues to the edges; outer ring roads; residential grids between the
radials (each oriented along its sector, with gaps, parks and dead ends); and the
bastide grid of Montferrand. Everything comes from one seeded random generator, so a
seed gives the same city every time.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.geometry
from numpy.typing import NDArray
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from shapely.ops import substring

from arverne.geo import demo_data as data
from arverne.geo.crs import LAMBERT_93, Projector

BASE_EXTENT = (3.05, 45.75, 3.15, 45.81)
CATHEDRAL = (3.0869, 45.7789)
JAUDE = (3.0825, 45.7772)
VICTOIRE = (3.0865, 45.7776)
MONTFERRAND = (3.1160, 45.7990)
CENTRE_RADII_M = (90.0, 160.0, 235.0, 310.0, 390.0, 470.0, 560.0)
CONNECTORS = (6, 10, 14, 18, 22, 26, 30)
OUTER_RING_M = 2300.0
F64 = NDArray[np.float64]


@dataclass
class Street:
    """One generated street: metric polyline, name and OSM tags."""

    xy: F64
    name: str
    tags: dict[str, str]
    trim: bool = False
    addresses: bool = True
    extra: dict[str, str] = field(default_factory=dict)


class NamePool:
    """Unique generated street names (real eponyms and themes first, then invented)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()
        self._invented = 0

    def reserve(self, name: str) -> str:
        """Mark a real name as used and return it."""
        self.used.add(name)
        return name

    def take(self, kind: str = "Rue") -> str:
        """Return an unused name of the given type ("Rue", "Allée", "Impasse" ...)."""
        for _ in range(40):
            if self.rng.random() < 0.55:
                part = str(self.rng.choice(data.EPONYMS))
            else:
                part = str(self.rng.choice(data.THEMES))
            name = f"{kind} {part}"
            if name not in self.used:
                return self.reserve(name)
        for _ in range(40):
            first = str(self.rng.choice(data.FIRST_NAMES))
            last = str(self.rng.choice(data.SURNAMES))
            name = f"{kind} {first}-{last}"
            if name not in self.used:
                return self.reserve(name)
        # Large generated cities exhaust the combinations: number the street instead.
        while True:
            self._invented += 1
            name = f"{kind} {self.rng.choice(data.SURNAMES)} {self._invented}"
            if name not in self.used:
                return self.reserve(name)


def densify(xy: F64, step_m: float) -> F64:
    """Insert points so that no segment is longer than ``step_m``."""
    out = [xy[:1]]
    for a, b in itertools.pairwise(xy):
        n = max(1, math.ceil(float(np.hypot(*(b - a))) / step_m))
        t = np.linspace(0, 1, n + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out)


def wiggle(xy: F64, rng: np.random.Generator, *, step_m: float, amplitude_m: float) -> F64:
    """Densify a polyline and bend it smoothly sideways (keeps both ends in place)."""
    dense = densify(xy, step_m)
    if dense.shape[0] < 3 or amplitude_m <= 0:
        return dense
    seg = np.hypot(*np.diff(dense, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    offset = np.zeros_like(s)
    for _ in range(3):
        wavelength = rng.uniform(300.0, 1200.0)
        offset += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * s / wavelength + rng.uniform(0, 6.3))
    offset *= amplitude_m / 2.0 * np.sin(np.pi * s / total)
    tangent = np.gradient(dense, axis=0)
    norm = np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]]) / np.maximum(norm, 1e-9)
    result: F64 = dense + normal * offset[:, None]
    return result


def ring(
    centre: F64,
    a_m: float,
    b_m: float,
    *,
    rotation: float,
    noise: float,
    rng: np.random.Generator,
    step_m: float,
) -> tuple[F64, F64]:
    """Closed noisy ellipse; returns points (closed) and their angles around ``centre``."""
    n = max(12, int(2 * np.pi * max(a_m, b_m) / step_m))
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    harmonics = sum(
        rng.uniform(-noise, noise) * np.cos(k * theta + rng.uniform(0, 6.3)) for k in (2, 3, 5)
    )
    x = a_m * np.cos(theta) * (1 + harmonics)
    y = b_m * np.sin(theta) * (1 + harmonics)
    c, s = np.cos(rotation), np.sin(rotation)
    xy = np.column_stack([x * c - y * s, x * s + y * c]) + centre
    angles = np.mod(np.arctan2(xy[:, 1] - centre[1], xy[:, 0] - centre[0]), 2 * np.pi)
    return np.vstack([xy, xy[:1]]), np.concatenate([angles, angles[:1]])


def radius_at(ring_xy: F64, centre: F64, angle: float) -> float:
    """Distance from ``centre`` to a ring along a direction (ray intersection)."""
    far = centre + 1e5 * np.array([math.cos(angle), math.sin(angle)])
    hit = shapely.intersection(shapely.LineString(ring_xy), shapely.LineString([centre, far]))
    points = shapely.get_coordinates(hit)
    if points.size == 0:
        return float(np.hypot(*(ring_xy[0] - centre)))
    return float(np.max(np.hypot(points[:, 0] - centre[0], points[:, 1] - centre[1])))


def split_ring(xy: F64, names: list[str], rng: np.random.Generator) -> list[F64]:
    """Cut a closed ring into ``len(names)`` consecutive arcs."""
    n = xy.shape[0] - 1
    cuts = np.sort(rng.choice(np.arange(n), size=len(names), replace=False))
    arcs = []
    for i, start in enumerate(cuts):
        end = cuts[(i + 1) % len(cuts)]
        index = (
            np.arange(start, end + 1)
            if end > start
            else np.r_[np.arange(start, n + 1), np.arange(1, end + 1)]
        )
        arcs.append(xy[index])
    return arcs


class Layout:
    """Generate the streets of the demo city.

    Parameters
    ----------
    seed
        Random seed: the same seed gives the same city.
    scale
        Area multiplier of the base extent (lon 3.05-3.15, lat 45.75-45.81); the benchmark
        uses about 10 to get more than 50,000 drive nodes.
    """

    def __init__(self, seed: int, scale: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.projector = Projector(LAMBERT_93)
        self.names = NamePool(self.rng)
        self.streets: list[Street] = []
        cx, cy = self.projector.to_metric(CATHEDRAL[0], CATHEDRAL[1])
        self.centre = np.array([float(cx), float(cy)])
        x0, y0 = self.projector.to_metric(BASE_EXTENT[0], BASE_EXTENT[1])
        x1, y1 = self.projector.to_metric(BASE_EXTENT[2], BASE_EXTENT[3])
        width, height = float(x1) - float(x0), float(y1) - float(y0)
        mid_x, mid_y = float(x0) + width / 2, float(y0) + height / 2
        half = math.sqrt(scale) / 2
        self.box: BaseGeometry = shapely.geometry.box(
            mid_x - width * half, mid_y - height * half, mid_x + width * half, mid_y + height * half
        )
        self.voids: list[BaseGeometry] = []

    def point(self, lonlat: tuple[float, float]) -> F64:
        """Metric coordinates of a WGS84 point."""
        x, y = self.projector.to_metric(lonlat[0], lonlat[1])
        return np.array([float(x), float(y)])

    def add(self, xy: F64, name: str, highway: str, **tags: str | bool) -> None:
        """Add a street clipped to the city box (pieces shorter than 20 m are dropped)."""
        trim = bool(tags.pop("trim", False))
        addresses = bool(tags.pop("addresses", True))
        clipped = shapely.intersection(shapely.LineString(xy), self.box)
        for part in shapely.get_parts(clipped):
            if part.geom_type == "LineString" and part.length >= 20.0:
                base = {"highway": highway, "name": name}
                base.update({k.replace("_", ":"): str(v) for k, v in tags.items()})
                self.streets.append(
                    Street(shapely.get_coordinates(part), name, base, trim, addresses)
                )

    def generate(self) -> list[Street]:
        """Build every part of the city and return the streets."""
        rings = self._old_centre()
        inner = self._inner_ring()
        self._connectors([*rings, inner])
        self._squares()
        angles = self._radials(rings[-2])
        self._outer_rings()
        self._montferrand()
        self._voids()
        self._grids(angles, inner)
        return self.streets

    def _old_centre(self) -> list[F64]:
        rings = []
        for i, radius in enumerate(CENTRE_RADII_M):
            xy, _ = ring(
                self.centre,
                radius,
                radius * 0.92,
                rotation=0.3,
                noise=0.05,
                rng=self.rng,
                step_m=28.0,
            )
            rings.append(xy)
            names = (
                list(data.OLD_CENTRE_RINGS[i])
                if i < len(data.OLD_CENTRE_RINGS)
                else [self.names.take("Rue") for _ in range(6)]
            )
            for name in names:
                self.names.reserve(name)
            for k, arc in enumerate(split_ring(xy, names, self.rng)):
                oneway = "yes" if (i % 2 == 1 and k % 2 == 0) else "no"
                last = i == len(CENTRE_RADII_M) - 1
                klass = "tertiary" if last else "residential"
                speed = "50" if last else "30"
                self.add(
                    arc,
                    names[k],
                    klass,
                    oneway=oneway,
                    maxspeed=speed,
                    zone_maxspeed="FR:urban" if last else "FR:30",
                )
        for name, degrees in data.CENTRE_AXES:
            angle = math.radians(degrees)
            start = self.centre + 40.0 * np.array([math.cos(angle), math.sin(angle)])
            end = self.centre + (CENTRE_RADII_M[-1] + 8.0) * np.array(
                [math.cos(angle), math.sin(angle)]
            )
            xy = wiggle(np.array([start, end]), self.rng, step_m=25.0, amplitude_m=10.0)
            klass = "pedestrian" if name == "Rue des Gras" else "residential"
            self.add(xy, self.names.reserve(name), klass, maxspeed="30", oneway="no")
        return rings

    def _inner_ring(self) -> F64:
        xy, _ = ring(
            self.centre, 760.0, 640.0, rotation=0.35, noise=0.04, rng=self.rng, step_m=40.0
        )
        names = [self.names.reserve(n) for n in data.INNER_BOULEVARDS]
        for arc, name in zip(split_ring(xy, names, self.rng), names, strict=True):
            self.add(arc, name, "primary", maxspeed="50")
        return xy

    def _connectors(self, rings: list[F64]) -> None:
        axes = [math.radians(d) for _, d in data.CENTRE_AXES]
        for i, (inner, outer) in enumerate(itertools.pairwise(rings)):
            for _ in range(CONNECTORS[i]):
                angle = self.rng.uniform(0, 2 * math.pi)
                if min(abs(math.remainder(angle - a, 2 * math.pi)) for a in axes) < 0.08:
                    continue
                r0 = radius_at(inner, self.centre, angle) - 8.0
                drift = angle + self.rng.normal(0, 0.06)
                r1 = radius_at(outer, self.centre, drift) + 8.0
                xy = np.array(
                    [
                        self.centre + r0 * np.array([math.cos(angle), math.sin(angle)]),
                        self.centre + r1 * np.array([math.cos(drift), math.sin(drift)]),
                    ]
                )
                xy = wiggle(xy, self.rng, step_m=30.0, amplitude_m=6.0)
                oneway = str(self.rng.choice(["no", "no", "yes", "-1"]))
                self.add(
                    xy,
                    self.names.take("Rue"),
                    "residential",
                    oneway=oneway,
                    maxspeed="30",
                    trim=True,
                )

    def _squares(self) -> None:
        jaude = self.point(JAUDE)
        half_w, half_h = 45.0, 140.0
        loop = jaude + np.array(
            [
                [-half_w, -half_h],
                [half_w, -half_h],
                [half_w, half_h],
                [-half_w, half_h],
                [-half_w, -half_h],
            ]
        )
        self.add(
            densify(loop, 30.0),
            self.names.reserve("Place de Jaude"),
            "tertiary",
            oneway="yes",
            maxspeed="30",
        )
        towards = self.point(VICTOIRE) - self.centre
        towards /= float(np.hypot(*towards))
        across = np.array([self.centre + 80.0 * towards, self.centre + 245.0 * towards])
        self.add(across, self.names.reserve("Place de la Victoire"), "living_street")

    def _radials(self, start_ring: F64) -> list[float]:
        angles = []
        reach = float(np.hypot(*(np.array(self.box.bounds[2:]) - np.array(self.box.bounds[:2]))))
        for name, degrees, klass, speed in data.RADIALS:
            angle = math.radians(degrees)
            r0 = radius_at(start_ring, self.centre, angle) - 8.0
            bend = self.rng.normal(0, 0.05)
            points = [
                self.centre
                + r
                * np.array([math.cos(angle + bend * r / reach), math.sin(angle + bend * r / reach)])
                for r in np.linspace(r0, reach, 12)
            ]
            xy = wiggle(np.array(points), self.rng, step_m=45.0, amplitude_m=25.0)
            self.add(xy, self.names.reserve(name), klass, maxspeed=speed)
            angles.append(angle)
        return sorted(a % (2 * math.pi) for a in angles)

    def _outer_rings(self) -> None:
        reach = float(np.hypot(*(np.array(self.box.bounds[2:]) - np.array(self.box.bounds[:2]))))
        k = 1
        while OUTER_RING_M * k < reach / 2:
            radius = OUTER_RING_M * k
            xy, _ = ring(
                self.centre + np.array([500.0, 300.0]),
                radius * 1.1,
                radius * 0.9,
                rotation=0.2,
                noise=0.05,
                rng=self.rng,
                step_m=60.0,
            )
            if k == 1:
                names = [self.names.reserve(n) for n in data.OUTER_BOULEVARDS]
            else:
                names = [self.names.take("Boulevard") for _ in range(6)]
            for arc, name in zip(split_ring(xy, names, self.rng), names, strict=True):
                self.add(arc, name, "primary", maxspeed="70")
            k += 1

    def _montferrand(self) -> None:
        centre = self.point(MONTFERRAND)
        self.voids.append(shapely.Point(centre).buffer(400.0))
        disc = shapely.Point(centre).buffer(330.0)
        angle = math.radians(8.0)
        u = np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        names = iter(data.MONTFERRAND_STREETS)
        for direction, across in ((u, v), (v, u)):
            for offset in np.arange(-300.0, 301.0, 62.0):
                line = shapely.LineString(
                    [
                        centre + across * offset - direction * 400,
                        centre + across * offset + direction * 400,
                    ]
                )
                part = shapely.intersection(line, disc)
                if part.length < 40.0:
                    continue
                name = next(names, None) or self.names.take("Rue")
                self.add(
                    shapely.get_coordinates(part),
                    self.names.reserve(name),
                    "residential",
                    maxspeed="30",
                    zone_maxspeed="FR:30",
                )
        xy, _ = ring(centre, 360.0, 350.0, rotation=0.0, noise=0.02, rng=self.rng, step_m=30)
        self.add(xy, self.names.take("Boulevard"), "tertiary", maxspeed="50")

    def _voids(self) -> None:
        for lonlat, radius in (((3.0890, 45.7720), 150.0), ((3.1164, 45.7887), 170.0)):
            self.voids.append(shapely.Point(self.point(lonlat)).buffer(radius))
        minx, miny, maxx, maxy = self.box.bounds
        count = int(6 * self.box.area / 6.0e7) + 4
        for _ in range(count):
            at = np.array([self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)])
            if np.hypot(*(at - self.centre)) > 1200.0:
                self.voids.append(shapely.Point(at).buffer(self.rng.uniform(120.0, 300.0)))

    def _grids(self, angles: list[float], inner: F64) -> None:
        inner_area = shapely.Polygon(inner).buffer(-20.0)
        blocked = shapely.union_all([inner_area, *self.voids])
        reach = float(np.hypot(*(np.array(self.box.bounds[2:]) - np.array(self.box.bounds[:2]))))
        for a, b in itertools.pairwise([*angles, angles[0] + 2 * math.pi]):
            arc = np.linspace(a, b, 24)
            sector = shapely.Polygon(
                [self.centre, *(self.centre + reach * np.column_stack([np.cos(arc), np.sin(arc)]))]
            ).buffer(45.0)
            area: BaseGeometry = sector.intersection(self.box).difference(blocked)
            if area.is_empty:
                continue
            self._grid(area, (a + b) / 2 + self.rng.normal(0, 0.12))

    def _grid(self, area: BaseGeometry, angle: float) -> None:
        u = np.array([math.cos(angle), math.sin(angle)])
        v = np.array([-u[1], u[0]])
        c = np.array(shapely.centroid(area).coords[0])
        minx, miny, maxx, maxy = area.bounds
        half = float(np.hypot(maxx - minx, maxy - miny))
        for direction, across, spacing in ((u, v, (90.0, 140.0)), (v, u, (100.0, 150.0))):
            offset = -half
            count = 0
            while offset < half:
                offset += self.rng.uniform(*spacing)
                count += 1
                line = np.array(
                    [c + across * offset - direction * half, c + across * offset + direction * half]
                )
                part = shapely.intersection(shapely.LineString(line), area)
                for piece in shapely.get_parts(part):
                    if isinstance(piece, LineString) and piece.length > 60.0:
                        self._grid_street(piece, collector=count % 5 == 0)

    def _grid_street(self, piece: LineString, *, collector: bool) -> None:
        xy = shapely.get_coordinates(piece)
        length = float(piece.length)
        if not collector and length > 600.0 and self.rng.random() < 0.3:
            cut = self.rng.uniform(0.3, 0.6) * length
            gap = self.rng.uniform(90.0, 200.0)
            for lo, hi in ((0.0, cut), (cut + gap, length)):
                sub = substring(piece, lo, hi)
                if isinstance(sub, LineString) and sub.length > 60.0:
                    self._grid_street(sub, collector=False)
            return
        xy = wiggle(xy, self.rng, step_m=60.0, amplitude_m=4.0)
        if collector:
            self.add(xy, self.names.take("Avenue"), "tertiary", maxspeed="50", trim=True)
        else:
            oneway = "yes" if self.rng.random() < 0.08 else "no"
            tags: dict[str, str | bool] = {"oneway": oneway, "trim": True}
            if self.rng.random() < 0.3:
                tags["zone_maxspeed"] = "FR:30"
            kind = "Allée" if length < 250 and self.rng.random() < 0.3 else "Rue"
            self.add(xy, self.names.take(kind), "residential", **tags)
        if self.rng.random() < 0.07 and length > 150:
            self._impasse(xy)

    def _impasse(self, xy: F64) -> None:
        i = int(self.rng.integers(1, xy.shape[0] - 1)) if xy.shape[0] > 2 else 0
        a = xy[i]
        direction = xy[min(i + 1, xy.shape[0] - 1)] - xy[max(i - 1, 0)]
        normal = np.array([-direction[1], direction[0]]) / max(float(np.hypot(*direction)), 1e-9)
        side = 1.0 if self.rng.random() < 0.5 else -1.0
        end = a + side * normal * self.rng.uniform(45.0, 80.0)
        self.add(np.array([a, end]), self.names.take("Impasse"), "residential", oneway="no")
