"""Turn OSM highway ways into the drive and walk :class:`~arverne.geo.graph.RoadGraph`.

Rules:

* **drive**: motorway .. residential, living streets, service roads (not parking aisles or
  driveways), without ``access=no/private`` or ``motor_vehicle=no``. Directions follow
  ``oneway=yes/true/1`` (forward only), ``oneway=-1/reverse`` (backward only),
  ``oneway=no`` (both); roundabouts and motorways are oneway unless tagged otherwise.
* **walk**: every footway, path, pedestrian street, steps and road except motorways and
  trunks, without ``foot=no``, plus cycleways and platforms tagged ``foot=yes`` or
  ``designated``; pedestrians ignore oneways.

Ways are split at every node shared with another kept way (and at both ends), so graph
nodes are junctions and dead ends while intermediate points become link geometry. Each
graph is then cut down to its largest strongly connected component, so that every node
can reach every other one (a dead-end spur entered by a oneway would otherwise trap
routes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from arverne.geo.crs import Projector
from arverne.geo.graph import RoadGraph
from arverne.geo.osm_read import HighwayWay
from arverne.geo.speeds import drive_speed_kmh, walk_speed_kmh

DRIVE_CLASSES = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
        "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
        "residential", "living_street", "service", "road",
    }
)  # fmt: skip
WALK_CLASSES = frozenset(
    (DRIVE_CLASSES - {"motorway", "motorway_link", "trunk", "trunk_link"})
    | {"pedestrian", "footway", "path", "steps", "track", "corridor", "bridleway"}
)
_FOOT_IF_TAGGED = frozenset({"cycleway", "platform"})
_EXCLUDED_SERVICE = frozenset({"parking_aisle", "driveway", "drive-through"})
_CLOSED_ACCESS = frozenset({"no", "private"})
_OPEN_ACCESS = frozenset({"yes", "designated", "permissive", "destination"})
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_TWO_WAY = frozenset({"no", "false", "0", "reversible", "alternating"})


def is_drivable(tags: Mapping[str, str]) -> bool:
    """Tell whether a highway way is open to cars (see the module docstring)."""
    if tags.get("highway") not in DRIVE_CLASSES or tags.get("area") == "yes":
        return False
    if tags.get("service") in _EXCLUDED_SERVICE:
        return False
    for key in ("motorcar", "motor_vehicle", "vehicle"):
        value = tags.get(key)
        if value in _CLOSED_ACCESS:
            return False
        if value in _OPEN_ACCESS:
            return True
    return tags.get("access") not in _CLOSED_ACCESS


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Tell whether a highway way is open to pedestrians (see the module docstring)."""
    foot = tags.get("foot")
    if tags.get("area") == "yes":
        return False
    if tags.get("highway") not in WALK_CLASSES:
        # Shared cycle paths and platforms (common in Nordic cities) when foot is allowed.
        return tags.get("highway") in _FOOT_IF_TAGGED and foot in _OPEN_ACCESS
    if foot in _CLOSED_ACCESS:
        return False
    return foot in _OPEN_ACCESS or tags.get("access") not in _CLOSED_ACCESS


def drive_directions(tags: Mapping[str, str]) -> tuple[bool, bool]:
    """Return (forward allowed, backward allowed) for cars on a way.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    tuple of bool
        Forward means the order of the way's nodes.
    """
    oneway = tags.get("oneway", "").strip().lower()
    if oneway in _ONEWAY_FORWARD:
        return True, False
    if oneway in _ONEWAY_BACKWARD:
        return False, True
    if oneway in _TWO_WAY:
        return True, True
    if tags.get("junction") in ("roundabout", "circular"):
        return True, False
    if tags.get("highway") in ("motorway", "motorway_link"):
        return True, False
    return True, True


