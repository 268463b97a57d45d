"""A later EIDO message about an incident already imported: apply what changed.

An EIDO document carries the whole state of the incident as its sender sees it, so an
update is the difference between that state and what was received before: a new type,
priority, description or place (through the correction flow), calls not seen yet, notes
with new ids, foreign resources whose status or destination changed, links made or
undone, and the closure. Every step goes through Arverne's flows in one transaction
(logged, audited, published live), then one ``eido_update`` duty-log line says what the
message changed and what it asked that was not applied (an incident closed here is not
corrected by a partner, but reopened when the partner shows it open again within the
reopening window; nothing it said is dropped silently: what was not applied is in the
line). Messages apply in the order they were sent: one sent before the last one applied
is refused (409), so a late retry cannot undo a newer state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, flows, service
from arverne.dispatch import eido_schemas as es
from arverne.dispatch.city import CityModel, haversine_m
from arverne.dispatch.eido_apply import (
    Plan,
    end_as_told,
    log_notes,
    log_resources,
    plan_of,
    relations_of,
)
from arverne.dispatch.eido_export import IMPORT_KIND, UPDATE_KIND
from arverne.dispatch.eido_schemas import EidoDocument, EmergencyResourceComponent
from arverne.dispatch.links import link_incidents, links_of, unlink_incidents
from arverne.dispatch.models import DutyLogEntry, Incident
from arverne.dispatch.publish import CLOSED
from arverne.dispatch.reopen import reopen_incident
from arverne.dispatch.schemas import IncidentUpdate, LinkIn, ReopenIn, UnlinkIn
from arverne.dispatch.update import SAME_PLACE_M, update_incident
from arverne.errors import ConflictError
from arverne.security import audit
from arverne.security.audit import AuditContext

_FIELD_WORDS = {
    "type_code": "type",
    "priority": "priorité",
    "description": "description",
    "lon": "lieu",
    "address": "lieu",
}


def apply_update(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    doc: EidoDocument,
    *,
    incident_id: int,
    own_agency: str | None,
) -> tuple[Incident, list[str]]:
    """Apply a newer EIDO message to the incident it was imported as.

    Parameters
    ----------
    session, ctx, settings, city
        As for the other flows; all in ``session``'s transaction.
    doc
        The validated document (its tracking id was imported as ``incident_id``).
    incident_id
        The incident created by the first message.
    own_agency
        This system's agency identifier (to know which linked incidents are its own).

    Returns
    -------
    tuple[Incident, list[str]]
        The incident and what the message changed, in the duty log's words.

    Raises
    ------
    ConflictError
        The message was sent before the last one applied to this incident.
    InvalidInputError
        Naming the EIDO field that cannot be accepted (nothing is changed).
    """
    sender, message = doc.sending_system_identifier, doc.eido_message_identifier
    sent_at = doc.last_update_time_stamp.astimezone(dt.UTC)
    received = _received(session, incident_id)
    last = received.last_sent
    if last is not None and sent_at <= last:
        raise ConflictError(
            f"message {message} was sent at {sent_at:%Y-%m-%d %H:%M:%S} UTC, not after the "
            f"last one applied to incident {incident_id} ({last:%Y-%m-%d %H:%M:%S} UTC): an "
            "older state is not applied",
            allowed=[f"GET /api/v1/incidents/{incident_id}"],
        )
    plan = plan_of(doc, city)  # every check before any write
    incident = service.get_incident(session, incident_id, lock=True)
    is_open = incident.status not in CLOSED
    changes: list[str] = []
    refused: list[str] = []
    note = f"EIDO de {sender}, message {message}"

    if not is_open and plan.end is None:  # open at the sender's: reopen it here too
        try:
            reopen_incident(
                session=session, ctx=ctx, settings=settings, incident_id=incident.id,
                reopen_in=ReopenIn(reason=f"rouvert par {sender} ({note})"),
            )  # fmt: skip
            is_open = True
            changes.append("réouverture")
        except ConflictError as exc:  # merged here, or ended too long ago: checked first
            refused.append(f"réouverture ({exc})")

    fields = _corrections(incident, plan)
    if fields and is_open:
        update = IncidentUpdate.model_validate({**fields, "reason": note})
        update_incident(
            session=session, ctx=ctx, settings=settings, incident_id=incident.id,
            update=update, city=city,
        )  # fmt: skip
        changes.append(_words(fields))
    elif fields:
        refused.append(f"{_words(fields)} (incident {incident.status} ici)")

    for call_in in _new_calls(incident, plan):
        when = f"appel de {call_in.received_at:%H:%M:%S}" if call_in.received_at else "appel"
        if not is_open:
            refused.append(f"{when} (incident {incident.status} ici)")
            continue
        flows.add_call(
            session=session, ctx=ctx, settings=settings, incident_id=incident.id, call_in=call_in
        )
        changes.append(when)

    notes = [n for n in plan.notes if n.id not in received.note_ids]
    log_notes(session, ctx, incident.id, doc, notes)
    if notes:
        changes.append(f"{len(notes)} note(s)")
    resources = _changed_resources(received, plan.resources)
    log_resources(session, ctx, incident.id, resources)
    changes += [f"ressource {r.emergency_resource_name}" for r, _ in resources]

    relations, words = relations_of(session, doc, own_agency)
    changes += _apply_links(session, ctx, settings, incident, relations, sender)

    if is_open and plan.end is not None:
        end_as_told(session, ctx, settings, incident, plan, relations, sender)
        changes.append("clôture" if plan.end == "closed" else "annulation")

    facts: dict[str, Any] = {
        "message_id": message,
        "incident_tracking_id": doc.incident_component.incident_tracking_identifier,
        "sender": sender,
        "sent_at": sent_at.isoformat(),
        "changes": changes,
        "not_applied": refused,
        **relations,
    }
    text = (
        f"{incident.number} mis à jour depuis l'EIDO de {sender} (message {message}) : "
        f"{', '.join(changes) or 'aucun changement'}"
        + (f" ; non appliqué : {', '.join(refused)}" if refused else "")
        + words
    )
    dutylog.log(session, ctx, kind=UPDATE_KIND, incident_id=incident.id, text=text, data=facts)
    audit.record(
        session,
        ctx,
        action="incident.update_eido",
        object_type="incident",
        object_id=incident.id,
        details=facts,
    )
    return service.get_incident(session, incident.id), changes


@dataclasses.dataclass
class _Received:
    """What the incident's earlier EIDO lines say was received (read in one query)."""

    last_sent: dt.datetime | None = None  # the latest message applied (None: not recorded)
    note_ids: set[str] = dataclasses.field(default_factory=set)
    resources: dict[str, tuple[Any, ...]] = dataclasses.field(default_factory=dict)


