"""``arverne incident | unit | dutylog``: the dispatch lifecycle from a terminal.

The commands call the same flows as the web API, so every step is audited and written to
the duty log; the actor is the operating-system account (``cli:<user>``).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.cli._common import cli_context, console, db_session, domain_errors, load_settings
from arverne.dispatch import flows, recommend, service
from arverne.dispatch.citypack import load_city
from arverne.dispatch.dutylog import list_log, write_log_csv
from arverne.dispatch.links import link_incidents, links_of, unlink_incidents
from arverne.dispatch.merge import merge_incidents
from arverne.dispatch.models import Unit
from arverne.dispatch.schemas import (
    CallIn,
    Channel,
    CloseIn,
    DispatchIn,
    Disposition,
    IncidentIn,
    LinkIn,
    MergeIn,
    PositionIn,
    SplitIn,
    StatusIn,
    UnitIn,
    UnlinkIn,
)
from arverne.dispatch.shifts import shift_window
from arverne.dispatch.split import split_incident
from arverne.dispatch.status import UnavailableReason, UnitStatus, UnitType
from arverne.errors import InvalidInputError, NotFoundError

incident_app = typer.Typer(
    help="Incidents: intake, correct, recommend, dispatch, close.", no_args_is_help=True
)
unit_app = typer.Typer(help="Units: create, list, status, positions.", no_args_is_help=True)

PRIORITY_STYLE = {1: "bold red", 2: "dark_orange", 3: "yellow", 4: "cyan"}


def parse_point(value: str, field: str) -> tuple[float, float]:
    """``LON,LAT`` as two floats, or an error naming the option ``field``."""
    try:
        lon, lat = (float(v) for v in value.split(","))
    except ValueError as exc:
        raise InvalidInputError(
            field, f"expected LON,LAT such as 3.0830,45.7772, got {value!r}"
        ) from exc
    return lon, lat


def unit_by_ref(session: Session, ref: str) -> Unit:
    """A unit by id or call sign."""
    if ref.isdigit():
        return service.get_unit(session, int(ref))
    unit = session.scalar(select(Unit).where(Unit.call_sign == ref))
    if unit is None:
        raise NotFoundError("unit", ref)
    return unit


def show_incident(session: Session, incident_id: int) -> None:
    """Print one line about the incident and one per unit it has had."""
    settings = load_settings()
    out = service.incident_out(
        service.get_incident(session, incident_id), targets=flows.targets_for(settings)
    )
    style = PRIORITY_STYLE[out.priority]
    console.print(
        f"[{style}]P{out.priority}[/] [bold]{out.number}[/] {out.type_label} — {out.status}"
        f"  ({out.address or out.street or f'{out.lon:.5f},{out.lat:.5f}'})",
        highlight=False,
    )
    for a in out.assignments:
        state = "libéré" if a.released_at else "engagé"
        console.print(f"   {a.call_sign}: {state} à {a.dispatched_at:%H:%M:%S}", highlight=False)


@incident_app.command("create")
def create(
    type_code: Annotated[
        str, typer.Option("--type", help="Incident type code (see `incident types`).")
    ],
    address: Annotated[str | None, typer.Option(help="Address to geocode.")] = None,
    at: Annotated[str | None, typer.Option(help="Map point LON,LAT.")] = None,
    priority: Annotated[
        int | None, typer.Option(min=1, max=4, help="Override the type's priority.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the caller said.")] = None,
    channel: Annotated[Channel, typer.Option(help="How the call came in.")] = Channel.EMERGENCY,
) -> None:
    """Intake a call: create an incident and list possible duplicates."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(at, "--at") if at else (None, None)
        body = IncidentIn(
            type_code=type_code,
            address=address,
            lon=lon,
            lat=lat,
            priority=priority,
            description=description,
            call=CallIn(channel=channel),
        )
        result = flows.intake(
            session=session,
            ctx=cli_context(),
            settings=settings,
            city=load_city(settings),
            incident_in=body,
        )
        show_incident(session, result.incident.id)
        for d in result.duplicates:
            console.print(
                f"   possible duplicate: {d.number} ({d.type_code}, {d.distance_m:.0f} m, "
                f"{d.minutes_ago:.0f} min ago)",
                highlight=False,
            )


