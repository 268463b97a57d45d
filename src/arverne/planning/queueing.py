"""Analytic queueing models used to plan staffing and to validate the simulator.

* Erlang B and Erlang C (M/M/c): probability of waiting, mean wait and the waiting-time
  tail, computed with the numerically stable Erlang B recursion (no factorials, no
  overflow for hundreds of servers).
* Larson's hypercube queueing model (Larson 1974), exact, for up to
  :data:`MAX_HYPERCUBE_UNITS` units: the 2^N-state continuous-time Markov chain of which
  units are busy, with a fixed dispatch preference list per atom (geographic zone),
  solved with :mod:`scipy.sparse`.

Hypercube variants
------------------
``queue="infinite"`` (the default, Larson 1974 with the M/M/N queue states appended):
a call that finds every unit busy waits in a FIFO queue and is served by the next unit
to become free. Because the chain restricted to the binary states has the same balance
equations as the lost-call chain (the flow from "all busy" into the queue is returned
by the queue), the binary part is solved once and the queue tail is added in closed
form: ``P(all busy, k waiting) = P(all busy) * r**k`` with ``r = lambda / (N mu)``.
Service rates must then be equal for all units (the M/M/N tail needs it); a queued
call is answered by each unit with probability ``1/N`` (memoryless service) and that
unit travels from its home location.

``queue="lost"`` (zero line capacity): calls arriving when every unit is busy are lost
(sent elsewhere); statistics are over the served calls.

In both variants a unit's busy time is its exponential service time (travel is part of
it, as in Larson's model) and a free unit waits at its home location.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.linalg import spsolve

from arverne.planning.errors import PlanningInputError

MAX_HYPERCUBE_UNITS = 14
F64 = NDArray[np.float64]


def _check_load(servers: int, arrival_rate: float, service_rate: float) -> float:
    if int(servers) != servers or servers < 1:
        raise PlanningInputError("servers", f"got {servers}", "pass a whole number >= 1")
    if not (math.isfinite(arrival_rate) and arrival_rate >= 0):
        raise PlanningInputError(
            "arrival_rate", f"got {arrival_rate}", "pass a finite rate >= 0 (calls per time)"
        )
    if not (math.isfinite(service_rate) and service_rate > 0):
        raise PlanningInputError(
            "service_rate", f"got {service_rate}", "pass a finite rate > 0 (1 / mean service)"
        )
    return arrival_rate / service_rate


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/M/c/c loss system (Erlang B).

    Parameters
    ----------
    servers
        Number of servers ``c``.
    offered_load
        Offered load ``a = lambda / mu`` in erlangs.

    Returns
    -------
    float
        Probability that an arriving call finds every server busy.

    Notes
    -----
    Uses the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, ``B(0) = 1``, which stays
    in [0, 1] and never overflows.
    """
    _check_load(servers, offered_load, 1.0)
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = offered_load * b / (k + offered_load * b)
    return b


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Probability that a call waits in an M/M/c queue (Erlang C).

    Parameters
    ----------
    servers
        Number of servers ``c``.
    arrival_rate
        Poisson arrival rate ``lambda``.
    service_rate
        Exponential service rate ``mu`` of one server (same time unit as the arrivals).

    Returns
    -------
    float
        ``P(W > 0)``; 1.0 when the system is overloaded (``lambda >= c mu``).

    Examples
    --------
    >>> round(erlang_c(2, 1.0, 1.0), 6)
    0.333333
    """
    a = _check_load(servers, arrival_rate, service_rate)
    if a >= servers:
        return 1.0
    b = erlang_b(servers, a)
    return servers * b / (servers - a * (1.0 - b))


def mmc_mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean waiting time in queue ``E[W]`` of an M/M/c system (``inf`` when overloaded).

    Parameters
    ----------
    servers, arrival_rate, service_rate
        As in :func:`erlang_c`.

    Returns
    -------
    float
        ``C(c, a) / (c mu - lambda)`` in the time unit of the rates.
    """
    _check_load(servers, arrival_rate, service_rate)
    spare = servers * service_rate - arrival_rate
    if spare <= 0:
        return math.inf
    return erlang_c(servers, arrival_rate, service_rate) / spare


