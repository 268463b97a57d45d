"""Writing an EIDO document's parts through Arverne's flows (see docs/eido.md).

Shared by the import of a new incident (:mod:`arverne.dispatch.eido`) and the update of
one already imported (:mod:`arverne.dispatch.eido_update`): the validated plan of what a
document says (type, place, calls, notes, resources, how it ended), its merges and links
as known here, and the duty-log lines of its notes and foreign resources.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, flows, service
from arverne.dispatch import eido_conveyance as conv
from arverne.dispatch import eido_mapping as em
from arverne.dispatch import eido_schemas as es
from arverne.dispatch.city import CityModel, Place
from arverne.dispatch.eido_export import (
    IMPORT_KIND,
    UPDATE_KIND,
    AgencyInfo,
    local_incident_id,
    tracking_id,
)
from arverne.dispatch.eido_html import note_text
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.intake import locate
from arverne.dispatch.models import DutyLogEntry, Incident
from arverne.dispatch.schemas import CallIn, CancelIn, CloseIn, Disposition, IncidentIn
from arverne.dispatch.taxonomy import UNQUALIFIED
from arverne.errors import InvalidInputError
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow


@dataclasses.dataclass(slots=True)
class Plan:
    """What an EIDO document asks Arverne to create, validated before anything is stored."""

    incident_in: IncidentIn
    calls: list[CallIn]
    notes: list[es.NotesComponent]  # the narrative, oldest first
    resources: list[tuple[es.EmergencyResourceComponent, str | None]]  # with destination
    end: str | None  # "closed" or "cancelled"
    disposition: Disposition | None
    place: Place  # where the document's incident is, located as intake locates it
    # What the sender said the incident is, when Arverne has no equivalent type (or none
    # was stated): the incident is then to be qualified, and an update never overrides
    # the type a dispatcher sets here.
    stated_type: str | None = None


def plan_of(doc: EidoDocument, city: CityModel) -> Plan:
    """Read and check what ``doc`` asks for, before anything is written.

    Raises
    ------
    InvalidInputError
        Naming the EIDO field that cannot be accepted (type, location, call, disposition).
    """
    inc = doc.incident_component
    type_code = em.to_arverne_type(
        inc.incident_type_internal_code, inc.incident_type_common_registry_text
    )
    field, lon, lat, address = em.incident_location(doc)
    try:
        place, _ = locate(city, lon, lat, address)
    except InvalidInputError as exc:
        raise InvalidInputError(field, exc.message) from None
    notes = doc.notes_by_id()
    used = {r.ref for c in doc.call_component for r in c.notes_reference}
    described = [r.ref for r in inc.notes_reference if r.ref in notes]
    description = "\n".join(note_text(notes[n].notes_action_comments) for n in described) or None
    incident_in = em.build_input(
        IncidentIn,
        "incidentComponent",
        type_code=type_code or UNQUALIFIED,  # taken all the same, qualified here
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
    return Plan(
        incident_in=incident_in,
        calls=em.call_inputs(doc),
        notes=free_notes,
        resources=[
            (r, em.location_text(doc, r.unit_destination_reference))
            for r in doc.emergency_resource_component
        ],
        end=end,
        disposition=disposition,
        place=place,
        stated_type=None if type_code else em.stated_type(inc),
    )


def _import_lines(kinds: tuple[str, ...]) -> Select[Any]:
    return select(DutyLogEntry.incident_id).where(DutyLogEntry.kind.in_(kinds)).limit(1)


def find_import(session: Session, *, tracking: str) -> int | None:
    """Return the id of the incident already imported from this foreign incident."""
    data: Any = DutyLogEntry.data  # JSON path operators are untyped in SQLAlchemy
    found = session.scalar(
        _import_lines((IMPORT_KIND,)).where(data["incident_tracking_id"].as_string() == tracking)
    )
    return int(found) if found is not None else None


def find_message(session: Session, message: str) -> int | None:
    """Return the id of the incident an EIDO message was already applied to."""
    data: Any = DutyLogEntry.data
    found = session.scalar(
        _import_lines((IMPORT_KIND, UPDATE_KIND)).where(data["message_id"].as_string() == message)
    )
    return int(found) if found is not None else None


def known_incident(session: Session, tracking: str, own_agency: str | None) -> int | None:
    """This system's incident with this tracking id: one of its own, or one imported."""
    local = local_incident_id(tracking, own_agency) if own_agency else None
    if local is not None and own_agency:
        incident = session.get(Incident, local)
        if incident is not None and tracking_id(incident, AgencyInfo(own_agency, "")) == tracking:
            return local
    return find_import(session, tracking=tracking)


