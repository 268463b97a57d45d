"""A short version of ``--validate`` with loose tolerances (the strict one is in the CLI)."""

from __future__ import annotations

from arverne.planning.validate import hypercube_checks, mmc_checks


def test_simulator_close_to_erlang_c() -> None:
    checks = mmc_checks(configs=((2, 1.0),), calls=30_000, seeds=(1, 2), tolerance=0.15)
    assert all(c.passed for c in checks), [(c.name, c.deviation) for c in checks]


def test_simulator_close_to_hypercube() -> None:
    checks = hypercube_checks(configs=((3, 3, 0.5),), calls=30_000, seeds=(1, 2), tolerance=0.05)
    assert len(checks) == 4
    assert all(c.passed for c in checks), [(c.name, c.deviation) for c in checks]
