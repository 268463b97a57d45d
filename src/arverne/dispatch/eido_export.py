"""NENA EIDO (NENA-STA-021) export of an incident (see :mod:`arverne.dispatch.eido`).

Merges travel as root ``mergeComponent`` entries: a merged incident names the incident
it went into (``REPLACED``), the incident that stayed names each incident merged into it
(``REPLACING``), with the time of the merge and its reason (``transactionReasonText``,
an Arverne extension). A split is a ``SPLIT`` entry on both sides, naming the other
incident. A unit moved by a merge or a split keeps its own status on the merged
incident (``unitStatusInternal`` ``merged``): it was neither stood down nor cleared. A
transport destination is a ``Destination`` location referenced by the resource's
``unitDestinationReference``. Every component gets the prologue NENA's schema requires
(:func:`_complete_prologues`); the names are in :mod:`arverne.dispatch.eido_schemas`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from arverne.dispatch import eido_mapping as em
from arverne.dispatch import eido_schemas as es
from arverne.dispatch.eido_html import note_html
from arverne.dispatch.eido_schemas import EidoDocument, Ref
from arverne.dispatch.links import links_of
from arverne.dispatch.models import Assignment, Call, DutyLogEntry, Incident
from arverne.dispatch.status import UnavailableReason, UnitStatus, eido_status
from arverne.dispatch.taxonomy import TYPES_BY_CODE
from arverne.security.models import AuditEntry
from arverne.store.types import utcnow

NOTE_KINDS = ("note", "correction", "eido_note")
IMPORT_KIND = "eido_import"
UPDATE_KIND = "eido_update"  # a later message applied to an imported incident
# Release reasons of a unit that went on with the same event under another incident.
MOVED = frozenset({"merged", "split"})
_TRACKING = "urn:emergency:uid:incidentid:"


@dataclasses.dataclass(frozen=True, slots=True)
class AgencyInfo:
    """This system as an EIDO agency: a NENA-STA-010 style identifier, a name, a zone."""

    identifier: str
    name: str
    zone: dt.tzinfo = dt.UTC


def tracking_id(incident: Incident, agency: AgencyInfo) -> str:
    """Return the globally unique incident tracking identifier of a local incident."""
    return f"{_TRACKING}{incident.number}:{agency.identifier}"


def tracking_segment(tracking: str) -> str:
    """A tracking id as one path segment of a retrieval URI (``…/incidents/{segment}``):
    percent-encoded, so that a partner's id holding "/", "?" or "#" stays in the path."""
    return quote(tracking, safe=":@")


def local_incident_id(tracking: str, agency: str) -> int | None:
    """The incident id in a tracking id shaped like this agency's, else ``None``.

    Only the shape is checked: the caller makes sure the incident exists and that its
    :func:`tracking_id` is ``tracking``.
    """
    suffix = f":{agency}"
    if not (tracking.startswith(_TRACKING) and tracking.endswith(suffix)):
        return None
    year, _, serial = tracking[len(_TRACKING) : -len(suffix)].partition("-")
    return int(serial) if year.isdigit() and serial.isdigit() else None