def followed_incident(
    session: Session, tracking: str, own_agency: str | None
) -> conv.KnownIncident | None:
    """The incident a conveyance subscription names by its tracking id (as
    :func:`known_incident`), with how long ago it was closed (``None``: open)."""
    incident_id = known_incident(session, tracking, own_agency)
    incident = session.get(Incident, incident_id) if incident_id is not None else None
    if incident is None:
        return None
    if incident.status in service.OPEN_STATUSES:
        return conv.KnownIncident(incident.id)
    closed = incident.closed_at or incident.updated_at
    return conv.KnownIncident(incident.id, (utcnow() - closed).total_seconds())


_MERGE_WORDS = {es.REPLACED: "fusionné dans", es.REPLACING: "a repris", es.SPLIT: "scindé avec"}


def relations_of(
    session: Session, doc: EidoDocument, own_agency: str | None
) -> tuple[dict[str, Any], str]:
    """The document's merges and links as duty-log data, and as words for the line."""
    facts: dict[str, Any] = {}
    words = []
    merges = []
    for merge in doc.merge_component:
        known = known_incident(session, merge.incident_tracking_identifier, own_agency)
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
            "incident_id": known_incident(session, link.incident_tracking_identifier, own_agency),
        }
        for link in doc.link_component
    ]
    words += [f"lié à {x['tracking_id']} ({x['direction']})" for x in links]
    if merges:
        facts["merges"] = merges
    if links:
        facts["links"] = links
    return facts, "".join(f" ; {w}" for w in words)


def log_notes(
    session: Session,
    ctx: AuditContext,
    incident_id: int,
    doc: EidoDocument,
    notes: list[es.NotesComponent],
) -> None:
    """Write the document's free notes as ``eido_note`` duty-log lines (author, time and
    text of the original kept in the line's data, with the note's id)."""
    sender = doc.sending_system_identifier
    agents = doc.agent_names()
    for note in notes:
        author = agents.get(note.agent_reference.ref, sender) if note.agent_reference else sender
        at, text = (
            note.last_update_time_stamp or doc.last_update_time_stamp,
            note_text(note.notes_action_comments),
        )
        dutylog.log(
            session,
            ctx,
            kind="eido_note",
            incident_id=incident_id,
            text=f"[EIDO {sender}] {author} : {text}",
            data={
                "original_at": at.astimezone(dt.UTC).isoformat(),
                "original_author": author,
                "original_text": text,
                "note_id": note.id,
            },
        )


def resource_data(res: es.EmergencyResourceComponent, destination: str | None) -> dict[str, Any]:
    """A foreign resource as kept in its ``eido_resource`` line's data."""
    data = res.model_dump(mode="json", by_alias=True, exclude_none=True)
    if destination:
        data["destination"] = destination
    return data


def log_resources(
    session: Session,
    ctx: AuditContext,
    incident_id: int,
    resources: list[tuple[es.EmergencyResourceComponent, str | None]],
) -> None:
    """Write foreign resources (not Arverne units) as ``eido_resource`` duty-log lines."""
    for res, destination in resources:
        dutylog.log(
            session,
            ctx,
            kind="eido_resource",
            incident_id=incident_id,
            text=f"Ressource externe {res.emergency_resource_name} : "
            f"{res.primary_unit_status_registry_text}/{res.secondary_unit_status_registry_text}"
            + (f", transport vers {destination}" if destination else ""),
            data=resource_data(res, destination),
        )


def end_as_told(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident: Incident,
    plan: Plan,
    relations: dict[str, Any],
    sender: str,
) -> None:
    """Close or cancel ``incident`` as the document says (a cancelled incident merged
    into a known one points at it); nothing if the document's incident is open."""
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
                if es.is_code(m["direction"], es.REPLACED) and m["incident_id"] is not None
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