class NameTable:
    """Street names shared by both graphs; id 0 is the empty name (unnamed street)."""

    def __init__(self) -> None:
        self.names: list[str] = [""]
        self._ids: dict[str, int] = {"": 0}

    def id(self, name: str) -> int:
        """Return the id of ``name``, adding it on first sight."""
        found = self._ids.get(name)
        if found is None:
            found = len(self.names)
            self._ids[name] = found
            self.names.append(name)
        return found


def _way_attributes(
    ways: Sequence[HighwayWay], mode: str, names: NameTable
) -> tuple[NDArray[np.int32], list[str], NDArray[np.bool_], NDArray[np.float64]]:
    """Per way: name id, highway class, direction flags (n, 2) and speeds (n, 2)."""
    name_ids = np.array([names.id(w.tags.get("name", "").strip()) for w in ways], np.int32)
    classes = [w.tags.get("highway", "") for w in ways]
    directions = np.ones((len(ways), 2), dtype=bool)
    speeds = np.empty((len(ways), 2), dtype=np.float64)
    for i, way in enumerate(ways):
        if mode == "drive":
            directions[i] = drive_directions(way.tags)
            speeds[i, 0] = drive_speed_kmh(way.tags, forward=True)
            speeds[i, 1] = drive_speed_kmh(way.tags, forward=False)
        else:
            speeds[i] = walk_speed_kmh(classes[i])
    return name_ids, classes, directions, speeds


