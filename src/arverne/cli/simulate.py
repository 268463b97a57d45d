"""``arverne simulate``: offline dispatch simulation, staffing comparison, validation.

``--out REPORT`` writes ``REPORT.json`` and ``REPORT.html`` (a ``.json`` or ``.html``
suffix given to ``--out`` is dropped first: ``--out run.json`` also writes ``run.json``
and ``run.html``). Bad input exits with code 2 before the run starts; a failed
``--validate`` tolerance exits with 1; Ctrl-C writes a partial report (marked
``"partial": true``) and exits with 130.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from arverne.cli._common import console, fail
from arverne.planning import (
    CallColumns,
    Calls,
    PlanningInputError,
    SimulationConfig,
    SimulationInputs,
    build_report,
    default_inputs,
    fit_inputs_from_calls,
    generate_calls,
    grid_city,
    make_plan,
    replay_calls,
    report_html,
    report_json,
    run_validation,
    simulate,
    validate_scenario,
)
from arverne.planning.calibrate import replay_times, type_indices
from arverne.planning.engine import SimulationResult
from arverne.planning.model import AFTER_SERVICE, POLICIES, City, StaffingPlan
from arverne.planning.validate import Check

INTERRUPTED = 130


def _key_values(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise fail(f"{option}: {item!r} is not KEY=VALUE; e.g. {option} violence=dog")
        out[key.strip()] = value.strip()
    return out


def _targets(items: list[str] | None) -> dict[int, float | None]:
    targets: dict[int, float | None] = {1: 600.0, 2: 1200.0, 3: 3600.0, 4: None}
    for key, value in _key_values(items, "--target").items():
        if not (key.upper().startswith("P") and key[1:].isdigit()):
            raise fail(f"--target: {key!r} is not a priority; use P1=600 (seconds)")
        try:
            seconds = None if value.lower() == "none" else float(value)
        except ValueError as exc:
            raise fail(f"--target: {value!r} is not a number of seconds; e.g. P1=600") from exc
        if seconds is not None and seconds <= 0:
            raise fail(f"--target: {key}={value} must be positive seconds or 'none'")
        targets[int(key[1:])] = seconds
    return targets


def _load_inputs(
    calls_file: Path | None, columns: CallColumns | None, rate: float | None
) -> tuple[SimulationInputs, pd.DataFrame | None]:
    if rate is not None and rate < 0:
        raise fail(f"--rate: got {rate}; pass a positive number of calls per day (e.g. 420)")
    if calls_file is None:
        return default_inputs(rate if rate is not None else 420.0), None
    if columns is None:
        raise fail("--time-col: required with --calls; name the column holding call times")
    try:
        frame = pd.read_csv(calls_file, low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise fail(
            f"--calls {calls_file}: the file is empty; pass a CSV with one row per call"
        ) from exc
    except (OSError, ValueError) as exc:
        raise fail(f"--calls {calls_file}: cannot be read as CSV ({exc})") from exc
    inputs = fit_inputs_from_calls(frame, columns)
    if rate is not None:
        inputs = inputs.scaled(rate)
    return inputs, frame


def _city(city_pack: Path | None, zones: int, grid_side: int) -> City:
    """The demo/real city from a pack (road travel times), else a generated grid."""
    if city_pack is None:
        return grid_city(side=grid_side)
    from arverne.geo.errors import CityPackError
    from arverne.geo.pack import load_pack
    from arverne.planning.from_pack import city_from_pack

    try:
        pack = load_pack(city_pack)
    except (CityPackError, OSError) as exc:
        raise fail(f"--city {city_pack}: {exc}") from exc
    try:
        return city_from_pack(pack, zones=zones)
    except PlanningInputError as exc:
        raise fail(str(exc)) from exc


def _history_inputs(days: float) -> SimulationInputs:
    """Fit arrivals and on-scene times from the platform's own incidents."""
    import datetime as dt

    from arverne.analysis.service import call_history
    from arverne.cli._common import db_session, load_settings
    from arverne.planning.calibrate import fit_inputs_from_arrays

    if days <= 0:
        raise fail(f"--history: got {days:g}; pass a positive number of days")
    settings = load_settings()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with db_session(settings) as session:
        frame = call_history(session, since=since, time_zone=settings.time_zone)
    if frame.empty:
        raise fail(f"--history: no incident in the last {days:g} days; import or record some first")
    return fit_inputs_from_arrays(
        call_time=frame["call_time"].to_numpy(),
        call_type=frame["call_type"].to_numpy(),
        priority=frame["priority"].to_numpy(),
        onscene_s=frame["onscene_s"].to_numpy(),
    )


def _with_requirements(inputs: SimulationInputs, require: dict[str, str]) -> SimulationInputs:
    names = {c.name for c in inputs.call_types}
    unknown = sorted(set(require) - names)
    if unknown:
        raise fail(
            f"--require: unknown call type(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(names))}"
        )
    types = tuple(
        replace(c, required=c.required | frozenset(require[c.name].split("+")))
        if c.name in require
        else c
        for c in inputs.call_types
    )
    return replace(inputs, call_types=types)