@incident_app.command("list")
def list_(
    status: Annotated[list[str] | None, typer.Option(help="Filter by status (repeatable).")] = None,
) -> None:
    """The incident queue, most urgent first."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        rows = service.list_incidents(
            session, status=status or ["queued", "dispatched", "en_route", "on_scene"]
        )
        table = Table("P", "number", "type", "status", "where", "waiting")
        now = dt.datetime.now(dt.UTC)
        for inc in rows:
            waited = int((now - inc.first_call_at).total_seconds() // 60)
            table.add_row(
                f"[{PRIORITY_STYLE[inc.priority]}]P{inc.priority}[/]",
                inc.number,
                inc.type_code,
                inc.status,
                inc.address or inc.street or f"{inc.lon:.4f},{inc.lat:.4f}",
                f"{waited} min",
            )
        console.print(table)


@incident_app.command("show")
def show(incident_id: int) -> None:
    """One incident with its units and the incidents linked to it."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        show_incident(session, incident_id)
        for link in links_of(session, incident_id):
            console.print(
                f"   lié à {link.number} ({link.type_code}, {link.status}) : {link.reason}",
                highlight=False,
            )


@incident_app.command("recommend")
def recommend_(incident_id: int, limit: Annotated[int, typer.Option(min=1, max=50)] = 5) -> None:
    """Units ranked by travel time, with ETA and why they qualify."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        incident = service.get_incident(session, incident_id)
        rec = recommend.recommend(
            session=session,
            city=load_city(settings),
            incident=incident,
            plans=flows.plans_for(settings),
            limit=limit,
        )
        table = Table(
            "unit", "type", "status", "ETA", "distance", "why", title=f"method: {rec.method}"
        )
        for c in rec.candidates:
            table.add_row(
                c.call_sign + (" (preempt)" if c.preemptable else ""),
                c.unit_type,
                c.status,
                f"{c.eta_s / 60:.1f} min",
                f"{c.distance_m / 1000:.2f} km",
                c.why,
            )
        console.print(table)
        plan = rec.plan
        line = f"response plan: {plan.units} unit(s), {plan.assigned} already there"
        if plan.proposed_call_signs:
            line += f"; proposed: {' '.join(plan.proposed_call_signs)}"
        if plan.missing:
            line += f"; {plan.missing} more needed, no free unit"
        console.print(line, highlight=False)
        for e in rec.excluded:
            console.print(f"   left out: {e['call_sign']} — {e['reason']}", highlight=False)


@incident_app.command("dispatch")
def dispatch(
    incident_id: int,
    units: Annotated[list[str], typer.Argument(help="Unit ids or call signs.")],
    preempt: Annotated[
        bool, typer.Option(help="P1 only: take units from P3/P4 incidents.")
    ] = False,
    reassign: Annotated[bool, typer.Option(help="Move units from another incident.")] = False,
    reason: Annotated[str | None, typer.Option(help="Required with --preempt/--reassign.")] = None,
) -> None:
    """Commit units to an incident."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        ids = [unit_by_ref(session, ref).id for ref in units]
        flows.dispatch(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            dispatch_in=DispatchIn(unit_ids=ids, preempt=preempt, reassign=reassign, reason=reason),
        )
        show_incident(session, incident_id)


