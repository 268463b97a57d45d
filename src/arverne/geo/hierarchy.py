"""Core contraction hierarchy for fast many-to-one travel times on the drive graph.

Why: "which of these 200 units reaches this point first" must answer in a few
milliseconds on a 50k-node city. A plain one-to-all Dijkstra explores the whole graph
(200 random origins are spread over all of it), so early exit saves little; measured on
a 50k-node graph, scipy's Dijkstra takes about 4 ms, networkx about 200 ms.

How (a *core-based* contraction hierarchy, Geisberger et al. 2008 and Bauer et al. 2010):

1. **Build** (once, in ``build_pack``): contract the least important 95 % of the nodes in
   the usual edge-difference order, adding a shortcut ``u -> w`` when a local witness
   search finds no path as short as ``u -> v -> w``. The remaining 5 % form the *core*,
   which keeps its original arcs plus shortcuts. For every node store its upward search
   space (forward and backward), which stops at core nodes: on average a few dozen
   (node, time, length) entries.
2. **Query** (many origins, one target): seed every core node with the target's backward
   search space, run one Dijkstra over the reversed core graph (scipy, in C), then each
   origin's answer is the minimum over its forward search space of
   ``time to that node + time from that node to the target``. All of it is vectorised.

Witness searches are limited (settled nodes), which can only add unnecessary shortcuts,
never wrong distances: the answers are exact.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from arverne.geo.graph import MIN_ARC_TIME_S, RoadGraph

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
_UNREACHED = 1e12
_SHIFT_S = 1.0  # keeps super-source arcs non-zero (csgraph drops zero weights)

Adjacency = list[dict[int, tuple[float, float]]]


@dataclass(eq=False)
class Hierarchy:
    """Search spaces and core graph of a core contraction hierarchy (see module docstring)."""

    is_core: NDArray[np.bool_]
    fwd_ptr: I64
    fwd_node: NDArray[np.int32]
    fwd_time_s: F64
    fwd_length_m: NDArray[np.float32]
    bwd_ptr: I64
    bwd_node: NDArray[np.int32]
    bwd_time_s: F64
    bwd_length_m: NDArray[np.float32]
    core_src: NDArray[np.int32]
    core_dst: NDArray[np.int32]
    core_time_s: F64
    core_length_m: F64

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._core_matrix: sp.csr_matrix | None = None

    def save(self, path: Path) -> None:
        """Write the hierarchy as an uncompressed ``.npz``."""
        with path.open("wb") as handle:
            np.savez(handle, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> Hierarchy:
        """Read a hierarchy written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})

    @property
    def core_nodes(self) -> NDArray[np.int64]:
        """Graph indices of the core nodes."""
        return np.flatnonzero(self.is_core)

    def _prepare_core(self) -> None:
        """Build the query structures once (under the lock)."""
        core = self.core_nodes
        n_core = core.size
        # Reversed core graph plus a super source (index n_core) linked to every core node.
        rows = np.concatenate([self.core_dst, np.full(n_core, n_core)])
        cols = np.concatenate([self.core_src, np.arange(n_core)])
        times = np.concatenate([np.maximum(self.core_time_s, MIN_ARC_TIME_S), np.ones(n_core)])
        order = np.lexsort((cols, rows))
        rows, cols, times = rows[order], cols[order], times[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_core + 1))])
        self._core = core
        self._super_slice = slice(int(indptr[n_core]), int(indptr[n_core + 1]))
        self._core_matrix = sp.csr_matrix(
            (times, cols.astype(np.int32), indptr), shape=(n_core + 1, n_core + 1)
        )

    def _core_search(self, offset_time: F64, offset_length: F64) -> tuple[F64, F64]:
        """Times and lengths from every core node to the target, given seeds per core node."""
        with self._lock:
            matrix = self._core_matrix
            assert matrix is not None, "distances_to prepares the core graph"
            n_core = matrix.shape[0] - 1
            seeds = np.where(np.isfinite(offset_time), offset_time + _SHIFT_S, _UNREACHED)
            matrix.data[self._super_slice] = seeds
            # The limit keeps unseeded core nodes (seed _UNREACHED) off the heap.
            dist, pred = dijkstra(
                matrix, indices=n_core, return_predecessors=True, limit=_UNREACHED / 2
            )
        dist = dist[:n_core] - _SHIFT_S
        pred = pred[:n_core].astype(np.int64)
        # Node c continues to pred[c]: its step is the core arc c -> pred[c] (one per pair).
        step = np.where(pred == n_core, offset_length, 0.0)
        used = np.flatnonzero(pred[self.core_src] == self.core_dst)
        inner = self.core_src[used]
        step[inner] = self.core_length_m[used]
        # Roots (seeded from the target) and unreached nodes point to a sentinel at n_core.
        parent = np.full(n_core + 1, n_core)
        parent[inner] = pred[inner]
        length = _sum_along_tree(np.append(step, 0.0), parent)[:n_core]
        dist[dist >= _UNREACHED / 2] = np.inf
        return dist, length

    def distances_to(
        self,
        target_nodes: I64,
        target_time_s: F64,
        target_length_m: F64,
        source_nodes: I64,
    ) -> tuple[F64, F64]:
        """Fastest travel time (and its length) from each source node to a target point.

        Parameters
        ----------
        target_nodes
            Graph nodes from which the target point is entered (one or two).
        target_time_s, target_length_m
            Time and distance from each of those nodes to the target point.
        source_nodes
            Graph nodes to measure from.

        Returns
        -------
        tuple of numpy.ndarray
            ``travel_time_s`` and ``distance_m`` per source node (inf when unreachable).
        """
        n = self.is_core.size
        best_time = np.full(n, np.inf)
        best_length = np.full(n, np.inf)
        for node, t_off, l_off in zip(target_nodes, target_time_s, target_length_m, strict=True):
            start, end = int(self.bwd_ptr[node]), int(self.bwd_ptr[node + 1])
            nodes = self.bwd_node[start:end]
            times = self.bwd_time_s[start:end] + t_off
            better = times < best_time[nodes]
            best_time[nodes[better]] = times[better]
            best_length[nodes[better]] = self.bwd_length_m[start:end][better] + l_off
        with self._lock:
            if self._core_matrix is None:
                self._prepare_core()
        core = self._core
        core_time, core_length = self._core_search(best_time[core], best_length[core])
        better = core_time < best_time[core]
        best_time[core[better]] = core_time[better]
        best_length[core[better]] = core_length[better]

        sources = np.asarray(source_nodes, dtype=np.int64)
        if sources.size == 0:
            return np.zeros(0), np.zeros(0)
        starts, ends = self.fwd_ptr[sources], self.fwd_ptr[sources + 1]
        sizes = ends - starts  # >= 1: a search space holds its own source
        group_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        index = np.repeat(starts - group_start, sizes) + np.arange(int(sizes.sum()))
        # np.take: faster than fancy indexing for these gathers.
        via = np.take(self.fwd_node, index)
        time = np.take(self.fwd_time_s, index) + np.take(best_time, via)
        best = np.minimum.reduceat(time, group_start)
        group = np.repeat(np.arange(sources.size), sizes)
        hits = np.flatnonzero(time == best[group])
        first = hits[np.concatenate([[True], group[hits[1:]] != group[hits[:-1]]])]
        length = self.fwd_length_m[index[first]].astype(np.float64) + best_length[via[first]]
        return best, length


