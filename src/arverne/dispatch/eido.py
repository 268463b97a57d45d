"""NENA EIDO (NENA-STA-021) export and import of incidents (see docs/eido.md).

Covered: the EIDO root and the incident (tracking id, type, status, priority, beat,
dispositions), call (caller as a NIEM person, only on request), location (address text
and PIDF-LO with a WGS84 point and a civic address), emergency resource (status from
:func:`arverne.dispatch.status.eido_status`), dispatch, agency, agent and notes
components, linked by ``$id``/``$ref``; merges and splits (root ``mergeComponent``),
links (root ``linkComponent``, ``Related``) and transport destinations (a ``Destination``
location referenced by the resource's ``unitDestinationReference``), names that are
Arverne's reading of the standard (see :mod:`arverne.dispatch.eido_schemas`); plus
Arverne extensions for incident and unit timestamps. Not covered: vehicles, alarms,
callbacks, additional data, JSON-LD ``@context``, updates to an incident already
imported, NENA-STA-024 transport.
Notes are the duty log's narrative (notes, corrections, imported notes) and the incident
and call descriptions; lifecycle lines travel as structured fields.

Import runs the normal flows (intake, add_call, close/cancel) in one transaction, so it
is logged and audited like any intake. An incident type with no Arverne equivalent is
refused (422 naming the field), never guessed. A tracking or message id already imported,
or an incident of this very system, is refused with 409 naming the existing incident; the
foreign ids live in an ``eido_import`` duty-log line and the audit log (no schema change).
Foreign resources are not Arverne units: they are written to the duty log, with their
destination. A cancelled incident merged into one of this system's incidents, or into
one already imported, points at it (``merged_into``); every merge and link of the
document, known here or not, is kept in the ``eido_import`` line and the audit entry.
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
from arverne.dispatch.eido_export import (
    IMPORT_KIND,
    NOTE_KINDS,
    AgencyInfo,
    export_incident,
    local_incident_id,
    tracking_id,
)
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.links import link_incidents
from arverne.dispatch.models import DutyLogEntry, Incident
from arverne.dispatch.schemas import CallIn, CancelIn, CloseIn, Disposition, IncidentIn, LinkIn
from arverne.errors import ConflictError, InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext, lock_chain

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
    resources: list[tuple[es.EmergencyResourceComponent, str | None]]  # with destination
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
        resources=[
            (r, em.location_text(doc, r.unit_destination_reference))
            for r in doc.emergency_resource_component
        ],
        end=end,
        disposition=disposition,
    )


def find_import(session: Session, *, tracking: str, message: str | None = None) -> int | None:
    """Return the id of the incident already imported from this incident or message."""
    data: Any = DutyLogEntry.data  # JSON path operators are untyped in SQLAlchemy
    same = data["incident_tracking_id"].as_string() == tracking
    if message is not None:
        same = or_(same, data["message_id"].as_string() == message)
    return session.scalar(
        select(DutyLogEntry.incident_id)
        .where(DutyLogEntry.kind == IMPORT_KIND)
        .where(same)
        .limit(1)
    )


def _known_incident(session: Session, tracking: str, own_agency: str | None) -> int | None:
    """This system's incident with this tracking id: one of its own, or one imported."""
    local = local_incident_id(tracking, own_agency) if own_agency else None
    if local is not None and own_agency:
        incident = session.get(Incident, local)
        if incident is not None and tracking_id(incident, AgencyInfo(own_agency, "")) == tracking:
            return local
    return find_import(session, tracking=tracking)


_MERGE_WORDS = {"Replaced": "fusionné dans", "Replacing": "a repris", "Split": "scindé avec"}


def _relations(
    session: Session, doc: EidoDocument, own_agency: str | None
) -> tuple[dict[str, Any], str]:
    """The document's merges and links as duty-log data, and as words for the line."""
    facts: dict[str, Any] = {}
    words = []
    merges = []
    for merge in doc.merge_component:
        known = _known_incident(session, merge.incident_tracking_identifier, own_agency)
        at = merge.last_update_time_stamp
        merges.append(
            {
                "tracking_id": merge.incident_tracking_identifier,
                "direction": merge.incident_merge_direction_code,
                "at": at.astimezone(dt.UTC).isoformat() if at else None,
                "reason": merge.transaction_reason_text,
                "incident_id": known,
            }
        )
        verb = _MERGE_WORDS.get(merge.incident_merge_direction_code, "fusion")
        target = session.get(Incident, known) if known is not None else None
        here = f"ici {target.number}" if target is not None else "inconnu ici"
        words.append(f"{verb} {merge.incident_tracking_identifier} ({here})")
    links = [
        {
            "tracking_id": link.incident_tracking_identifier,
            "direction": link.link_direction_code,
            "reason": link.transaction_reason_text,
            "incident_id": _known_incident(session, link.incident_tracking_identifier, own_agency),
        }
        for link in doc.link_component
    ]
    words += [f"lié à {x['tracking_id']} ({x['direction']})" for x in links]
    if merges:
        facts["merges"] = merges
    if links:
        facts["links"] = links
    return facts, "".join(f" ; {w}" for w in words)


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
    relations, words = _relations(session, doc, own_agency)
    facts = {
        "message_id": message,
        "incident_tracking_id": tracking,
        "sender": sender,
        **relations,
    }
    service.log(
        session,
        ctx,
        kind=IMPORT_KIND,
        incident_id=incident.id,
        text=f"{incident.number} importé depuis l'EIDO de {sender} "
        f"(incident {inc.internal_incident_id or tracking}, message {message}){words}",
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
    for link in relations.get("links", []):
        if link["incident_id"] is not None and link["direction"] != "Unlink":
            link_incidents(
                session=session,
                ctx=ctx,
                settings=settings,
                incident_id=incident.id,
                link_in=LinkIn(
                    other=link["incident_id"],
                    reason=link["reason"] or f"lien EIDO de {sender} ({link['direction']})",
                ),
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
    for res, destination in plan.resources:
        data = res.model_dump(mode="json", by_alias=True, exclude_none=True)
        if destination:
            data["destination"] = destination
        service.log(
            session,
            ctx,
            kind="eido_resource",
            incident_id=incident.id,
            text=f"Ressource externe {res.emergency_resource_name} : "
            f"{res.primary_unit_status_registry_text}/{res.secondary_unit_status_registry_text}"
            + (f", transport vers {destination}" if destination else ""),
            data=data,
        )
    if plan.end == "closed" and plan.disposition is not None:
        close_in = CloseIn(disposition=plan.disposition, note=f"clôturé par {sender} (EIDO)")
        flows.close_incident(
            session=session, ctx=ctx, settings=settings, incident_id=incident.id, close_in=close_in
        )
    elif plan.end == "cancelled":
        into = next(
            (
                m["incident_id"]
                for m in relations.get("merges", [])
                if m["direction"] == "Replaced" and m["incident_id"] is not None
            ),
            None,
        )
        if into is not None:
            incident.merged_into_id = into
            session.flush()  # the cancel below reloads the incident, then publishes it
        cancel_in = CancelIn(reason=f"annulé par {sender} (EIDO)")
        flows.cancel_incident(
            session=session,
            ctx=ctx,
            settings=settings,
            incident_id=incident.id,
            cancel_in=cancel_in,
        )
    return incident