def _received(session: Session, incident_id: int) -> _Received:
    rows: Any = session.execute(  # the JSON column's data is untyped
        select(DutyLogEntry.kind, DutyLogEntry.data)
        .where(DutyLogEntry.incident_id == incident_id)
        .where(DutyLogEntry.kind.in_((IMPORT_KIND, UPDATE_KIND, "eido_note", "eido_resource")))
        .order_by(DutyLogEntry.id)
    )
    out = _Received()
    for kind, stored in rows:
        data: dict[str, Any] = stored or {}
        if kind == "eido_note" and data.get("note_id"):
            out.note_ids.add(str(data["note_id"]))
        elif kind == "eido_resource" and data.get("emergencyResourceName"):
            secondary = data.get("secondaryUnitStatusRegistryText")
            if isinstance(secondary, list):  # written as the schema's list since 2026-12-06
                secondary = secondary[0] if secondary else None
            out.resources[str(data["emergencyResourceName"])] = (
                data.get("primaryUnitStatusRegistryText"),
                secondary,
                data.get("destination"),
            )
        elif kind in (IMPORT_KIND, UPDATE_KIND) and data.get("sent_at"):
            sent = dt.datetime.fromisoformat(data["sent_at"])
            out.last_sent = max(sent, out.last_sent) if out.last_sent else sent
    return out


def _corrections(incident: Incident, plan: Plan) -> dict[str, Any]:
    """The fields of the document's incident that differ from ours (for the correction
    flow); a field the document leaves out is not a change."""
    new = plan.incident_in
    fields: dict[str, Any] = {}
    if plan.stated_type is None and new.type_code != incident.type_code:
        fields["type_code"] = new.type_code
    if new.priority is not None and new.priority != incident.priority:
        fields["priority"] = new.priority
    if new.description is not None and new.description != (incident.description or ""):
        fields["description"] = new.description
    place = plan.place  # located as intake did, so that a point re-sent as is stays put
    here = np.array([incident.lon]), np.array([incident.lat])
    if float(haversine_m(*here, place.lon, place.lat)[0]) >= SAME_PLACE_M:
        fields.update(lon=place.lon, lat=place.lat)
        if new.address:
            fields["address"] = new.address
    return fields


def _words(fields: dict[str, Any]) -> str:
    return ", ".join(dict.fromkeys(_FIELD_WORDS[f] for f in fields if f in _FIELD_WORDS))


def _second(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _new_calls(incident: Incident, plan: Plan) -> list[Any]:
    """The document's calls this incident does not have (same start second and channel)."""
    known = {(_second(c.received_at), c.channel) for c in incident.calls}
    return [
        c
        for c in plan.calls
        if c.received_at is None or (_second(c.received_at), c.channel.value) not in known
    ]


def _changed_resources(
    received: _Received, resources: list[tuple[EmergencyResourceComponent, str | None]]
) -> list[tuple[EmergencyResourceComponent, str | None]]:
    """The foreign resources that are new, or whose status or destination changed."""
    return [
        (res, destination)
        for res, destination in resources
        if received.resources.get(res.emergency_resource_name)
        != (res.primary_unit_status_registry_text, res.secondary_unit_status_registry_text,
            destination)
    ]  # fmt: skip


def _apply_links(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident: Incident,
    relations: dict[str, Any],
    sender: str,
) -> list[str]:
    """Make the document's links to incidents known here, undo its ``UNLINK`` ones."""
    linked = {link.incident_id: link.number for link in links_of(session, incident.id)}
    done = []
    for link in relations.get("links", []):
        other = link["incident_id"]
        if other is None or other == incident.id:
            continue
        reason = link["reason"] or f"lien EIDO de {sender} ({link['direction']})"
        unlink = es.is_code(link["direction"], es.UNLINK)
        if unlink and other in linked:
            unlink_incidents(
                session=session, ctx=ctx, settings=settings, incident_id=incident.id,
                other_id=other, unlink_in=UnlinkIn(reason=reason),
            )  # fmt: skip
            done.append(f"lien avec {linked[other]} retiré")
        elif not unlink and other not in linked:
            out = link_incidents(
                session=session, ctx=ctx, settings=settings, incident_id=incident.id,
                link_in=LinkIn(other=other, reason=reason),
            )  # fmt: skip
            done.append(f"lié à {out.number}")
    return done
