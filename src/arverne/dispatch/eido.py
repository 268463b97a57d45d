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
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import eido_schemas as es
from arverne.dispatch import flows, service
from arverne.dispatch.city import CityModel
from arverne.dispatch.eido_schemas import EidoDocument, Ref
from arverne.dispatch.models import Assignment, Call, DutyLogEntry, Incident
from arverne.dispatch.schemas import CallIn, CancelIn, CloseIn, Disposition, IncidentIn
from arverne.dispatch.status import UnavailableReason, UnitStatus, eido_status
from arverne.dispatch.taxonomy import TYPES_BY_CODE
from arverne.errors import ConflictError, InvalidInputError
from arverne.security import audit
from arverne.security.audit import AuditContext, lock_chain
from arverne.store.types import utcnow

NOTE_KINDS = ("note", "correction", "eido_note")
IMPORT_KIND = "eido_import"


@dataclasses.dataclass(frozen=True, slots=True)
class AgencyInfo:
    """This system as an EIDO agency: a NENA-STA-010 style identifier, a name, a zone."""

    identifier: str
    name: str
    zone: dt.tzinfo = dt.UTC


def tracking_id(incident: Incident, agency: AgencyInfo) -> str:
    """Return the globally unique incident tracking identifier of a local incident."""
    return f"urn:emergency:uid:incidentid:{incident.number}:{agency.identifier}"


def resource_status(assignment: Assignment) -> tuple[str, str, list[str]]:
    """Primary, secondary and internal EIDO status of a unit on one assignment.

    An open assignment shows the unit's status; a released one shows ``Cleared`` (or
    ``AssignmentCancelled``) with the unit's current availability.
    """
    unit = assignment.unit
    reason = UnavailableReason(unit.status_reason) if unit.status_reason else None
    primary, secondary = eido_status(UnitStatus(unit.status), reason)
    if assignment.released_at is None:
        return primary, secondary, [unit.status]
    why = assignment.release_reason or "cleared"
    cancelled = why.startswith("cancelled") or why in {"preempted", "reassigned"}
    return primary, "AssignmentCancelled" if cancelled else "Cleared", [why]


# --- export --------------------------------------------------------------------------
class _Exporter:
    """Collects the components of one document (agents and notes are shared)."""

    def __init__(self, incident: Incident, agency: AgencyInfo) -> None:
        self.incident = incident
        self.agency = agency
        self.agency_ref = Ref(ref=agency.identifier)
        self.prefix = f"urn:arverne:{agency.identifier}:{incident.number}"
        self.agents: dict[str, es.AgentComponent] = {}
        self.notes: list[es.NotesComponent] = []

    def id(self, kind: str, key: object) -> str:
        return f"{self.prefix}:{kind}:{key}"

    def t(self, value: dt.datetime | None) -> dt.datetime | None:
        return value.astimezone(self.agency.zone) if value is not None else None

    def agent(self, name: str) -> Ref:
        aid = self.id("agent", hashlib.sha256(name.encode()).hexdigest()[:12])
        if aid not in self.agents:
            self.agents[aid] = es.AgentComponent(
                id=aid,
                agent_role_registry_text=["Dispatcher"],
                agency_reference=self.agency_ref,
                agent_jcard=es.jcard(name),
            )
        return Ref(ref=aid)

    def note(self, key: object, text: str, author: str, at: dt.datetime) -> Ref:
        nid = self.id("note", key)
        self.notes.append(
            es.NotesComponent(
                id=nid,
                last_update_time_stamp=self.t(at),
                notes_action_comments=text,
                agent_reference=self.agent(author),
            )
        )
        return Ref(ref=nid)

    def call(
        self, call: Call, location: Ref, persons: list[es.PersonComponent] | None
    ) -> es.CallComponent:
        """The call; its caller is appended to ``persons`` unless that is ``None``."""
        call_id = f"urn:emergency:uid:callid:{call.id}:{self.agency.identifier}"
        person_refs = []
        if persons is not None and (call.caller_name or call.caller_phone):
            pid = self.id("person", call.id)
            persons.append(
                es.PersonComponent.caller(pid, call_id, call.caller_name, call.caller_phone)
            )
            person_refs.append(Ref(ref=pid))
        notes = []
        if call.description:
            notes.append(
                self.note(f"call{call.id}", call.description, call.taken_by, call.received_at)
            )
        return es.CallComponent(
            id=self.id("call", call.id),
            last_update_time_stamp=self.t(call.received_at),
            call_identifier=call_id,
            standard_primary_call_type=(
                "Emergency" if call.channel in ("emergency", "alarm") else "NonEmergency"
            ),
            local_call_type=call.channel,
            direction="incoming",
            call_start_timestamp=call.received_at.astimezone(self.agency.zone),
            call_state_registry_text="callEnd",
            agent_reference=[self.agent(call.taken_by)],
            location_reference=[location],
            person_reference=person_refs,
            notes_reference=notes,
        )

    def resource(self, a: Assignment) -> tuple[es.EmergencyResourceComponent, es.DispatchComponent]:
        unit = a.unit
        primary, secondary, internal = resource_status(a)
        common, internal_type = es.resource_type(unit.unit_type)
        eta = a.dispatched_at + dt.timedelta(seconds=a.eta_s) if a.eta_s is not None else None
        rid = self.id("resource", a.id)
        resource = es.EmergencyResourceComponent(
            id=rid,
            last_update_time_stamp=self.t(
                a.released_at or a.arrived_at or a.en_route_at or a.dispatched_at
            ),
            emergency_resource_name=unit.call_sign,
            emergency_resource_type_common_registry_text=common,
            emergency_resource_type_internal_text=internal_type,
            resource_attribute_registry_text=list(unit.capabilities or []),
            primary_unit_status_registry_text=primary,
            secondary_unit_status_registry_text=secondary,
            unit_status_internal=internal,
            eta=self.t(eta),
            dispatch_time_stamp=self.t(a.dispatched_at),
            en_route_time_stamp=self.t(a.en_route_at),
            on_scene_time_stamp=self.t(a.arrived_at),
            cleared_time_stamp=self.t(a.released_at),
        )
        dispatch = es.DispatchComponent(
            id=self.id("dispatch", a.id),
            last_update_time_stamp=self.t(a.dispatched_at),
            agency_reference=self.agency_ref,
            agent_reference=self.agent(a.dispatched_by),
            emergency_resource_reference=[Ref(ref=rid)],
        )
        return resource, dispatch


