"""NENA EIDO (NENA-STA-021) export of an incident (see :mod:`arverne.dispatch.eido`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence

from arverne.dispatch import eido_mapping as em
from arverne.dispatch import eido_schemas as es
from arverne.dispatch.eido_schemas import EidoDocument, Ref
from arverne.dispatch.models import Assignment, Call, DutyLogEntry, Incident
from arverne.dispatch.status import UnavailableReason, UnitStatus, eido_status
from arverne.dispatch.taxonomy import TYPES_BY_CODE
from arverne.store.types import utcnow

NOTE_KINDS = ("note", "correction", "eido_note")


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
        common, internal_type = em.resource_type(unit.unit_type)
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
    common_status, internal_status = em.incident_statuses(incident.status)
    dispositions = []
    if incident.disposition:
        dispositions.append(
            es.DispositionComponent(
                id=ex.id("disposition", 1),
                last_update_time_stamp=ex.t(incident.closed_at),
                disposition_common_registry_code=em.COMMON_DISPOSITIONS.get(
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
            incident_type_common_registry_text=em.common_incident_type(itype),
            incident_type_internal_code=itype.code,
            incident_type_internal_text=itype.label_fr,
            incident_status_common_registry_text=common_status,
            incident_status_internal_text=internal_status,
            incident_common_priority_number=em.PRIORITY_TO_COMMON[incident.priority],
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
                location_by_value=em.pidf_lo(
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