def resource_status(assignment: Assignment) -> tuple[str, str, list[str]]:
    """Primary, secondary and internal EIDO status of a unit on one assignment.

    An open assignment shows the unit's status; a released one shows ``Cleared`` (or
    ``AssignmentCancelled``) with the unit's current availability. A unit moved to
    another incident by a merge or a split still works on the same event: it keeps its
    own status, with the reason (``merged``, ``split``) as the internal status.
    """
    unit = assignment.unit
    reason = UnavailableReason(unit.status_reason) if unit.status_reason else None
    primary, secondary = eido_status(UnitStatus(unit.status), reason)
    if assignment.released_at is None:
        return primary, secondary, [unit.status]
    why = assignment.release_reason or "cleared"
    if why in MOVED:
        return primary, secondary, [why]
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
        self.locations: list[es.LocationComponent] = []

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
                notes_action_comments=note_html(text),  # the schema's HTML5
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
            caller = es.PersonComponent.caller(pid, call_id, call.caller_name, call.caller_phone)
            caller.last_update_time_stamp = self.t(call.received_at)
            persons.append(caller)
            person_refs.append(Ref(ref=pid))
        notes = []
        if call.description:
            notes.append(
                self.note(f"call{call.id}", call.description, call.taken_by, call.received_at)
            )
        return es.CallComponent(
            id=call_id,  # the call's global id, which a person's callIdentifier names
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
        updated = self.t(a.released_at or a.arrived_at or a.en_route_at or a.dispatched_at)
        destination = None
        if a.transport_to:
            destination = Ref(ref=self.id("destination", a.id))
            self.locations.append(
                es.LocationComponent(
                    id=destination.ref,
                    last_update_time_stamp=updated,
                    location_type_description_registry_text="Destination",
                    location_description_text=a.transport_to,
                )
            )
        resource = es.EmergencyResourceComponent(
            id=rid,
            last_update_time_stamp=updated,
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
            cleared_time_stamp=None if a.release_reason in MOVED else self.t(a.released_at),
            unit_destination_reference=destination,
        )
        dispatch = es.DispatchComponent(
            id=self.id("dispatch", a.id),
            last_update_time_stamp=self.t(a.dispatched_at),
            agency_reference=self.agency_ref,
            agent_reference=self.agent(a.dispatched_by),
            emergency_resource_reference=[Ref(ref=rid)],
        )
        return resource, dispatch

    def merges(self, session: Session) -> list[es.MergeComponent]:
        """The incident this one went into, the incidents merged into it, then splits."""
        incident = self.incident
        kept = session.get(Incident, incident.merged_into_id) if incident.merged_into_id else None
        absorbed = session.scalars(
            select(Incident).where(Incident.merged_into_id == incident.id).order_by(Incident.id)
        ).all()
        pairs = [(incident, kept, es.REPLACED)] if kept is not None else []
        pairs += [(other, other, es.REPLACING) for other in absorbed]
        facts = _merge_facts(session, [merged.id for merged, _, _ in pairs])
        components = []
        for merged, other, direction in pairs:
            reason, at = facts.get(merged.id, (None, None))
            components.append(
                es.MergeComponent(
                    id=self.id("merge", other.id),
                    last_update_time_stamp=self.t(at or merged.closed_at),
                    incident_tracking_identifier=tracking_id(other, self.agency),
                    incident_merge_direction_code=direction,
                    transaction_reason_text=reason,
                )
            )
        return components + self.splits(session)

    def splits(self, session: Session) -> list[es.MergeComponent]:
        """``SPLIT`` entries: the incident this one was split out of, then those split
        out of it; the time is the new incident's creation, the reason the audited one."""
        incident = self.incident
        source = session.get(Incident, incident.split_from_id) if incident.split_from_id else None
        parts = session.scalars(
            select(Incident).where(Incident.split_from_id == incident.id).order_by(Incident.id)
        ).all()
        pairs = [(source, incident)] if source is not None else []
        pairs += [(incident, part) for part in parts]
        reasons = _split_reasons(session, sorted({s.id for s, _ in pairs}))
        return [
            es.MergeComponent(
                id=self.id("split", (part if src is incident else src).id),
                last_update_time_stamp=self.t(part.created_at),
                incident_tracking_identifier=tracking_id(
                    part if src is incident else src, self.agency
                ),
                incident_merge_direction_code=es.SPLIT,
                transaction_reason_text=reasons.get(part.id),
            )
            for src, part in pairs
        ]

    def links(self, session: Session) -> list[es.LinkComponent]:
        """``RELATED`` links to the incidents linked to this one (active links only)."""
        components = []
        for link in links_of(session, self.incident.id):
            other = session.get(Incident, link.incident_id)
            assert other is not None  # links_of read it
            components.append(
                es.LinkComponent(
                    id=self.id("link", other.id),
                    last_update_time_stamp=self.t(link.created_at),
                    incident_tracking_identifier=tracking_id(other, self.agency),
                    link_direction_code=es.RELATED,
                    transaction_reason_text=link.reason,
                )
            )
        return components


def _split_reasons(session: Session, source_ids: list[int]) -> dict[int, str | None]:
    """The audited reason of each split out of ``source_ids``, by new incident id."""
    if not source_ids:
        return {}
    rows = session.execute(
        select(AuditEntry.details, AuditEntry.reason)
        .where(AuditEntry.action == "incident.split", AuditEntry.object_type == "incident")
        .where(AuditEntry.object_id.in_([str(i) for i in source_ids]))
    )
    found: dict[int, str | None] = {}
    for row in rows:
        details: dict[str, Any] = row[0] or {}
        reason: str | None = row[1]
        if "new" in details:
            found[int(details["new"])] = reason
    return found


def _merge_facts(
    session: Session, merged_ids: list[int]
) -> dict[int, tuple[str | None, dt.datetime | None]]:
    """Reason and time (when not the closing time) of the merge of each incident.

    A merge made here has its reason in the audit entry ``incident.merge``; a merge
    learnt from an EIDO has its reason and time in the ``eido_import`` or
    ``eido_update`` line (the latest one that has it).
    """
    if not merged_ids:
        return {}
    facts: dict[int, tuple[str | None, dt.datetime | None]] = {}
    imported = session.scalars(
        select(DutyLogEntry)
        .where(DutyLogEntry.kind.in_((IMPORT_KIND, UPDATE_KIND)))
        .where(DutyLogEntry.incident_id.in_(merged_ids))
        .order_by(DutyLogEntry.id)
    )
    for entry in imported:
        merges: list[dict[str, Any]] = (entry.data or {}).get("merges", [])
        into = next((m for m in merges if es.is_code(m.get("direction"), es.REPLACED)), None)
        if entry.incident_id is not None and into is not None:
            at = dt.datetime.fromisoformat(into["at"]) if into.get("at") else None
            facts[entry.incident_id] = (into.get("reason"), at)
    audited = session.execute(
        select(AuditEntry.object_id, AuditEntry.reason)
        .where(AuditEntry.action == "incident.merge", AuditEntry.object_type == "incident")
        .where(AuditEntry.object_id.in_([str(i) for i in merged_ids]))
    )
    for object_id, reason in audited:
        facts[int(str(object_id))] = (reason, None)
    return facts


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
        The incident, with its calls and assignments loaded, attached to its session
        (the incidents it was merged with, and the merge reasons, are read from it).
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

    Raises
    ------
    ValueError
        If ``incident`` is not attached to a session.
    """
    session = object_session(incident)
    if session is None:
        raise ValueError(
            "incident must be attached to a session: its merges are read from the database"
        )
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
    doc = EidoDocument(
        id=tid,
        eido_message_identifier=f"urn:uuid:{uuid.uuid4()}",
        last_update_time_stamp=now,
        sending_system_identifier=agency.identifier,
        issuing_element_identification=agency.identifier,
        updated_by_agency_reference=ex.agency_ref,
        merge_component=ex.merges(session),
        link_component=ex.links(session),
        incident_component=es.IncidentComponent(
            id=ex.id("incident", incident.id),
            last_update_time_stamp=ex.t(incident.updated_at),
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
            ),
            *ex.locations,
        ],
        emergency_resource_component=[r for r, _ in pairs],
        dispatch_component=[d for _, d in pairs],
        agency_component=[
            es.AgencyComponent(
                id=agency.identifier,
                agency_type=["police"],  # urn:emergency:service:responder. left out
                agency_role_description_registry_text=["CallReceiving", "Dispatching"],
                incident_owning_agency_indicator=True,
                agency_jcard=es.jcard(agency.name),
            )
        ],
        agent_component=list(ex.agents.values()),
        person_component=persons,
        notes_component=ex.notes,
    )
    return _complete_prologues(doc, ex.agency_ref, now)


def _complete_prologues(doc: EidoDocument, agency: Ref, at: dt.datetime) -> EidoDocument:
    """Give every component the prologue NENA's schema requires: the agency that last
    updated it, and a time (the document's when the component has none of its own)."""
    components: list[es.Component] = [doc.incident_component]
    components += doc.incident_component.disposition_component
    for group in (
        doc.merge_component, doc.link_component, doc.call_component, doc.location_component,
        doc.emergency_resource_component, doc.dispatch_component, doc.agency_component,
        doc.agent_component, doc.person_component, doc.notes_component,
    ):  # fmt: skip
        components += group
    for component in components:
        if component.updated_by_agency_reference is None:
            component.updated_by_agency_reference = agency
        if component.last_update_time_stamp is None:
            component.last_update_time_stamp = at
    return doc
