"""NENA EIDO (NENA-STA-021) export and import of incidents (see docs/eido.md).

Covered: the EIDO root and the incident (tracking id, type, status, priority, beat,
dispositions), call (caller as a NIEM person, only on request), location (address text
and PIDF-LO with a WGS84 point and a civic address), emergency resource (status from
:func:`arverne.dispatch.status.eido_status`), dispatch, agency, agent and notes
components, linked by ``$id``/``$ref``; plus Arverne extensions for incident and unit
timestamps. Not covered: vehicles, alarms, callbacks, additional data, merges and links,
JSON-LD ``@context``, updates to an incident already imported, NENA-STA-024 transport.
Notes are the duty log's narrative (notes, corrections, imported notes) and the incident
and call descriptions; lifecycle lines travel as structured fields.

Import runs the normal flows (intake, add_call, close/cancel) in one transaction, so it
is logged and audited like any intake. An incident type with no Arverne equivalent is
refused (422 naming the field), never guessed. A tracking or message id already imported,
or an incident of this very system, is refused with 409 naming the existing incident; the
foreign ids live in an ``eido_import`` duty-log line and the audit log (no schema change).
Foreign resources are not Arverne units: they are written to the duty log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import eido_mapping as em
from arverne.dispatch import eido_schemas as es
from arverne.dispatch import flows, service
from arverne.dispatch.city import CityModel
from arverne.dispatch.eido_export import NOTE_KINDS, AgencyInfo, export_incident, tracking_id
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.models import DutyLogEntry, Incident
from arverne.dispatch.schemas import CallIn, CancelIn, CloseIn, Disposition, IncidentIn
from arverne.errors import ConflictError, InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext, lock_chain

IMPORT_KIND = "eido_import"


__all__ = [
    "NOTE_KINDS",
    "AgencyInfo",
    "export_incident",
    "find_import",
    "import_eido",
    "tracking_id",
]


# --- import --------------------------------------------------------------------------
@dataclasses.dataclass(slots=True)
class _Plan:
    """What an EIDO document asks Arverne to create, validated before anything is stored."""

    incident_in: IncidentIn
    calls: list[CallIn]
    notes: list[es.NotesComponent]  # the narrative, oldest first
    resources: list[es.EmergencyResourceComponent]
    end: str | None  # "closed" or "cancelled"
    disposition: Disposition | None


def _plan(doc: EidoDocument, city: CityModel) -> _Plan:
    inc = doc.incident_component
    type_code = em.to_arverne_type(
        inc.incident_type_internal_code, inc.incident_type_common_registry_text
    )
    if type_code is None:
        raise InvalidInputError(
            "incidentComponent.incidentTypeCommonRegistryText",
            f"incident type {inc.incident_type_common_registry_text!r} "
            f"(internal code {inc.incident_type_internal_code!r}) has no Arverne equivalent; "
            "send an Arverne type code as incidentTypeInternalCode "
            "(GET /api/v1/incident-types lists them)",
        )
    field, lon, lat, address = em.incident_location(doc)
    try:
        if lon is not None and lat is not None:
            city.locate(lon, lat)
        else:
            city.geocode(address or "")
    except InvalidInputError as exc:
        raise InvalidInputError(field, exc.message) from None
    notes = doc.notes_by_id()
    used = {r.ref for c in doc.call_component for r in c.notes_reference}
    described = [r.ref for r in inc.notes_reference if r.ref in notes]
    description = "\n".join(notes[n].notes_action_comments for n in described) or None
    incident_in = em.build_input(
        IncidentIn,
        "incidentComponent",
        type_code=type_code,
        priority=em.to_arverne_priority(
            inc.incident_priority_internal_text, inc.incident_common_priority_number
        ),
        address=address[:300] if address else None,
        lon=lon,
        lat=lat,
        description=description,
    )
    free_notes = sorted(
        (n for n in doc.notes_component if n.id not in used and n.id not in described),
        key=lambda n: n.last_update_time_stamp or doc.last_update_time_stamp,
    )
    end, disposition = em.closing(inc)
    return _Plan(
        incident_in=incident_in,
        calls=em.call_inputs(doc),
        notes=free_notes,
        resources=doc.emergency_resource_component,
        end=end,
        disposition=disposition,
    )


def find_import(session: Session, *, tracking: str, message: str) -> int | None:
    """Return the id of the incident already imported from this incident or message."""
    data: Any = DutyLogEntry.data  # JSON path operators are untyped in SQLAlchemy
    return session.scalar(
        select(DutyLogEntry.incident_id)
        .where(DutyLogEntry.kind == IMPORT_KIND)
        .where(
            or_(
                data["incident_tracking_id"].as_string() == tracking,
                data["message_id"].as_string() == message,
            )
        )
        .limit(1)
    )


def import_eido(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    doc: EidoDocument,
    *,
    own_agency: str | None = None,
) -> Incident:
    """Create an incident from another agency's EIDO, through the normal intake flows.

    Parameters
    ----------
    session, ctx, settings, city
        As for :func:`arverne.dispatch.flows.intake`; all in ``session``'s transaction.
    doc
        The validated EIDO document.
    own_agency
        This system's agency identifier: documents about its own incidents are refused.

    Returns
    -------
    Incident
        The new incident (closed or cancelled if the document says so).

    Raises
    ------
    InvalidInputError
        Naming the EIDO field that cannot be accepted (type, location, call, disposition).
    ConflictError
        If this incident or message was already imported, or comes from this system.
    """
    inc = doc.incident_component
    tracking, message = inc.incident_tracking_identifier, doc.eido_message_identifier
    if own_agency and (
        doc.sending_system_identifier == own_agency or tracking.endswith(f":{own_agency}")
    ):
        raise ConflictError(
            f"this EIDO describes an incident of this system ({tracking}); "
            "it is not imported again",
            allowed=["GET /api/v1/incidents"],
        )
    lock_chain(session)  # serialises concurrent imports of the same message
    existing = find_import(session, tracking=tracking, message=message)
    if existing is not None:
        raise ConflictError(
            f"incident {tracking} (message {message}) was already imported as incident "
            f"{existing}; updates are not supported",
            allowed=[f"GET /api/v1/incidents/{existing}"],
        )
    plan = _plan(doc, city)
    incident = flows.intake(
        session=session,
        ctx=ctx,
        settings=settings,
        city=city,
        incident_in=plan.incident_in.model_copy(update={"call": plan.calls[0]}),
    ).incident
    sender = doc.sending_system_identifier
    facts = {"message_id": message, "incident_tracking_id": tracking, "sender": sender}
    service.log(
        session,
        ctx,
        kind=IMPORT_KIND,
        incident_id=incident.id,
        text=f"{incident.number} importé depuis l'EIDO de {sender} "
        f"(incident {inc.internal_incident_id or tracking}, message {message})",
        data=facts,
    )
    audit.record(
        session,
        ctx,
        action="incident.import_eido",
        object_type="incident",
        object_id=incident.id,
        details=facts,
    )
    for call_in in plan.calls[1:]:
        flows.add_call(
            session=session, ctx=ctx, settings=settings, incident_id=incident.id, call_in=call_in
        )
    agents = doc.agent_names()
    for note in plan.notes:
        author = agents.get(note.agent_reference.ref, sender) if note.agent_reference else sender
        at, text = (
            note.last_update_time_stamp or doc.last_update_time_stamp,
            note.notes_action_comments,
        )
        service.log(
            session,
            ctx,
            kind="eido_note",
            incident_id=incident.id,
            text=f"[EIDO {sender}] {author} : {text}",
            data={
                "original_at": at.astimezone(dt.UTC).isoformat(),
                "original_author": author,
                "original_text": text,
                "note_id": note.id,
            },
        )
    for res in plan.resources:
        service.log(
            session,
            ctx,
            kind="eido_resource",
            incident_id=incident.id,
            text=f"Ressource externe {res.emergency_resource_name} : "
            f"{res.primary_unit_status_registry_text}/{res.secondary_unit_status_registry_text}",
            data=res.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
    if plan.end == "closed" and plan.disposition is not None:
        close_in = CloseIn(disposition=plan.disposition, note=f"clôturé par {sender} (EIDO)")
        flows.close_incident(
            session=session, ctx=ctx, settings=settings, incident_id=incident.id, close_in=close_in
        )
    elif plan.end == "cancelled":
        cancel_in = CancelIn(reason=f"annulé par {sender} (EIDO)")
        flows.cancel_incident(
            session=session,
            ctx=ctx,
            settings=settings,
            incident_id=incident.id,
            cancel_in=cancel_in,
        )
    return incident