@incident_app.command("close")
def close(
    incident_id: int,
    disposition: Annotated[Disposition, typer.Option(help="How it ended.")],
    note: Annotated[str | None, typer.Option(help="Closing note.")] = None,
    offence: Annotated[
        list[str] | None,
        typer.Option(
            "--offence",
            help="Offence code found (repeat for several); `arverne offences list` finds them.",
        ),
    ] = None,
) -> None:
    """Close an incident; committed units become available."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        flows.close_incident(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            close_in=CloseIn(disposition=disposition, note=note, offence_codes=offence or []),
        )
        show_incident(session, incident_id)


@incident_app.command("merge")
def merge(
    incident_id: Annotated[int, typer.Argument(help="The incident created in excess.")],
    into: Annotated[int, typer.Option(help="The incident that stays (same event).")],
    reason: Annotated[str, typer.Option(help="Why they are the same event (logged).")],
) -> None:
    """Merge a duplicate incident into another: its calls and units move over, it is
    cancelled as a duplicate."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        merge_incidents(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            merge_in=MergeIn(into=into, reason=reason),
        )
        show_incident(session, into)


@incident_app.command("split")
def split(
    incident_id: Annotated[int, typer.Argument(help="The incident a second event is found in.")],
    type_code: Annotated[str, typer.Option("--type", help="Type of the new incident.")],
    reason: Annotated[str, typer.Option(help="Why it is another event (logged).")],
    call: Annotated[
        list[int] | None, typer.Option("--call", help="A call about the new event (repeat).")
    ] = None,
    unit: Annotated[
        list[str] | None,
        typer.Option("--unit", help="A committed unit (id or call sign) moving over (repeat)."),
    ] = None,
    address: Annotated[str | None, typer.Option(help="Address of the new event.")] = None,
    at: Annotated[str | None, typer.Option(help="Map point LON,LAT of the new event.")] = None,
    priority: Annotated[
        int | None, typer.Option(min=1, max=4, help="Override the type's priority.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the new event is.")] = None,
) -> None:
    """Split a second event out of an incident: a new incident takes the calls and units
    named (with their times); without a place it is where the first one is."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(at, "--at") if at else (None, None)
        body = SplitIn(
            type_code=type_code,
            reason=reason,
            call_ids=call or [],
            unit_ids=[unit_by_ref(session, ref).id for ref in unit or []],
            address=address,
            lon=lon,
            lat=lat,
            priority=priority,
            description=description,
        )
        _, created = split_incident(
            session=session,
            ctx=cli_context(),
            settings=settings,
            city=load_city(settings),
            incident_id=incident_id,
            split_in=body,
        )
        show_incident(session, incident_id)
        show_incident(session, created.id)


@incident_app.command("link")
def link(
    incident_id: int,
    to: Annotated[int, typer.Option("--to", help="The related incident.")],
    reason: Annotated[str, typer.Option(help="How they are related (logged).")],
) -> None:
    """Link two related incidents that stay separate."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        out = link_incidents(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            link_in=LinkIn(other=to, reason=reason),
        )
        console.print(f"linked to {out.number}", highlight=False)


@incident_app.command("unlink")
def unlink(
    incident_id: int,
    other: Annotated[int, typer.Option("--from", help="The incident linked to it.")],
    reason: Annotated[str, typer.Option(help="Why the link is removed (logged).")],
) -> None:
    """Remove the link between two incidents (it is kept, marked removed)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        out = unlink_incidents(
            session=session,
            ctx=cli_context(),
            settings=settings,
            incident_id=incident_id,
            other_id=other,
            unlink_in=UnlinkIn(reason=reason),
        )
        console.print(f"no longer linked to {out.number}", highlight=False)


@unit_app.command("add")
def add(
    call_sign: str,
    unit_type: Annotated[UnitType, typer.Option("--type", help="Kind of unit.")],
    station: Annotated[str | None, typer.Option(help="Home station LON,LAT.")] = None,
    home_station: Annotated[str | None, typer.Option(help="Home station name.")] = None,
    beat: Annotated[str | None, typer.Option(help="Patrol beat.")] = None,
    shift: Annotated[str | None, typer.Option(help="Shift (day, evening, night).")] = None,
    capability: Annotated[
        list[str] | None, typer.Option(help="Extra capability (repeatable).")
    ] = None,
) -> None:
    """Create a unit (off duty until its status changes)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(station, "--station") if station else (None, None)
        unit = service.create_unit(
            session,
            cli_context(),
            UnitIn(
                call_sign=call_sign,
                unit_type=unit_type,
                station_lon=lon,
                station_lat=lat,
                home_station=home_station,
                beat=beat,
                shift=shift,
                capabilities=capability or [],
            ),
        )
        console.print(f"unit {unit.call_sign} created (id {unit.id}, off duty)", highlight=False)


