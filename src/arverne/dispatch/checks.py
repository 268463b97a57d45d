"""Status checks of committed units (contrôle de situation): answers and expiries.

When a unit has stayed dispatched, en route, on scene or transporting longer than the
city allows (:mod:`arverne.dispatch.check_rules`), the dispatcher calls the crew by radio.
:func:`record_check` writes the answer: ``ok`` restarts the timer, ``no_answer`` is an
alarm that stays on the board until the crew answers or changes status. While serving,
:func:`raise_due_checks` writes each expiry to the duty log once, whichever server
process sees it first, so the log shows when the alarm was raised and how long it took to
be answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.check_rules import CheckState
from arverne.dispatch.crew_schemas import CheckIn, CheckOut
from arverne.dispatch.models import Unit
from arverne.dispatch.publish import checks_for, publish_unit
from arverne.dispatch.status import STATUS_LABEL_FR
from arverne.errors import ConflictError
from arverne.security.audit import SYSTEM, AuditContext
from arverne.store.types import utcnow


def record_check(
    *, session: Session, ctx: AuditContext, settings: Settings, unit_id: int, check_in: CheckIn
) -> Unit:
    """Write the answer to a unit's status check (one transaction with the caller's).

    Raises
    ------
    NotFoundError
        No such unit.
    ConflictError
        The unit's status has no timer (available, off duty...); ``allowed`` lists the
        statuses that have one.
    """
    limits = checks_for(settings)
    unit = service.get_unit(session, unit_id, lock=True)
    timer = service.unit_check(unit, limits)
    if timer is None:
        timed = sorted(status.value for status in limits)
        raise ConflictError(
            f"{unit.call_sign} is {unit.status}: only units in a status with a timer "
            f"({', '.join(timed)}) get status checks",
            allowed=timed,
        )
    now = utcnow()
    ok = check_in.outcome == "ok"
    if ok:
        unit.checked_at = now
    else:
        unit.check_missed_at = now
    session.flush()
    answer = "RAS" if ok else "SANS RÉPONSE"
    dutylog.log(
        session,
        ctx,
        kind="status_check" if ok else "status_check_missed",
        unit_id=unit.id,
        incident_id=unit.current_incident_id,
        text=f"{unit.call_sign} : contrôle de situation, {answer} ({_since(timer, unit, now)})"
        + (f" — {check_in.note}" if check_in.note else ""),
        data=_facts(timer, now) | {"outcome": check_in.outcome, "note": check_in.note},
    )
    publish_unit(session, settings, unit)
    return unit


def raise_due_checks(
    session: Session, settings: Settings, *, now: dt.datetime | None = None
) -> list[Unit]:
    """Write a ``status_check_due`` line for each timer that ran out and is not logged yet.

    Each unit is claimed with a conditional UPDATE before its line is written, so
    concurrent callers (one per server process) never log the same expiry twice. Returns
    the units whose expiry this call logged.
    """
    limits = checks_for(settings)
    if not limits:
        return []
    now = now or utcnow()
    units = session.scalars(
        select(Unit)
        .where(Unit.active.is_(True), Unit.status.in_([s.value for s in limits]))
        .order_by(Unit.id)  # one lock order for every caller
    ).all()
    raised = []
    for unit in units:
        timer = service.unit_check(unit, limits)
        if timer is None or timer.alerted or timer.due_at > now:
            continue
        claimed = cast(
            CursorResult[Any],
            session.execute(
                update(Unit)
                .where(
                    Unit.id == unit.id,
                    Unit.status == unit.status,
                    Unit.status_changed_at == unit.status_changed_at,
                    _unchanged(Unit.checked_at, unit.checked_at),
                    _unchanged(Unit.check_alerted_at, unit.check_alerted_at),
                )
                .values(check_alerted_at=now)
                .execution_options(synchronize_session=False)
            ),
        )
        if claimed.rowcount != 1:  # answered, moved or logged by another process meanwhile
            continue
        set_committed_value(unit, "check_alerted_at", now)
        dutylog.log(
            session,
            SYSTEM,
            kind="status_check_due",
            unit_id=unit.id,
            incident_id=unit.current_incident_id,
            text=f"{unit.call_sign} : contrôle de situation dû ({_since(timer, unit, now)})",
            data=_facts(timer, now),
        )
        publish_unit(session, settings, unit)
        raised.append(unit)
    return raised


def list_checks(
    session: Session, settings: Settings, *, due_only: bool = False, now: dt.datetime | None = None
) -> list[CheckOut]:
    """The status-check timers of active units, the most overdue first."""
    limits = checks_for(settings)
    if not limits:
        return []
    now = now or utcnow()
    rows = []
    for unit in service.list_units(session):
        timer = service.unit_check(unit, limits)
        if timer is None or (due_only and timer.due_at > now):
            continue
        rows.append(
            CheckOut(
                unit_id=unit.id,
                call_sign=unit.call_sign,
                status=unit.status,
                incident_id=unit.current_incident_id,
                started_at=timer.started_at,
                due_at=timer.due_at,
                overdue_s=round(timer.overdue_s(now), 1),
                missed=timer.missed,
                alerted=timer.alerted,
            )
        )
    return sorted(rows, key=lambda row: (not row.missed, row.due_at))


def _unchanged(column: InstrumentedAttribute[Any], value: object) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _since(timer: CheckState, unit: Unit, now: dt.datetime) -> str:
    minutes = int((now - unit.status_changed_at).total_seconds() // 60)
    return f"{STATUS_LABEL_FR[timer.status]} depuis {minutes} min"


def _facts(timer: CheckState, now: dt.datetime) -> dict[str, Any]:
    return {
        "status": timer.status.value,
        "due_at": timer.due_at.isoformat(),
        "overdue_s": round(timer.overdue_s(now), 1),
    }
