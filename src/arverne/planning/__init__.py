"""Planning: staffing what-ifs with a dispatch simulator validated against queueing theory.

Pure package (numpy, scipy, pandas, matplotlib; no database, web or settings). Main entry
points:

* :func:`generate_calls` / :func:`replay_calls` — the call stream (common random numbers);
* :func:`simulate` — the discrete-event simulation of one staffing plan;
* :func:`build_report`, :func:`report_json`, :func:`report_html` — the report;
* :func:`fit_inputs_from_calls`, :func:`fit_inputs_from_arrays` — calibration;
* :func:`erlang_c`, :func:`mmc_mean_wait`, :func:`hypercube` — analytic models;
* :func:`run_validation` — simulator vs theory.
"""

from arverne.planning.calibrate import CallColumns, fit_inputs_from_arrays, fit_inputs_from_calls
from arverne.planning.calls import Calls, generate_calls, replay_calls
from arverne.planning.engine import SimulationResult, simulate
from arverne.planning.errors import ImpossibleStaffingError, PlanningInputError
from arverne.planning.html import report_html
from arverne.planning.model import (
    CallType,
    City,
    SimulationConfig,
    SimulationInputs,
    StaffingPlan,
    Unit,
    default_inputs,
    grid_city,
    make_plan,
    validate_scenario,
)
from arverne.planning.queueing import (
    HypercubeResult,
    erlang_b,
    erlang_c,
    hypercube,
    mmc_mean_wait,
    mmc_wait_tail,
)
from arverne.planning.report import build_report, report_json
from arverne.planning.validate import Check, run_validation

__all__ = [
    "CallColumns",
    "CallType",
    "Calls",
    "Check",
    "City",
    "HypercubeResult",
    "ImpossibleStaffingError",
    "PlanningInputError",
    "SimulationConfig",
    "SimulationInputs",
    "SimulationResult",
    "StaffingPlan",
    "Unit",
    "build_report",
    "default_inputs",
    "erlang_b",
    "erlang_c",
    "fit_inputs_from_arrays",
    "fit_inputs_from_calls",
    "generate_calls",
    "grid_city",
    "hypercube",
    "make_plan",
    "mmc_mean_wait",
    "mmc_wait_tail",
    "replay_calls",
    "report_html",
    "report_json",
    "run_validation",
    "simulate",
    "validate_scenario",
]
