"""Merging incidents: two open incidents found to be the same event become one.

Several callers reporting one event usually reach one incident through the duplicate
candidates offered at intake (``link_to``). When they did not (the calls came in at the
same moment, or the places given were far apart), a dispatcher merges the incident
created in excess into the one that stays: its calls move over, its units keep working
on the event without being stood down, and it is cancelled as a duplicate, pointing at
the incident it went into. Nothing is deleted; the duty log and the audit log say who
merged what, when and why.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.errors import IncidentClosedError
from arverne.dispatch.models import Assignment, Incident
from arverne.dispatch.publish import CLOSED, publish_incident, publish_unit, refresh_status
from arverne.dispatch.schemas import MergeIn
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow


def merge_incidents(
    *, session: Session, ctx: AuditContext, settings: Settings, incident_id: int, merge_in: MergeIn
) -> Incident:
    """Merge incident ``incident_id`` into ``merge_in.into``; return the one that stays.

    The calls of the merged incident move to the other; each unit committed to it is
    moved with its times (dispatched, en route, on scene) and keeps its status; the
    incident that stays takes the more urgent priority and the earliest call, dispatch
    and arrival times. The merged incident is cancelled with the disposition
    ``duplicate`` and ``merged_into`` set.

    Raises
    ------
    InvalidInputError
        ``into`` is the incident itself.
    IncidentClosedError
        Either incident is already closed or cancelled.
    NotFoundError
        Either incident does not exist.
    """
    if merge_in.into == incident_id:
        raise InvalidInputError("into", "an incident cannot be merged into itself")
    # Lock order: incidents by id, then units (as dispatch and status changes do).
    locked = {
        i: service.get_incident(session, i, lock=True) for i in sorted({incident_id, merge_in.into})
    }
    merged, kept = locked[incident_id], locked[merge_in.into]
    for incident in (merged, kept):
        if incident.status in CLOSED:
            raise IncidentClosedError(
                f"incident {incident.number} is {incident.status}; only open incidents merge",
                allowed=[],
            )
    now = utcnow()
    calls = list(merged.calls)
    for call in calls:
        call.incident = kept  # moves it from one incident's list to the other's
    moved = [
        move_unit(session, ctx, settings, a, to=kept, now=now, why="merged")
        for a in list(merged.assignments)
        if not a.released_at
    ]
    before = kept.priority
    kept.priority = min(kept.priority, merged.priority)
    kept.first_call_at = min(kept.first_call_at, merged.first_call_at)
    kept.first_dispatch_at = earliest(kept.first_dispatch_at, merged.first_dispatch_at)
    kept.first_arrival_at = earliest(kept.first_arrival_at, merged.first_arrival_at)
    merged.status, merged.disposition, merged.closed_at = "cancelled", "duplicate", now
    merged.merged_into_id = kept.id
    refresh_status(kept)
    session.flush()
    audit.record(
        session,
        ctx,
        action="incident.merge",
        object_type="incident",
        object_id=merged.id,
        reason=merge_in.reason,
        details={"into": kept.id, "calls": [c.id for c in calls], "units": moved},
    )
    dutylog.log(
        session,
        ctx,
        kind="incident_merged",
        incident_id=merged.id,
        text=f"{merged.number} fusionné dans {kept.number} (doublon) : {merge_in.reason}",
        data={"into": kept.id},
    )
    priority = f", priorité P{before} -> P{kept.priority}" if kept.priority != before else ""
    dutylog.log(
        session,
        ctx,
        kind="incident_merged",
        incident_id=kept.id,
        text=f"{kept.number} reprend {merged.number} : {len(calls)} appel(s), "
        f"{len(moved)} unité(s){priority}",
        data={"from": merged.id, "priority": kept.priority},
    )
    publish_incident(session, settings, merged, "incident.updated")
    publish_incident(session, settings, kept, "incident.updated")
    return kept


MOVE_LABELS = {"merged": "fusion", "split": "scission"}


def move_unit(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    old: Assignment,
    *,
    to: Incident,
    now: dt.datetime,
    why: str,
) -> int:
    """Move a unit's open assignment to incident ``to``, keeping its times.

    The old assignment is released with reason ``why`` (``merged`` or ``split``) and a
    new one opens on ``to`` with the same dispatch, en-route and arrival times (and
    transport destination), so the unit keeps its status and the response times stay
    true. Returns the unit's id.
    """
    unit = service.get_unit(session, old.unit_id, lock=True)
    source = old.incident
    old.released_at, old.release_reason = now, why
    session.flush()  # the unit's open assignment is closed before the new one opens
    session.add(
        Assignment(  # joins to.assignments: the published view needs no reload
            incident=to,
            unit=unit,
            dispatched_at=old.dispatched_at,
            dispatched_by=old.dispatched_by,
            eta_s=old.eta_s,
            en_route_at=old.en_route_at,
            arrived_at=old.arrived_at,
            transport_to=old.transport_to,
        )
    )
    unit.current_incident_id = to.id
    session.flush()
    dutylog.log(
        session,
        ctx,
        kind="unit_moved",
        incident_id=to.id,
        unit_id=unit.id,
        text=f"{unit.call_sign} passe de {source.number} à {to.number} ({MOVE_LABELS[why]})",
        data={"from": source.id, "why": why},
    )
    publish_unit(session, settings, unit)
    return unit.id


def earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    """The earlier of two optional times (``None`` when both are)."""
    return b if a is None else a if b is None else min(a, b)