def _sum_along_tree(step: F64, parent: I64) -> F64:
    """Sum ``step`` from each node up to the root (pointer jumping, log depth).

    The last node is the root: its step is 0 and it is its own parent, as are the nodes
    with nothing above them.
    """
    total = step.copy()
    root = parent.size - 1
    while not (parent == root).all():
        total += total[parent]
        parent = parent[parent]
    return total


def _adjacency(graph: RoadGraph) -> tuple[Adjacency, Adjacency]:
    _, arcs = graph.best_arc
    out: Adjacency = [{} for _ in range(graph.n_nodes)]
    into: Adjacency = [{} for _ in range(graph.n_nodes)]
    times = np.maximum(graph.arc_travel_time_s[arcs], MIN_ARC_TIME_S).tolist()
    lengths = graph.arc_length_m[arcs].tolist()
    for u, v, t, length in zip(
        graph.arc_u[arcs].tolist(), graph.arc_v[arcs].tolist(), times, lengths, strict=True
    ):
        if u != v:
            out[u][v] = (t, length)
            into[v][u] = (t, length)
    return out, into


class _Contractor:
    """Node contraction with limited witness searches (pure Python, run once per pack)."""

    def __init__(self, out: Adjacency, into: Adjacency, settle_limit: int) -> None:
        self.out, self.into = out, into
        self.done = bytearray(len(out))
        self.deleted = [0] * len(out)
        self.settle_limit = settle_limit

    def _witness(self, source: int, skip: int, limit: float, targets: set[int]) -> dict[int, float]:
        dist = {source: 0.0}
        heap = [(0.0, source)]
        settled = 0
        out, done = self.out, self.done
        while heap and targets and settled < self.settle_limit:
            d, x = heapq.heappop(heap)
            if d > dist[x]:
                continue
            if d > limit:
                break
            targets.discard(x)
            settled += 1
            for y, (t, _) in out[x].items():
                if y == skip or done[y]:
                    continue
                nd = d + t
                if nd < dist.get(y, math.inf):
                    dist[y] = nd
                    heapq.heappush(heap, (nd, y))
        return dist

    def shortcuts(self, v: int) -> list[tuple[int, int, float, float]]:
        found: list[tuple[int, int, float, float]] = []
        done = self.done
        outs = [(w, t, n) for w, (t, n) in self.out[v].items() if not done[w]]
        for u, (tu, lu) in self.into[v].items():
            if done[u]:
                continue
            wanted = [(w, tu + t, lu + n) for w, t, n in outs if w != u]
            if not wanted:
                continue
            limit = max(c[1] for c in wanted)
            dist = self._witness(u, v, limit, {c[0] for c in wanted})
            found.extend((u, w, t, n) for w, t, n in wanted if dist.get(w, math.inf) > t)
        return found

    def priority(self, v: int) -> tuple[int, list[tuple[int, int, float, float]]]:
        cuts = self.shortcuts(v)
        degree = sum(1 for w in self.out[v] if not self.done[w])
        degree += sum(1 for u in self.into[v] if not self.done[u])
        return len(cuts) - degree + self.deleted[v], cuts

    def contract(self, v: int, cuts: list[tuple[int, int, float, float]]) -> None:
        for u, w, t, n in cuts:
            if t < self.out[u].get(w, (math.inf, 0.0))[0]:
                self.out[u][w] = (t, n)
                self.into[w][u] = (t, n)
        self.done[v] = 1
        for w in (*self.out[v], *self.into[v]):
            self.deleted[w] += 1


