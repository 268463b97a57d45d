"""Discrete-event simulation of dispatch: calls, queue, priorities, preemption, travel.

The event list holds only unit completions (a heap keyed by time and a sequence
number); call arrivals are already sorted (:mod:`arverne.planning.calls`) and are merged
with the heap, so the heap stays as small as the number of units. A completion and an
arrival at the same instant: the completion is handled first.

Rules of the model
------------------
* A call goes to a free unit that has every capability its type requires, chosen by the
  policy (``nearest``: shortest travel time from the unit's position; ``beat``: a unit
  of the call's beat first, then the nearest). Ties go to the lowest unit index.
* With no suitable free unit, a call of a preempting priority (P1 by default) takes the
  unit of a preemptible call (P3/P4): the lowest-priority such call, then the nearest.
  The displaced call goes back to the queue keeping its place (original call time) and
  the on-scene work it still needs; a call whose unit was still en route is "not yet
  reached" and its response time is measured when a unit finally arrives.
* Otherwise the call waits. The queue is served by priority, then first come first
  served (original call time), by the first unit that frees up and can serve it.
* A unit is busy from dispatch until the end of its on-scene time (``travel_in_busy``)
  or for the on-scene time only (Larson's convention, for validation).
* After a call: see :class:`arverne.planning.model.SimulationConfig` ``after_service``.
  A busy unit's position is taken to be its call's zone (an en-route unit that is
  preempted is diverted as if from its destination).
* Ctrl-C (``KeyboardInterrupt``) stops the loop and returns what was simulated so far
  with ``partial=True``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from arverne.planning.calls import Calls
from arverne.planning.model import (
    CallType,
    City,
    SimulationConfig,
    SimulationInputs,
    StaffingPlan,
    validate_scenario,
    zone_beats,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class SimulationResult:
    """Raw outcome of one run (one staffing plan on one call stream).

    Per-call arrays are aligned with ``calls``; times are seconds from the start.

    Attributes
    ----------
    dispatch_s
        Time of the first dispatch (NaN if never dispatched).
    onscene_s
        Time the first unit arrived (NaN if never reached).
    travel_s
        Travel time of the first unit that arrived.
    completed_s
        Time the call was cleared (NaN if not).
    preemptions
        Times each call lost its unit to a more urgent call.
    unit_busy_s
        Busy time of each unit inside ``[warmup, min(end, horizon)]``.
    unit_dispatches
        Dispatches per unit.
    queue_t_s, queue_len
        Queue length after each change (a step function starting at 0).
    end_s
        Simulated time reached (the last event, or the interruption time).
    partial
        True when the run was interrupted.
    """

    plan: StaffingPlan
    config: SimulationConfig
    call_types: tuple[CallType, ...]
    calls: Calls
    dispatch_s: F64
    onscene_s: F64
    travel_s: F64
    completed_s: F64
    responder: I64
    preemptions: I64
    unit_busy_s: F64
    unit_dispatches: I64
    queue_t_s: F64
    queue_len: I64
    end_s: float
    partial: bool

    @property
    def priority(self) -> I64:
        """Priority of each call."""
        prio = np.array([c.priority for c in self.call_types], dtype=np.int64)
        return prio[self.calls.type_idx]

    @property
    def measured_s(self) -> float:
        """Length of the measured window ``[warmup, min(end, horizon)]``."""
        return max(min(self.end_s, self.config.horizon_s) - self.config.warmup_s, 0.0)


def simulate(
    calls: Calls,
    inputs: SimulationInputs,
    city: City,
    plan: StaffingPlan,
    config: SimulationConfig,
    *,
    progress: ProgressCallback | None = None,
) -> SimulationResult:
    """Run the dispatch simulation of ``plan`` on ``calls``.

    Parameters
    ----------
    calls
        The call stream (:func:`arverne.planning.calls.generate_calls`); reuse the same
        object for every plan to compare them on common random numbers.
    inputs
        Call types (priorities, capabilities).
    city
        Travel times and districts.
    plan
        Units and their homes.
    config
        Policy, targets, preemption rules, horizon.
    progress
        Called now and then with the share of the horizon simulated (0..1).

    Returns
    -------
    SimulationResult
        Raw per-call and per-unit outcomes; :func:`arverne.planning.report.summarise`
        turns them into the report.
    """
    validate_scenario(inputs, city, plan, config)
    types = inputs.call_types
    units = plan.units
    n_units = len(units)
    n_calls = len(calls)
    horizon = config.horizon_s
    warmup = config.warmup_s
    travel_mat = city.travel_s
    travel_to = np.ascontiguousarray(travel_mat.T)  # travel_to[z] = travel from all zones to z
    type_prio = [c.priority for c in types]
    capable = np.array([[c.required <= u.capabilities for u in units] for c in types], dtype=bool)
    serve_types = [
        sorted((k for k in range(len(types)) if capable[k, u]), key=lambda k: type_prio[k])
        for u in range(n_units)
    ]
    all_capable = [bool(v) for v in np.asarray(capable.all(axis=1)).tolist()]
    lut = np.zeros(max(type_prio) + 2, dtype=bool)
    for p in config.preemptible:
        if 0 < p < lut.size:
            lut[p] = True
    preempting = frozenset(config.preempting)
    zone_beat, unit_beat_home = zone_beats(city, plan)
    unit_beat = zone_beat[unit_beat_home]
    beat_policy = config.policy == "beat"
    mode = config.after_service
    travel_in_busy = config.travel_in_busy

    home = plan.homes
    home_l = home.tolist()
    loc = home.copy()
    back_at = np.zeros(n_units)
    free = np.ones(n_units, dtype=bool)
    busy_prio = np.zeros(n_units, dtype=np.int64)
    unit_call = [-1] * n_units
    unit_start = [0.0] * n_units
    unit_arrive = [0.0] * n_units
    unit_end = [0.0] * n_units
    token = [0] * n_units
    busy = [0.0] * n_units
    n_dispatch = [0] * n_units

    c_time = calls.time_s.tolist()
    c_type = calls.type_idx.tolist()
    c_zone = calls.zone.tolist()
    remaining = calls.service_s.tolist()
    nan = math.nan
    dispatch_t = [nan] * n_calls
    onscene_t = [nan] * n_calls
    travel_t = [nan] * n_calls
    done_t = [nan] * n_calls
    responder = [-1] * n_calls
    n_pre = [0] * n_calls

    heap: list[tuple[float, int, int, int]] = []
    queues: list[list[int]] = [[] for _ in types]
    q_t: list[float] = [0.0]
    q_n: list[int] = [0]
    state = {"n_free": n_units, "qlen": 0, "seq": 0}

    def add_busy(u: int, start: float, end: float) -> None:
        lo = start if start > warmup else warmup
        hi = end if end < horizon else horizon
        if hi > lo:
            busy[u] += hi - lo

    def origins(t: float) -> I64:
        if mode == "return":
            return np.where(back_at <= t, home, loc)
        return loc

    def choose(c: int, t: float) -> tuple[int, float]:
        k = c_type[c]
        cand: NDArray[np.bool_]
        if all_capable[k]:
            cand = free
        else:
            cand = free & capable[k]
            if not cand.any():
                return -1, 0.0
        z = c_zone[c]
        tt = travel_to[z][origins(t)]
        if beat_policy:
            own = cand & (unit_beat == zone_beat[z])
            if own.any():
                cand = own
        u = int(np.where(cand, tt, np.inf).argmin())
        return u, float(tt[u])

    def dispatch(u: int, c: int, t: float, trip: float) -> None:
        arrive = t + trip
        if dispatch_t[c] != dispatch_t[c]:
            dispatch_t[c] = t
        if onscene_t[c] != onscene_t[c]:
            onscene_t[c] = arrive
            travel_t[c] = trip
            responder[c] = u
        end = (arrive if travel_in_busy else t) + remaining[c]
        free[u] = False
        state["n_free"] -= 1
        loc[u] = c_zone[c]
        busy_prio[u] = type_prio[c_type[c]]
        unit_call[u] = c
        unit_start[u] = t
        unit_arrive[u] = arrive
        unit_end[u] = end
        token[u] += 1
        n_dispatch[u] += 1
        state["seq"] += 1
        heapq.heappush(heap, (end, state["seq"], u, token[u]))

    def enqueue(c: int, t: float) -> None:
        heapq.heappush(queues[c_type[c]], c)
        state["qlen"] += 1
        q_t.append(t)
        q_n.append(state["qlen"])

    def pop_for(u: int, t: float) -> int:
        best_k = -1
        best_key = (0, 0)
        for k in serve_types[u]:
            q = queues[k]
            if q and (best_k < 0 or (type_prio[k], q[0]) < best_key):
                best_k, best_key = k, (type_prio[k], q[0])
        if best_k < 0:
            return -1
        state["qlen"] -= 1
        q_t.append(t)
        q_n.append(state["qlen"])
        return heapq.heappop(queues[best_k])

    def assign_or_queue(c: int, t: float) -> None:
        if state["n_free"]:
            u, trip = choose(c, t)
            if u >= 0:
                dispatch(u, c, t, trip)
                return
        if type_prio[c_type[c]] in preempting and preempt(c, t):
            return
        enqueue(c, t)

    def preempt(c: int, t: float) -> bool:
        victims = capable[c_type[c]] & lut[busy_prio] & ~free
        if not victims.any():
            return False
        victims &= busy_prio == busy_prio[victims].max()
        tt = travel_to[c_zone[c]][loc]
        u = int(np.argmin(np.where(victims, tt, np.inf)))
        v = unit_call[u]
        add_busy(u, unit_start[u], t)
        if t < unit_arrive[u]:
            if onscene_t[v] > t:  # not reached yet: forget the planned arrival
                onscene_t[v] = travel_t[v] = nan
                responder[v] = -1
            if not travel_in_busy:
                remaining[v] = unit_end[u] - t
        else:
            remaining[v] = unit_end[u] - t
        n_pre[v] += 1
        token[u] += 1  # cancels the pending completion
        free[u] = True
        state["n_free"] += 1
        busy_prio[u] = 0
        dispatch(u, c, t, float(tt[u]))
        assign_or_queue(v, t)
        return True

    def complete(u: int, t: float) -> None:
        c = unit_call[u]
        add_busy(u, unit_start[u], t)
        done_t[c] = t
        unit_call[u] = -1
        busy_prio[u] = 0
        free[u] = True
        state["n_free"] += 1
        here = int(loc[u])
        if mode == "instant":
            loc[u] = home_l[u]
            here = home_l[u]
        elif mode == "return":
            back_at[u] = t + travel_mat[here, home_l[u]]
        if state["qlen"]:
            nxt = pop_for(u, t)
            if nxt >= 0:
                dispatch(u, nxt, t, float(travel_mat[here, c_zone[nxt]]))

    partial = False
    now = 0.0
    i = 0
    step = 4096
    try:
        while True:
            next_arrival = c_time[i] if i < n_calls else math.inf
            if heap and heap[0][0] <= next_arrival:
                end, _, u, tok = heapq.heappop(heap)
                if tok == token[u]:
                    now = end
                    complete(u, end)
            elif i < n_calls:
                now = next_arrival
                assign_or_queue(i, now)
                i += 1
                if progress is not None and i % step == 0:
                    progress(min(now / horizon, 1.0))
            else:
                break
    except KeyboardInterrupt:
        partial = True
        for u in range(n_units):
            if not free[u]:
                add_busy(u, unit_start[u], now)
    if progress is not None:
        progress(1.0)
    return SimulationResult(
        plan=plan,
        config=config,
        call_types=types,
        calls=calls,
        dispatch_s=np.array(dispatch_t),
        onscene_s=np.array(onscene_t),
        travel_s=np.array(travel_t),
        completed_s=np.array(done_t),
        responder=np.array(responder, dtype=np.int64),
        preemptions=np.array(n_pre, dtype=np.int64),
        unit_busy_s=np.array(busy),
        unit_dispatches=np.array(n_dispatch, dtype=np.int64),
        queue_t_s=np.array(q_t),
        queue_len=np.array(q_n, dtype=np.int64),
        end_s=now,
        partial=partial,
    )