@unit_app.command("list")
def units(status: Annotated[str | None, typer.Option(help="Only this status.")] = None) -> None:
    """The unit board."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        table = Table("id", "call sign", "type", "status", "EIDO", "incident", "last position")
        checks = flows.checks_for(settings)
        for unit in service.list_units(session, status=status):
            out = service.unit_out(unit, checks)
            table.add_row(
                str(out.id),
                out.call_sign,
                out.unit_type,
                out.status + (f" ({out.status_reason})" if out.status_reason else ""),
                f"{out.eido_primary}/{out.eido_secondary}",
                str(out.current_incident_id or ""),
                f"{out.lon:.5f},{out.lat:.5f}"
                if out.lon is not None and out.lat is not None
                else "",
            )
        console.print(table)


@unit_app.command("status")
def status(
    unit: Annotated[str, typer.Argument(help="Unit id or call sign.")],
    new_status: Annotated[UnitStatus, typer.Argument(metavar="STATUS")],
    reason: Annotated[UnavailableReason | None, typer.Option(help="Why unavailable.")] = None,
    destination: Annotated[
        str | None, typer.Option(help="Where a transporting unit takes someone.")
    ] = None,
) -> None:
    """Move a unit along its status machine (illegal moves list the allowed ones)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        row = flows.set_unit_status(
            session=session,
            ctx=cli_context(),
            settings=settings,
            unit_id=unit_by_ref(session, unit).id,
            status_in=StatusIn(status=new_status, reason=reason, destination=destination),
        )
        console.print(f"{row.call_sign}: {row.status}", highlight=False)


@unit_app.command("position")
def position(
    unit: Annotated[str, typer.Argument(help="Unit id or call sign.")],
    at: Annotated[str, typer.Argument(help="LON,LAT")],
) -> None:
    """Report a unit's position (as an AVL device would)."""
    settings = load_settings()
    with domain_errors(), db_session(settings) as session:
        lon, lat = parse_point(at, "LON,LAT")
        row = unit_by_ref(session, unit)
        service.record_position(session, cli_context(), row, PositionIn(lon=lon, lat=lat))
        console.print(f"{row.call_sign} at {lon:.5f},{lat:.5f}", highlight=False)


def dutylog(
    date: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Local date.")
    ] = None,
    incident: Annotated[int | None, typer.Option(help="Only this incident.")] = None,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write CSV here ('-' = stdout).")
    ] = None,
) -> None:
    """Print or export the duty log (main courante)."""
    settings = load_settings()
    zone = settings.zone
    with domain_errors(), db_session(settings) as session:
        since, until = shift_window(date.date(), None, zone) if date else (None, None)
        rows = list_log(session, since=since, until=until, incident_id=incident, limit=100_000)
        if csv_out is not None:
            handle = (
                sys.stdout
                if str(csv_out) == "-"
                else csv_out.open("w", newline="", encoding="utf-8")
            )
            write_log_csv(handle, rows, zone)
            if handle is not sys.stdout:
                handle.close()
                console.print(f"{len(rows)} entries written to {csv_out}")
            return
        table = Table("time", "author", "kind", "text")
        for e in rows:
            table.add_row(f"{e.at.astimezone(zone):%d/%m %H:%M:%S}", e.author, e.kind, e.text)
        console.print(table)