def export_incident(
    incident: Incident,
    *,
    agency: AgencyInfo,
    include_personal: bool,
    log: Sequence[DutyLogEntry] = (),
) -> EidoDocument:
    """Describe an incident as an EIDO document.

    Parameters
    ----------
    incident
        The incident, with its calls and assignments loaded.
    agency
        This system's agency identity and the time zone of the timestamps.
    include_personal
        Whether callers' names and phone numbers are included (person components); the
        caller of this function checks the permission and audits the read.
    log
        The incident's duty-log entries; the narrative ones become notes.

    Returns
    -------
    EidoDocument
        A new message (fresh ``eidoMessageIdentifier``) about the incident.
    """
    ex = _Exporter(incident, agency)
    location = Ref(ref=ex.id("location", 1))
    incident_notes = []
    if incident.description:
        # The first call's time: the description was given then, on either side of an import.
        described_at = incident.calls[0].received_at if incident.calls else incident.created_at
        incident_notes.append(
            ex.note("description", incident.description, incident.created_by, described_at)
        )
    persons: list[es.PersonComponent] = []
    calls = [ex.call(c, location, persons if include_personal else None) for c in incident.calls]
    pairs = [ex.resource(a) for a in incident.assignments]
    for entry in log:
        if entry.kind in NOTE_KINDS:
            data = entry.data or {}
            at = entry.at
            if "original_at" in data:
                at = dt.datetime.fromisoformat(str(data["original_at"]))
            text = str(data.get("original_text", entry.text))
            ex.note(entry.id, text, str(data.get("original_author", entry.author)), at)
    itype = TYPES_BY_CODE[incident.type_code]
    common_status, internal_status = es.incident_statuses(incident.status)
    dispositions = []
    if incident.disposition:
        dispositions.append(
            es.DispositionComponent(
                id=ex.id("disposition", 1),
                last_update_time_stamp=ex.t(incident.closed_at),
                disposition_common_registry_code=es.COMMON_DISPOSITIONS.get(
                    incident.disposition, "Other"
                ),
                disposition_primary_indicator=True,
                disposition_category_text=incident.disposition,
            )
        )
    now = utcnow().astimezone(agency.zone)
    tid = tracking_id(incident, agency)
    return EidoDocument(
        eido_message_identifier=f"urn:uuid:{uuid.uuid4()}",
        last_update_time_stamp=now,
        sending_system_identifier=agency.identifier,
        issuing_element_identification=agency.identifier,
        updated_by_agency_reference=ex.agency_ref,
        incident_component=es.IncidentComponent(
            id=ex.id("incident", incident.id),
            last_update_time_stamp=ex.t(incident.updated_at),
            updated_by_agency_reference=ex.agency_ref,
            incident_tracking_identifier=tid,
            internal_incident_id=incident.number,
            incident_type_common_registry_text=es.common_incident_type(itype),
            incident_type_internal_code=itype.code,
            incident_type_internal_text=itype.label_fr,
            incident_status_common_registry_text=common_status,
            incident_status_internal_text=internal_status,
            incident_common_priority_number=es.PRIORITY_TO_COMMON[incident.priority],
            incident_priority_internal_text=f"P{incident.priority}",
            beat_or_dispatch_group_text=incident.district,
            incident_creation_time_stamp=ex.t(incident.created_at),
            incident_closure_time_stamp=ex.t(incident.closed_at),
            disposition_component=dispositions,
            location_reference=[location],
            agent_reference=[ex.agent(incident.created_by)],
            person_reference=[Ref(ref=p.id) for p in persons],
            notes_reference=incident_notes,
        ),
        call_component=calls,
        location_component=[
            es.LocationComponent(
                id=location.ref,
                last_update_time_stamp=ex.t(incident.updated_at),
                location_type_description_registry_text="CurrentIncident",
                location_by_value=es.pidf_lo(
                    lon=incident.lon,
                    lat=incident.lat,
                    entity=tid,
                    at=now,
                    street=incident.street,
                    district=incident.district,
                    address=incident.address,
                ),
                location_description_text=incident.address,
            )
        ],
        emergency_resource_component=[r for r, _ in pairs],
        dispatch_component=[d for _, d in pairs],
        agency_component=[
            es.AgencyComponent(
                id=agency.identifier,
                agency_type=["urn:emergency:service:responder.police"],
                agency_role_description_registry_text=["CallReceiving", "Dispatching"],
                incident_owning_agency_indicator=True,
                agency_jcard=es.jcard(agency.name),
            )
        ],
        agent_component=list(ex.agents.values()),
        person_component=persons,
        notes_component=ex.notes,
    )


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
    type_code = es.to_arverne_type(
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
    field, lon, lat, address = es.incident_location(doc)
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
    incident_in = es.build_input(
        IncidentIn,
        "incidentComponent",
        type_code=type_code,
        priority=es.to_arverne_priority(
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
    end, disposition = es.closing(inc)
    return _Plan(
        incident_in=incident_in,
        calls=es.call_inputs(doc),
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