def _search_spaces(
    adj: Adjacency, rank: NDArray[np.int64], is_core: NDArray[np.bool_]
) -> tuple[I64, NDArray[np.int32], F64, NDArray[np.float32]]:
    ptr = [0]
    nodes: list[int] = []
    times: list[float] = []
    lengths: list[float] = []
    rank_list = rank.tolist()
    core_list = is_core.tolist()
    for source in range(len(adj)):
        best = {source: (0.0, 0.0)}
        heap = [(0.0, 0.0, source)]
        settled: dict[int, tuple[float, float]] = {}
        while heap:
            t, n, x = heapq.heappop(heap)
            if x in settled:
                continue
            settled[x] = (t, n)
            if core_list[x]:
                continue
            rx = rank_list[x]
            for y, (ty, ny) in adj[x].items():
                if rank_list[y] > rx and t + ty < best.get(y, (math.inf, 0.0))[0]:
                    best[y] = (t + ty, n + ny)
                    heapq.heappush(heap, (t + ty, n + ny, y))
        nodes.extend(settled)
        for t, n in settled.values():
            times.append(t)
            lengths.append(n)
        ptr.append(len(nodes))
    return (
        np.asarray(ptr, dtype=np.int64),
        np.asarray(nodes, dtype=np.int32),
        np.asarray(times, dtype=np.float64),
        np.asarray(lengths, dtype=np.float32),
    )


def build_hierarchy(
    graph: RoadGraph,
    *,
    core_fraction: float = 0.05,
    settle_limit: int = 60,
    progress: Callable[[float], None] | None = None,
) -> Hierarchy:
    """Contract a road graph into a core contraction hierarchy.

    Parameters
    ----------
    graph
        The (strongly connected) drive graph.
    core_fraction
        Share of the nodes left uncontracted; 0.05 is a good trade-off between the size of
        the search spaces, the time of the core search and the build time (measured on a
        45k-node city: 0.1 gives 1.5 ms per 200-origin query, 0.05 1.1 ms, 0.03 1.0 ms
        but twice the build time).
    settle_limit
        Nodes settled by each witness search before giving up (adds a shortcut).
    progress
        Called with the fraction of nodes contracted so far.

    Returns
    -------
    Hierarchy
        Ready for :meth:`Hierarchy.distances_to`.
    """
    if not 0.0 < core_fraction <= 1.0:
        raise ValueError(f"core_fraction={core_fraction} must be in (0, 1]; 0.05 is a good value")
    out, into = _adjacency(graph)
    n = graph.n_nodes
    worker = _Contractor(out, into, settle_limit)
    heap = [(worker.priority(v)[0], v) for v in range(n)]
    heapq.heapify(heap)
    to_contract = n - max(1, math.ceil(core_fraction * n))
    rank = np.full(n, n, dtype=np.int64)
    count = 0
    while heap and count < to_contract:
        _, v = heapq.heappop(heap)
        priority, cuts = worker.priority(v)
        if heap and priority > heap[0][0]:
            heapq.heappush(heap, (priority, v))
            continue
        worker.contract(v, cuts)
        rank[v] = count
        count += 1
        if progress is not None and count % 2000 == 0:
            progress(count / max(to_contract, 1))
    is_core = rank == n
    fwd = _search_spaces(out, rank, is_core)
    bwd = _search_spaces(into, rank, is_core)
    core_src: list[int] = []
    core_dst: list[int] = []
    core_time: list[float] = []
    core_length: list[float] = []
    core_index = np.cumsum(is_core) - 1
    for c in np.flatnonzero(is_core).tolist():
        for w, (t, length) in out[c].items():
            if is_core[w]:
                core_src.append(int(core_index[c]))
                core_dst.append(int(core_index[w]))
                core_time.append(t)
                core_length.append(length)
    if progress is not None:
        progress(1.0)
    return Hierarchy(
        is_core=is_core,
        fwd_ptr=fwd[0],
        fwd_node=fwd[1],
        fwd_time_s=fwd[2],
        fwd_length_m=fwd[3],
        bwd_ptr=bwd[0],
        bwd_node=bwd[1],
        bwd_time_s=bwd[2],
        bwd_length_m=bwd[3],
        core_src=np.asarray(core_src, dtype=np.int32),
        core_dst=np.asarray(core_dst, dtype=np.int32),
        core_time_s=np.asarray(core_time, dtype=np.float64),
        core_length_m=np.asarray(core_length, dtype=np.float64),
    )