def mmc_wait_tail(servers: int, arrival_rate: float, service_rate: float, t: ArrayLike) -> F64:
    """Waiting-time tail ``P(W > t)`` of an M/M/c FIFO queue.

    Parameters
    ----------
    servers, arrival_rate, service_rate
        As in :func:`erlang_c`.
    t
        Times (>= 0) at which to evaluate the tail.

    Returns
    -------
    numpy.ndarray
        ``C(c, a) * exp(-(c mu - lambda) t)``, same shape as ``t``.
    """
    times = np.asarray(t, dtype=float)
    if np.any(times < 0):
        raise PlanningInputError("t", "negative times", "pass times >= 0")
    c_prob = erlang_c(servers, arrival_rate, service_rate)
    spare = servers * service_rate - arrival_rate
    if spare <= 0:
        return np.ones_like(times)
    return np.asarray(c_prob * np.exp(-spare * times), dtype=float)


@dataclass(frozen=True)
class HypercubeResult:
    """Steady state of Larson's hypercube model.

    Attributes
    ----------
    state_probabilities
        Probability of each binary state (bit ``i`` set = unit ``i`` busy, no queue).
    p_all_busy
        Probability that an arriving call finds every unit busy (it waits in the
        infinite-queue variant, it is lost in the lost-call variant).
    workloads
        Fraction of time each unit is busy.
    dispatch_fractions
        ``(N, J)``: share of all served calls that come from atom ``j`` and are
        answered by unit ``i``.
    mean_travel_s
        Mean travel time of the answering unit over all served calls.
    mean_travel_by_atom_s
        Mean travel time to calls of each atom.
    queue
        The variant solved, ``"infinite"`` or ``"lost"``.
    """

    state_probabilities: F64
    p_all_busy: float
    workloads: F64
    dispatch_fractions: F64
    mean_travel_s: float
    mean_travel_by_atom_s: F64
    queue: str


def preference_lists(travel_s: ArrayLike) -> NDArray[np.int64]:
    """Dispatch preference of each atom: units by increasing travel time, ties by index.

    Parameters
    ----------
    travel_s
        ``(N, J)`` travel time from each unit's home to each atom.

    Returns
    -------
    numpy.ndarray
        ``(J, N)`` unit indices, the first the most preferred.
    """
    travel = np.asarray(travel_s, dtype=float)
    return np.argsort(travel.T, axis=1, kind="stable").astype(np.int64)