def _plan(city: City, n_units: int, special: dict[str, str], name: str) -> StaffingPlan:
    caps = [{"patrol"} for _ in range(n_units)]
    start = 0
    for capability, count in special.items():
        if not count.isdigit():
            raise fail(f"--unit-capability: {capability}={count} needs a whole number of units")
        for k in range(start, min(start + int(count), n_units)):
            caps[k].add(capability)
        start += int(count)
    return make_plan(city, n_units, name=name, capabilities=[frozenset(c) for c in caps])


def _print_checks(checks: list[Check]) -> None:
    table = Table(title="Simulator vs queueing theory")
    for column in ("check", "model", "simulation", "95 % CI", "deviation", "tolerance", ""):
        table.add_column(column, justify="left" if column == "check" else "right")
    for c in checks:
        table.add_row(
            c.name,
            f"{c.model:.4g}",
            f"{c.simulated:.4g}",
            f"[{c.ci_low:.4g}, {c.ci_high:.4g}]",
            f"{c.deviation:+.2%}",
            f"±{c.tolerance:.0%}",
            "[green]ok[/]" if c.passed else "[bold red]FAIL[/]",
        )
    console.print(table)


def _validate(quick: bool, workers: int) -> None:
    with console.status("validating the simulator against Erlang C and the hypercube model"):
        checks = run_validation(quick=quick, workers=workers)
    if quick:
        checks = [replace(c, tolerance=c.tolerance * 3) for c in checks]
    _print_checks(checks)
    failed = [c for c in checks if not c.passed]
    if failed:
        console.print(f"[bold red]{len(failed)} check(s) outside tolerance[/]")
        raise typer.Exit(1)
    console.print("[green]all checks within tolerance[/]")


def _summary_table(report: dict[str, Any]) -> Table:
    table = Table(title="Response times (call to arrival)")
    table.add_column("plan")
    table.add_column("priority")
    for column in ("calls", "mean (min)", "p90 (min)", "within target", "utilisation"):
        table.add_column(column, justify="right")
    for plan in report["plans"]:
        for name, s in plan["response_by_priority"].items():
            within = s["within_target"]
            table.add_row(
                plan["plan"],
                name,
                str(s["count"]),
                "–" if s["mean_s"] is None else f"{s['mean_s'] / 60:.1f}",
                "–" if s["p90_s"] is None else f"{s['p90_s'] / 60:.1f}",
                "–" if within is None else f"{within:.1%}",
                f"{plan['utilisation']['mean']:.1%}",
            )
    return table


