"""Live events and derived state shared by the dispatch flows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import service
from arverne.dispatch.check_rules import parse_check_minutes
from arverne.dispatch.models import Event, Incident, Unit
from arverne.dispatch.plans import parse_plans
from arverne.dispatch.status import UnitStatus
from arverne.dispatch.taxonomy import Priority, parse_targets

CLOSED = frozenset({"closed", "cancelled"})


def last_event_id(session: Session) -> int:
    """The id of the newest live event (0 when none): a page reads it before its data,
    and its script replays the stream from there, so nothing in between is missed."""
    return int(session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)


def targets_for(settings: Settings) -> dict[Priority, int]:
    """Response-time targets (seconds) per priority for this city."""
    return parse_targets(settings.response_targets)


def checks_for(settings: Settings) -> Mapping[UnitStatus, int]:
    """Minutes per unit status before a status check is due, for this city."""
    return parse_check_minutes(settings.status_check_minutes)


def plans_for(settings: Settings) -> Mapping[str, int]:
    """Units per incident type (response plans) when more than one, for this city."""
    return parse_plans(settings.response_plans)


def publish_incident(
    session: Session, settings: Settings, incident: Incident, kind: str
) -> dict[str, Any]:
    """Emit the incident's current wire view as a live event (in the caller's transaction).

    The view is built from the objects in memory, so flows add calls and assignments
    through the incident's relationships (``Call(incident=...)``,
    ``Assignment(incident=...)``) and never need to reload it. Returns the view as
    JSON-ready data, so a caller can answer with it without building it again.
    """
    payload = service.incident_out(incident, targets=targets_for(settings)).model_dump(mode="json")
    service.emit(session, kind=kind, permission="incident:read", payload=payload)
    return payload


def publish_unit(session: Session, settings: Settings, unit: Unit) -> None:
    """Emit the unit's current wire view as a live event."""
    service.emit(
        session,
        kind="unit.updated",
        permission="unit:read",
        payload=service.unit_out(unit, checks_for(settings)).model_dump(mode="json"),
    )


def derived_status(incident: Incident) -> str:
    """An incident's status as its active assignments make it (a closed one keeps its own)."""
    if incident.status in CLOSED:
        return incident.status
    active = [a for a in incident.assignments if a.released_at is None]
    if not active:
        return "queued"
    if any(a.arrived_at for a in active):
        return "on_scene"
    if any(a.en_route_at for a in active):
        return "en_route"
    return "dispatched"


def refresh_status(incident: Incident) -> None:
    """Derive an open incident's status from its active assignments."""
    status = derived_status(incident)
    if status != incident.status:
        incident.status = status
