"""Errors raised by the planning package; each subclasses a builtin and says what to fix.

The CLI turns them into a one-line message and exit code 2 before a run starts. Every
message names the argument (or CLI option) at fault and the change that would fix it.
"""

from __future__ import annotations


class PlanningInputError(ValueError):
    """An input of the simulator or of a queueing model cannot be used.

    Parameters
    ----------
    option
        The argument or CLI option at fault, e.g. ``"--units"`` or ``"rates_per_hour"``.
    problem
        What is wrong with the value.
    fix
        What the caller should do instead.
    """

    def __init__(self, option: str, problem: str, fix: str) -> None:
        self.option = option
        self.problem = problem
        self.fix = fix
        super().__init__(f"{option}: {problem}; {fix}")


class ImpossibleStaffingError(PlanningInputError):
    """No unit of a staffing plan can serve some call type (missing capabilities)."""