def simulate_command(
    days: Annotated[float, typer.Option("--days", help="Simulated days of calls.")] = 365.0,
    units: Annotated[int, typer.Option("--units", help="Units on duty.")] = 30,
    policy: Annotated[str, typer.Option("--policy", help="nearest | beat.")] = "nearest",
    calls_file: Annotated[
        Path | None, typer.Option("--calls", help="Calls CSV to fit (or replay) arrivals from.")
    ] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="Call time column.")] = None,
    time_format: Annotated[
        str | None, typer.Option("--time-format", help="strftime format of the times.")
    ] = None,
    type_col: Annotated[str | None, typer.Option("--type-col", help="Call type column.")] = None,
    priority_col: Annotated[
        str | None, typer.Option("--priority-col", help="Priority column (1 = urgent).")
    ] = None,
    onscene_start_col: Annotated[
        str | None, typer.Option("--onscene-start-col", help="Arrival on scene column.")
    ] = None,
    onscene_end_col: Annotated[
        str | None, typer.Option("--onscene-end-col", help="Clearance time column.")
    ] = None,
    replay: Annotated[
        bool, typer.Option("--replay", help="Replay the file's call times instead of Poisson.")
    ] = False,
    city_pack: Annotated[
        Path | None,
        typer.Option(
            "--city",
            help="City pack: zones on its streets, road travel times "
            "(default: a generated grid city).",
        ),
    ] = None,
    zones: Annotated[int, typer.Option("--zones", help="Zones with --city.", min=1)] = 144,
    history: Annotated[
        float | None,
        typer.Option(
            "--history",
            help="Fit arrivals and on-scene times from the last N days "
            "of the platform's own incidents (ARVERNE_DATABASE_URL).",
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Calls per day (default 420).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Report path: writes OUT.json and OUT.html.")
    ] = None,
    compare: Annotated[
        int | None, typer.Option("--compare", help="Units of a second plan, same calls.")
    ] = None,
    compare_policy: Annotated[
        str | None, typer.Option("--compare-policy", help="Policy of the second plan.")
    ] = None,
    after_service: Annotated[
        str, typer.Option("--after-service", help="return | stay | instant.")
    ] = "return",
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Target seconds, e.g. P1=600.")
    ] = None,
    require: Annotated[
        list[str] | None,
        typer.Option("--require", help="Capabilities a call type needs, e.g. violence=dog."),
    ] = None,
    unit_capability: Annotated[
        list[str] | None,
        typer.Option("--unit-capability", help="Units with an extra capability, e.g. dog=2."),
    ] = None,
    grid_side: Annotated[
        int, typer.Option("--grid-side", help="Zones per side of the generated grid city.")
    ] = 12,
    validate: Annotated[
        bool, typer.Option("--validate", help="Check the simulator against queueing theory.")
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="With --validate: short runs, 3x tolerances.")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes for --validate.", min=1)
    ] = min(2, os.cpu_count() or 1),
) -> None:
    """Simulate dispatch for a staffing plan (or two), or validate the simulator."""
    if validate:
        _validate(quick, workers)
        return
    if out is None:
        raise fail("--out: required; pass a report path, e.g. --out results/run")
    for option, value in (("--policy", policy), ("--compare-policy", compare_policy)):
        if value is not None and value not in POLICIES:
            raise fail(f"{option}: unknown policy {value!r}; use one of {', '.join(POLICIES)}")
    if after_service not in AFTER_SERVICE:
        raise fail(f"--after-service: {after_service!r}; use one of {', '.join(AFTER_SERVICE)}")
    if days <= 0:
        raise fail(f"--days: got {days:g}; pass a positive number of days")
    if units < 1 or (compare is not None and compare < 1):
        raise fail("--units/--compare: pass at least 1 unit")
    if grid_side < 1:
        raise fail("--grid-side: pass at least 1")
    if replay and calls_file is None:
        raise fail("--replay: needs --calls FILE")
    columns = (
        CallColumns(
            time=time_col,
            time_format=time_format,
            type=type_col,
            priority=priority_col,
            onscene_start=onscene_start_col,
            onscene_end=onscene_end_col,
        )
        if time_col
        else None
    )
    city = _city(city_pack, zones, grid_side)
    try:
        if history is not None:
            if calls_file is not None:
                raise fail("--history/--calls: give one source of calls, not both")
            inputs, frame = _history_inputs(history), None
            if rate is not None:
                inputs = inputs.scaled(rate)
        else:
            inputs, frame = _load_inputs(calls_file, columns, rate)
        inputs = _with_requirements(inputs, _key_values(require, "--require"))
        special = _key_values(unit_capability, "--unit-capability")
        config = SimulationConfig(
            days=days,
            policy=policy,  # type: ignore[arg-type]
            after_service=after_service,  # type: ignore[arg-type]
            targets_s=_targets(target),
            seed=seed,
        )
        plans = [(_plan(city, units, special, f"{units} units, {policy}"), config)]
        if compare is not None or compare_policy is not None:
            n2, p2 = compare or units, compare_policy or policy
            plans.append(
                (
                    _plan(city, n2, special, f"{n2} units, {p2}"),
                    replace(config, policy=p2),  # type: ignore[arg-type]
                )
            )
        for plan, plan_config in plans:
            validate_scenario(inputs, city, plan, plan_config)
        if replay and frame is not None and columns is not None:
            times = frame[columns.time]
            parsed = pd.to_datetime(times, format=columns.time_format, errors="coerce")
            ok = parsed.notna().to_numpy()
            kinds = (
                frame[columns.type].to_numpy()[ok] if columns.type else np.full(ok.sum(), "call")
            )
            offsets = replay_times(parsed[ok])
            inside = offsets < days * 86400
            calls = replay_calls(
                inputs,
                city,
                time_s=offsets[inside],
                type_idx=type_indices(inputs, kinds[inside]),
                seed=seed,
            )
        else:
            calls = generate_calls(inputs, city, days=days, seed=seed)
    except PlanningInputError as exc:
        raise fail(str(exc)) from exc
    if len(calls) == 0:
        raise fail("--rate/--days: no call would arrive; raise --rate or --days")
    results = _run_plans(calls, inputs, city, plans)
    scenario = {
        "notes": list(inputs.notes),
        "source": str(calls_file.name) if calls_file else "poisson",
        "replay": replay,
        "rate_per_day": round(inputs.calls_per_day, 3),
    }
    report = build_report(results, city, calls, scenario=scenario)
    base = out.with_suffix("") if out.suffix.lower() in (".json", ".html") else out
    base.parent.mkdir(parents=True, exist_ok=True)
    json_path = base.parent / f"{base.name}.json"
    html_path = base.parent / f"{base.name}.html"
    json_path.write_bytes(report_json(report))
    html_path.write_bytes(report_html(report))
    console.print(_summary_table(report))
    console.print(f"report: {json_path} and {html_path}")
    if report["partial"]:
        console.print("[bold red]interrupted: the report is partial[/]")
        raise typer.Exit(INTERRUPTED)


def _run_plans(
    calls: Calls,
    inputs: SimulationInputs,
    city: City,
    plans: list[tuple[StaffingPlan, SimulationConfig]],
) -> list[SimulationResult]:
    results: list[SimulationResult] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        for plan, config in plans:
            task = progress.add_task(f"simulating {plan.name}", total=1.0)

            def update(share: float, task_id: Any = task) -> None:
                progress.update(task_id, completed=share)

            result = simulate(calls, inputs, city, plan, config, progress=update)
            results.append(result)
            if result.partial:
                break
    return results