def hypercube(
    travel_s: ArrayLike,
    atom_rates: ArrayLike,
    service_rate: float,
    *,
    queue: Literal["infinite", "lost"] = "infinite",
    preferences: ArrayLike | None = None,
) -> HypercubeResult:
    """Solve Larson's exact hypercube queueing model.

    Parameters
    ----------
    travel_s
        ``(N, J)`` travel time (seconds) from the home location of unit ``i`` to atom
        ``j``; ``N`` at most :data:`MAX_HYPERCUBE_UNITS`.
    atom_rates
        ``(J,)`` Poisson call rate of each atom (calls per second).
    service_rate
        Exponential service rate of every unit (1 / mean busy time, per second).
    queue
        ``"infinite"`` (FIFO queue, M/M/N tail) or ``"lost"`` (zero line capacity).
    preferences
        ``(J, N)`` dispatch preference lists; default: :func:`preference_lists`.

    Returns
    -------
    HypercubeResult
        Per-unit workloads, dispatch fractions and mean travel times.
    """
    travel = np.asarray(travel_s, dtype=float)
    rates = np.asarray(atom_rates, dtype=float)
    if travel.ndim != 2 or rates.shape != (travel.shape[1],):
        raise PlanningInputError(
            "travel_s",
            f"shape {travel.shape} vs atom_rates {rates.shape}",
            "pass travel_s as (units, atoms) and atom_rates as (atoms,)",
        )
    n_units, n_atoms = travel.shape
    if not 1 <= n_units <= MAX_HYPERCUBE_UNITS:
        raise PlanningInputError(
            "travel_s",
            f"{n_units} units",
            f"the exact model handles 1 to {MAX_HYPERCUBE_UNITS} units; use the simulator",
        )
    if np.any(rates < 0) or not np.all(np.isfinite(rates)) or rates.sum() <= 0:
        raise PlanningInputError("atom_rates", "negative, infinite or all zero", "pass rates >= 0")
    if queue not in ("infinite", "lost"):
        raise PlanningInputError("queue", f"got {queue!r}", "pass 'infinite' or 'lost'")
    lam = float(rates.sum())
    _check_load(n_units, lam, service_rate)
    ratio = lam / (n_units * service_rate)
    if queue == "infinite" and ratio >= 1:
        raise PlanningInputError(
            "atom_rates",
            f"offered load {lam / service_rate:.3g} erlangs >= {n_units} units",
            "the infinite-queue model needs lambda < N mu: lower the rates or add units",
        )
    pref = (
        preference_lists(travel) if preferences is None else np.asarray(preferences, dtype=np.int64)
    )
    n_states = 1 << n_units
    states = np.arange(n_states)
    bits = ((states[:, None] >> np.arange(n_units)[None, :]) & 1).astype(bool)  # (S, N)
    full = n_states - 1

    # Upward transitions: atom j's call goes to the first free unit of its list.
    busy_pref = bits[:, pref]  # (S, J, N)
    first = np.argmax(~busy_pref, axis=2)  # position in the list
    chosen = np.take_along_axis(
        np.broadcast_to(pref, (*busy_pref.shape[:2], n_units)), first[:, :, None], axis=2
    )[:, :, 0]  # (S, J) unit index
    open_states = states[states != full]
    up_from = np.repeat(open_states, n_atoms)
    up_unit = chosen[open_states].ravel()
    up_to = up_from | (1 << up_unit)
    up_rate = np.tile(rates, open_states.size)
    # Downward transitions: each busy unit completes at rate mu.
    s_idx, u_idx = np.nonzero(bits)
    down_to = s_idx & ~(1 << u_idx)
    rows = np.concatenate([up_from, s_idx])
    cols = np.concatenate([up_to, down_to])
    vals = np.concatenate([up_rate, np.full(s_idx.size, float(service_rate))])
    q = sp.coo_matrix((vals, (rows, cols)), shape=(n_states, n_states)).tocsr()
    q = q - sp.diags(np.asarray(q.sum(axis=1)).ravel())
    a = q.T.tolil()
    a[full, :] = np.ones(n_states)  # replace one balance equation by the normalisation
    rhs = np.zeros(n_states)
    rhs[full] = 1.0
    pi = np.asarray(spsolve(a.tocsc(), rhs), dtype=float)
    pi = np.clip(pi, 0.0, None)
    pi /= pi.sum()

    share = rates / lam
    if queue == "infinite":
        queue_mass = pi[full] * ratio / (1.0 - ratio)
        total = 1.0 + queue_mass
        pi_bin = pi / total
        p_all_busy = (pi[full] + queue_mass) / total
        workloads = bits.T.astype(float) @ pi_bin + queue_mass / total
    else:
        pi_bin = pi
        p_all_busy = float(pi[full])
        workloads = bits.T.astype(float) @ pi_bin
    fractions = np.zeros((n_units, n_atoms))
    open_p = pi_bin[open_states]
    np.add.at(
        fractions,
        (up_unit, np.tile(np.arange(n_atoms), open_states.size)),
        np.repeat(open_p, n_atoms) * np.tile(share, open_states.size),
    )
    if queue == "infinite":
        fractions += p_all_busy * share[None, :] / n_units
    else:
        fractions /= 1.0 - p_all_busy
    per_atom = (fractions * travel).sum(axis=0) / np.where(share > 0, share, 1.0)
    return HypercubeResult(
        state_probabilities=pi_bin,
        p_all_busy=float(p_all_busy),
        workloads=np.asarray(workloads, dtype=float),
        dispatch_fractions=fractions,
        mean_travel_s=float((fractions * travel).sum()),
        mean_travel_by_atom_s=per_atom,
        queue=queue,
    )
