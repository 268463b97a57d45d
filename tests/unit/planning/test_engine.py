"""The event loop on tiny hand-checked scenarios: travel, queueing, priorities, preemption."""

from __future__ import annotations

import numpy as np
import pytest

from arverne.planning import (
    CallType,
    City,
    ImpossibleStaffingError,
    PlanningInputError,
    SimulationConfig,
    SimulationInputs,
    make_plan,
    simulate,
)
from arverne.planning.calls import Calls
from arverne.planning.engine import SimulationResult

TYPES = (
    CallType("violence", 1, 600.0),
    CallType("disturbance", 2, 600.0),
    CallType("theft", 3, 600.0),
    CallType("admin", 4, 600.0),
)
INPUTS = SimulationInputs(TYPES, np.full((24, 4), 0.1))
CITY = City(
    "two zones",
    np.array([[60.0, 300.0], [300.0, 60.0]]),
    np.array([0, 1]),
    ("north", "south"),
    np.array([0.5, 0.5]),
)


def run(
    rows: list[tuple[float, int, int, float]],
    *,
    n_units: int = 1,
    homes: list[int] | None = None,
    **config: object,
) -> SimulationResult:
    """Simulate explicit calls given as (time, type, zone, on-scene seconds)."""
    arr = np.array(rows, dtype=float)
    calls = Calls(arr[:, 0], arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64), arr[:, 3])
    plan = make_plan(CITY, n_units, homes=homes or [0] * n_units)
    settings = {"days": 1.0, "after_service": "stay", **config}
    return simulate(calls, INPUTS, CITY, plan, SimulationConfig(**settings))  # type: ignore[arg-type]


def test_travel_and_fifo_queue_by_hand() -> None:
    res = run([(0.0, 2, 1, 1000.0), (100.0, 2, 0, 500.0)])
    # call 0: travel 300 -> on scene 300, clear 1300 (unit stays in zone 1)
    # call 1: waits until 1300, travel 1 -> 0 = 300 -> on scene 1600, clear 2100
    assert res.onscene_s.tolist() == [300.0, 1600.0]
    assert res.dispatch_s.tolist() == [0.0, 1300.0]
    assert res.completed_s.tolist() == [1300.0, 2100.0]
    assert res.unit_busy_s[0] == pytest.approx(2100.0)
    assert res.queue_len.tolist() == [0, 1, 0]


def test_after_service_return_and_instant() -> None:
    rows = [(0.0, 2, 1, 1000.0), (1400.0, 2, 0, 100.0)]
    # return: clears at 1300, drives home (300 s) -> still away at 1400: travel from zone 1
    assert run(rows, after_service="return").onscene_s[1] == pytest.approx(1700.0)
    # instant: back home at once -> travel 60
    assert run(rows, after_service="instant").onscene_s[1] == pytest.approx(1460.0)
    # after reaching home (t >= 1600) the unit leaves from home
    late = [(0.0, 2, 1, 1000.0), (1700.0, 2, 0, 100.0)]
    assert run(late, after_service="return").onscene_s[1] == pytest.approx(1760.0)


def test_queue_serves_priority_then_fifo() -> None:
    rows = [
        (0.0, 2, 0, 1000.0),  # occupies the only unit until 1060
        (10.0, 2, 0, 100.0),  # P3 queued first
        (20.0, 1, 0, 100.0),  # P2 queued later but more urgent
        (30.0, 2, 0, 100.0),  # P3, after the first P3
    ]
    res = run(rows)
    order = np.argsort(res.dispatch_s[1:]).tolist()
    assert order == [1, 0, 2]  # P2, then the P3s in arrival order


def test_queueing_when_all_units_busy() -> None:
    rows = [(0.0, 2, 0, 500.0), (0.0, 2, 0, 700.0), (5.0, 2, 0, 100.0)]
    res = run(rows, n_units=2)
    # third call waits for the first unit to clear at 60 + 500
    assert res.dispatch_s[2] == pytest.approx(560.0)
    assert res.responder[2] == 0
    assert res.queue_len.max() == 1


def test_p1_preempts_p4_on_scene_which_resumes_later() -> None:
    rows = [(0.0, 3, 0, 1000.0), (500.0, 0, 1, 200.0)]
    res = run(rows)
    # P4 reached at 60 (kept as its response), preempted at 500 with 560 s left
    # P1: travel 0 -> 1 = 300, on scene 800, clear 1000; then P4 again: 300 + 560
    assert res.onscene_s.tolist() == [60.0, 800.0]
    assert res.preemptions.tolist() == [1, 0]
    assert res.completed_s.tolist() == [1860.0, 1000.0]
    assert res.unit_dispatches[0] == 3


def test_p1_preempts_unit_en_route() -> None:
    rows = [(0.0, 3, 1, 100.0), (100.0, 0, 0, 200.0)]
    res = run(rows)
    # P4 unit en route (arrival planned at 300) is diverted: P4 not reached yet
    # P1 from zone 1 (destination) -> 300 s -> on scene 400, clear 600
    # P4 redispatched at 600 from zone 0 -> zone 1: 300 s -> first arrival 900
    assert res.onscene_s.tolist() == [900.0, 400.0]
    assert res.travel_s[0] == 300.0
    assert res.completed_s[0] == pytest.approx(1000.0)


def test_no_preemption_of_p2() -> None:
    res = run([(0.0, 1, 0, 1000.0), (500.0, 0, 1, 200.0)])
    assert res.preemptions.sum() == 0
    assert res.dispatch_s[1] == pytest.approx(1060.0)


def test_nearest_and_beat_policies() -> None:
    rows = [(0.0, 2, 1, 100.0), (1.0, 2, 1, 100.0)]
    res = run(rows, n_units=2, homes=[0, 1])
    assert res.responder.tolist() == [1, 0]  # nearest: the unit of zone 1 first
    # 3 units, beats: zone 0 -> home 0, zone 1 -> home 1; unit 2 also lives in zone 1
    res_beat = run([(0.0, 2, 0, 100.0)], n_units=3, homes=[1, 1, 0], policy="beat")
    assert res_beat.responder.tolist() == [2]


def test_interrupt_gives_partial_result() -> None:
    rows = [(float(t), 2, 0, 50.0) for t in range(0, 80_000, 10)]
    arr = np.array(rows)
    calls = Calls(arr[:, 0], arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64), arr[:, 3])

    def stop(share: float) -> None:
        if share < 1.0:
            raise KeyboardInterrupt

    res = simulate(
        calls, INPUTS, CITY, make_plan(CITY, 3), SimulationConfig(days=1.0), progress=stop
    )
    assert res.partial
    assert np.isnan(res.onscene_s[-1])
    assert res.end_s < 80_000


def test_bad_input_before_the_run() -> None:
    dog = SimulationInputs(
        (CallType("search", 2, 600.0, required=frozenset({"dog"})),), np.ones((24, 1))
    )
    calls = Calls(np.zeros(1), np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1))
    plan = make_plan(CITY, 2)
    with pytest.raises(ImpossibleStaffingError, match="dog"):
        simulate(calls, dog, CITY, plan, SimulationConfig(days=1.0))
    negative = SimulationInputs(TYPES, np.full((24, 4), -1.0))
    with pytest.raises(PlanningInputError, match="--rate"):
        simulate(calls, negative, CITY, plan, SimulationConfig(days=1.0))
    with pytest.raises(PlanningInputError, match="--policy"):
        simulate(calls, INPUTS, CITY, plan, SimulationConfig(days=1.0, policy="random"))  # type: ignore[arg-type]
    with pytest.raises(PlanningInputError, match="--units"):
        make_plan(CITY, 0)
