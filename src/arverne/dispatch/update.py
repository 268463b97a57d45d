"""Correcting an open incident: type, priority, description and place (one transaction).

A dispatcher reclassifies an incident when the situation turns out other than the first
call said (a dispute that becomes a fight: P3 to P1), and moves it when the caller gave
the wrong address. Each correction is one duty-log line saying what changed from what
(``incident_updated``), one audit entry and one live event; the incident's calls,
assignments and earlier log lines are untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.city import CityModel, Place, haversine_m
from arverne.dispatch.errors import IncidentClosedError
from arverne.dispatch.intake import locate
from arverne.dispatch.models import Incident
from arverne.dispatch.publish import CLOSED, publish_incident
from arverne.dispatch.schemas import IncidentUpdate
from arverne.dispatch.taxonomy import get_type
from arverne.errors import InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext

# A point moved by less than this is the same place (a re-sent position, rounding).
SAME_PLACE_M = 5.0


def update_incident(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    update: IncidentUpdate,
    city: CityModel | None = None,
) -> Incident:
    """Correct type, priority, description or place of an open incident.

    Parameters
    ----------
    session, ctx, settings
        As for the other flows; everything happens in ``session``'s transaction.
    incident_id
        The incident to correct.
    update
        The fields to change (fields not given are kept).
    city
        Geocoder for a new place; required when ``update`` gives an address or a point.

    Returns
    -------
    Incident
        The corrected incident (unchanged, with a log line saying so, if every value
        given was already the incident's).

    Raises
    ------
    InvalidInputError
        Unknown type, a place outside the city, or a lower priority without a reason
        (nothing is changed).
    IncidentClosedError
        The incident is closed or cancelled.
    """
    itype = get_type(update.type_code) if update.type_code is not None else None
    moved = None  # located before any write: a place outside the city changes nothing
    if update.address is not None or update.lon is not None:
        if city is None:
            raise InvalidInputError("address", "no city model to locate the new place")
        moved = locate(city, update.lon, update.lat, update.address)
    incident = service.get_incident(session, incident_id, lock=True)
    if incident.status in CLOSED:
        raise IncidentClosedError(
            f"incident {incident.number} is {incident.status}; a closed incident is not "
            "corrected (add a note to the duty log instead)"
        )
    if update.priority is not None and update.priority > incident.priority and not update.reason:
        raise InvalidInputError(
            "reason",
            f"lowering {incident.number} from P{incident.priority} to P{update.priority} "
            "needs a reason (it is kept in the duty log)",
        )
    changes: dict[str, dict[str, Any]] = {}
    words: list[str] = []
    if itype is not None and itype.code != incident.type_code:
        before = get_type(incident.type_code)
        changes["type_code"] = {"from": incident.type_code, "to": itype.code}
        words.append(f"type {before.label_fr} → {itype.label_fr}")
        incident.type_code = itype.code
    if update.priority is not None and update.priority != incident.priority:
        changes["priority"] = {"from": incident.priority, "to": update.priority}
        words.append(f"priorité P{incident.priority} → P{update.priority}")
        incident.priority = update.priority
    description = update.description or None  # "" clears it
    if "description" in update.model_fields_set and description != incident.description:
        changes["description"] = {}  # free text: in the incident, not copied to the log
        words.append("description")
        incident.description = description
    if moved is not None:
        words += _move(incident, *moved, changes=changes)
    reason = f" ({update.reason})" if update.reason else ""
    text = f"{incident.number} modifié : {', '.join(words) or 'rien (mêmes valeurs)'}{reason}"
    audit.record(
        session,
        ctx,
        action="incident.update",
        object_type="incident",
        object_id=incident.id,
        details={"fields": sorted(changes), "reason": update.reason},
    )
    data: dict[str, Any] = {k: v for k, v in changes.items() if v}
    if update.reason:
        data["reason"] = update.reason
    dutylog.log(
        session, ctx, kind="incident_updated", incident_id=incident.id, text=text, data=data
    )
    publish_incident(session, settings, incident, "incident.updated")
    return incident


def _move(
    incident: Incident, place: Place, address: str | None, *, changes: dict[str, Any]
) -> list[str]:
    """Move ``incident`` to ``place``; the words for the log line (none if it stays)."""
    here = np.array([incident.lon]), np.array([incident.lat])
    moved_m = float(haversine_m(*here, place.lon, place.lat)[0])
    if moved_m < SAME_PLACE_M and (address or incident.address) == incident.address:
        return []
    before = incident.address or incident.street or f"{incident.lat:.5f}, {incident.lon:.5f}"
    changes["place"] = {
        "from": {"lon": incident.lon, "lat": incident.lat, "address": incident.address,
                 "district": incident.district},
        "to": {"lon": place.lon, "lat": place.lat, "address": address,
               "district": place.district},
        "moved_m": round(moved_m, 1),
    }  # fmt: skip
    incident.lon, incident.lat = place.lon, place.lat
    incident.address = address
    incident.street, incident.district = place.street, place.district
    incident.snap_distance_m = place.snap_distance_m
    after = address or place.street or f"{place.lat:.5f}, {place.lon:.5f}"
    return [f"lieu {before} → {after} ({moved_m:.0f} m)"]