def _split_points(ways: Sequence[HighwayWay]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Global positions of link starts and ends after splitting ways at shared nodes."""
    sizes = np.array([w.refs.size for w in ways], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    refs = np.concatenate([w.refs for w in ways])
    _, inverse, counts = np.unique(refs, return_inverse=True, return_counts=True)
    split = counts[inverse] >= 2
    split[starts] = True
    split[starts + sizes - 1] = True
    closed = np.array([w.refs[0] == w.refs[-1] and w.refs.size >= 3 for w in ways])
    split[starts[closed] + (sizes[closed] - 1) // 2] = True
    positions = np.flatnonzero(split)
    way_of = np.repeat(np.arange(len(ways)), sizes)
    same_way = way_of[positions[:-1]] == way_of[positions[1:]]
    return positions[:-1][same_way], positions[1:][same_way]


def _largest_scc(
    n_nodes: int, arc_u: NDArray[np.int64], arc_v: NDArray[np.int64]
) -> NDArray[np.bool_]:
    graph = csr_matrix(
        (np.ones(arc_u.size, dtype=np.int8), (arc_u, arc_v)), shape=(n_nodes, n_nodes)
    )
    _, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels)
    keep: NDArray[np.bool_] = labels == int(np.argmax(sizes))
    return keep


def build_graph(
    ways: Sequence[HighwayWay],
    *,
    mode: str,
    projector: Projector,
    names: NameTable,
) -> RoadGraph | None:
    """Build the graph of one mode from highway ways.

    Parameters
    ----------
    ways
        Highway ways read from OSM.
    mode
        ``"drive"`` or ``"walk"``.
    projector
        Converter to the pack's metric CRS.
    names
        Shared street-name table (updated in place).

    Returns
    -------
    RoadGraph or None
        The largest strongly connected component, or None when no way fits the mode.
    """
    keep_way: Callable[[Mapping[str, str]], bool] = is_drivable if mode == "drive" else is_walkable
    kept = [w for w in ways if keep_way(w.tags)]
    if not kept:
        return None
    refs = np.concatenate([w.refs for w in kept])
    lon = np.concatenate([w.lon for w in kept])
    lat = np.concatenate([w.lat for w in kept])
    x, y = projector.to_metric(lon, lat)
    starts, ends = _split_points(kept)
    loops = refs[starts] == refs[ends]
    starts, ends = starts[~loops], ends[~loops]
    sizes = np.array([w.refs.size for w in kept], dtype=np.int64)
    link_way = np.repeat(np.arange(len(kept)), sizes)[starts]

    step = np.hypot(np.diff(x), np.diff(y))
    cumulative = np.concatenate([[0.0], np.cumsum(step)])
    link_length = cumulative[ends] - cumulative[starts]

    node_refs, first_pos = np.unique(np.concatenate([refs[starts], refs[ends]]), return_index=True)
    all_pos = np.concatenate([starts, ends])[first_pos]
    link_u = np.searchsorted(node_refs, refs[starts])
    link_v = np.searchsorted(node_refs, refs[ends])

    name_ids, classes, directions, speeds = _way_attributes(kept, mode, names)
    fwd = directions[link_way, 0]
    bwd = directions[link_way, 1]
    arc_u = np.concatenate([link_u[fwd], link_v[bwd]])
    arc_v = np.concatenate([link_v[fwd], link_u[bwd]])
    in_scc = _largest_scc(node_refs.size, arc_u, arc_v)

    keep_link = in_scc[link_u] & in_scc[link_v] & (fwd | bwd)
    new_index = np.cumsum(in_scc) - 1
    starts, ends, link_way = starts[keep_link], ends[keep_link], link_way[keep_link]
    link_u, link_v = new_index[link_u[keep_link]], new_index[link_v[keep_link]]
    link_length, fwd, bwd = link_length[keep_link], fwd[keep_link], bwd[keep_link]

    points = ends - starts + 1
    geom_ptr = np.concatenate([[0], np.cumsum(points)]).astype(np.int64)
    point_index = np.repeat(starts - geom_ptr[:-1], points) + np.arange(int(geom_ptr[-1]))

    class_names = np.array(sorted(set(classes)), dtype=np.str_)
    class_of_way = np.searchsorted(class_names, np.array(classes, dtype=np.str_))

    n_links = starts.size
    link_ids = np.arange(n_links, dtype=np.int32)
    fwd_links, bwd_links = link_ids[fwd], link_ids[bwd]
    arc_link = np.concatenate([fwd_links, bwd_links])
    arc_forward = np.concatenate([np.ones(fwd_links.size, bool), np.zeros(bwd_links.size, bool)])
    arc_speed = np.where(arc_forward, speeds[link_way[arc_link], 0], speeds[link_way[arc_link], 1])
    arc_length = link_length[arc_link]
    link_fwd_arc = np.full(n_links, -1, dtype=np.int32)
    link_bwd_arc = np.full(n_links, -1, dtype=np.int32)
    link_fwd_arc[fwd_links] = np.arange(fwd_links.size, dtype=np.int32)
    link_bwd_arc[bwd_links] = np.arange(fwd_links.size, arc_link.size, dtype=np.int32)

    node_pos = all_pos[in_scc]
    return RoadGraph(
        mode=mode,
        highway_classes=class_names,
        node_osm_id=node_refs[in_scc].astype(np.int64),
        node_lon=lon[node_pos],
        node_lat=lat[node_pos],
        node_x=x[node_pos],
        node_y=y[node_pos],
        link_u=link_u.astype(np.int32),
        link_v=link_v.astype(np.int32),
        link_length_m=link_length,
        link_name_id=name_ids[link_way],
        link_highway_id=class_of_way[link_way].astype(np.int16),
        link_geom_ptr=geom_ptr,
        link_fwd_arc=link_fwd_arc,
        link_bwd_arc=link_bwd_arc,
        geom_lon=lon[point_index],
        geom_lat=lat[point_index],
        geom_x=x[point_index],
        geom_y=y[point_index],
        arc_u=np.where(arc_forward, link_u[arc_link], link_v[arc_link]).astype(np.int32),
        arc_v=np.where(arc_forward, link_v[arc_link], link_u[arc_link]).astype(np.int32),
        arc_link=arc_link,
        arc_forward=arc_forward,
        arc_length_m=arc_length,
        arc_speed_kmh=arc_speed,
        arc_travel_time_s=arc_length / (arc_speed / 3.6),
    )
