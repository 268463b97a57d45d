"""Reopening a closed or cancelled incident (one transaction).

An incident closed by mistake, or whose event starts again shortly after (the brawlers
are back), goes back to the queue instead of becoming a second incident with a second
set of response times. Within ``reopen_window_hours`` of its end only: later, the event
is a new incident, linked to the old one. The closure is not erased: its duty-log lines
stay, the ``incident_reopened`` line keeps the status, disposition, offence codes and
time it had, with the reason; the response times already measured (first dispatch, first
arrival) stay as they were.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.models import Incident
from arverne.dispatch.publish import CLOSED, publish_incident
from arverne.dispatch.schemas import ReopenIn
from arverne.dispatch.status import label_fr
from arverne.errors import ConflictError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow


def reopen_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    reopen_in: ReopenIn,
) -> Incident:
    """Put a closed or cancelled incident back in the queue, with the reason.

    Parameters
    ----------
    session, ctx, settings
        As for the other flows; everything happens in ``session``'s transaction.
    incident_id
        The incident to reopen.
    reopen_in
        Why (kept in the duty log and the audit log).

    Returns
    -------
    Incident
        The incident, ``queued`` again, without disposition or closing time.

    Raises
    ------
    ConflictError
        The incident is open, was merged into another one (reopen that one), or ended
        more than ``reopen_window_hours`` ago (create a new incident and link it).
    """
    incident = service.get_incident(session, incident_id, lock=True)
    if incident.status not in CLOSED:
        raise ConflictError(
            f"incident {incident.number} is {incident.status}, not closed",
            allowed=[f"GET /api/v1/incidents/{incident.id}"],
        )
    if incident.merged_into_id is not None:
        raise ConflictError(
            f"incident {incident.number} was merged into incident {incident.merged_into_id}: "
            "reopen that one",
            allowed=[f"POST /api/v1/incidents/{incident.merged_into_id}/reopen"],
        )
    ended = incident.closed_at or incident.updated_at
    window = dt.timedelta(hours=settings.reopen_window_hours)
    if utcnow() - ended > window:
        raise ConflictError(
            f"incident {incident.number} ended more than {settings.reopen_window_hours:g} h "
            "ago: take the call as a new incident and link it to this one",
            allowed=["POST /api/v1/incidents", "POST /api/v1/incidents/{id}/links"],
        )
    before: dict[str, Any] = {
        "status": incident.status,
        "disposition": incident.disposition,
        "closed_at": ended.isoformat(),
        "offence_codes": list(incident.offence_codes or []),
    }
    was = label_fr(incident.disposition) if incident.disposition else incident.status
    incident.status, incident.disposition, incident.closed_at = "queued", None, None
    audit.record(
        session,
        ctx,
        action="incident.reopen",
        object_type="incident",
        object_id=incident.id,
        details={"before": before, "reason": reopen_in.reason},
    )
    dutylog.log(
        session,
        ctx,
        kind="incident_reopened",
        incident_id=incident.id,
        text=f"{incident.number} rouvert (était {was}) : {reopen_in.reason}",
        data={"before": before, "reason": reopen_in.reason},
    )
    publish_incident(session, settings, incident, "incident.updated")
    return incident
