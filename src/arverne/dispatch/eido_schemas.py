"""The NENA EIDO wire format (NENA-STA-021): pydantic models of the document.

Field names are the standard's camelCase names (pydantic aliases); Python attributes are
snake_case. Components carry the common prologue (``$id``, ``lastUpdateTimeStamp``);
components refer to each other with ``{"$ref": "<$id>"}`` objects, as in the standard.
Unknown fields are ignored on input, so documents with components Arverne does not use
(vehicles, alarms, callbacks...) still validate. See :mod:`arverne.dispatch.eido`
for what is covered and what is not.

Names, required fields and code lists follow NENA's published OpenAPI schema of the EIDO
(``EIDO-JSON``, ``Schema/openapi.yaml``, version 1.0.0), checked on 2026-12-06:

- the root's ``$id`` is the incident tracking id (``urn:emergency:uid:incidentid:...``);
  Arverne also writes ``eidoMessageIdentifier`` (one per message) and, for the Arverne
  versions before that check, ``incidentComponent.incidentTrackingIdentifier``. On input
  the tracking id is that field, else the root ``$id``; the message id is
  ``eidoMessageIdentifier``, else the root ``$id`` with ``lastUpdateTimeStamp``;
- every component carries the prologue (``$id``, ``lastUpdateTimeStamp``,
  ``updatedByAgencyReference``);
- ``mergeComponent`` and ``linkComponent`` are root lists; a merge names the other
  incident (``incidentTrackingIdentifier``) and an ``incidentMergeDirectionCode`` read
  from this document's incident (``REPLACED``: it went into the other one;
  ``REPLACING``: the other one went into it; ``SPLIT``); a link has a
  ``linkDirectionCode`` (``PARENT``, ``CHILD``, ``RELATED``, ``UNLINK``) and a
  ``transactionReasonText``. Codes are read in any case and written in upper case. On a
  merge, ``transactionReasonText`` is an Arverne extension borrowed from the link;
- a resource has ``agentReference`` (a list) and ``secondaryUnitStatusRegistryText`` (a
  list), and points at where it is taking someone with ``unitDestinationReference`` (a
  location of type ``Destination``); ``agencyJcard`` and ``agentJcard`` are strings
  holding a jCard (a jCard array is accepted on input).

Registry mappings, PIDF-LO and the readers are in :mod:`arverne.dispatch.eido_mapping`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

EIDO_VERSION = "1.0"
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Timestamp = AwareDatetime  # NENA-STA-010 timestamps always carry their UTC offset
_M = TypeVar("_M", bound=BaseModel)


def _either(name: str, *others: str) -> dict[str, Any]:
    """Field arguments: written as ``name``, read as ``name`` or one of ``others``."""
    return {"validation_alias": AliasChoices(name, *others), "serialization_alias": name}


# The incident type of a document that has no incidentComponent (none is stated).
TYPE_NOT_STATED = "(not stated)"


class _Eido(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=False
    )


class Ref(_Eido):
    """A reference to another component of the same document (``{"$ref": id}``)."""

    ref: Ident = Field(alias="$ref")


class _Component(_Eido):
    """The prologue common to every data component."""

    id: Ident = Field(alias="$id")
    last_update_time_stamp: Timestamp | None = Field(
        default=None, **_either("lastUpdateTimeStamp", "lastUpdateTimestamp")
    )
    updated_by_agency_reference: Ref | None = None


def _jcard_in(value: object) -> object:
    """A jCard given as the schema's string (its JSON text), or as the array itself."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None  # not a jCard: the name is unknown, the rest of the agent stands
    return value


def _jcard_out(value: list[Any] | None) -> str | None:
    """A jCard as the schema writes it: a string holding its JSON text."""
    return None if value is None else json.dumps(value, ensure_ascii=False)


# A jCard: the schema's string on output, that string or the array itself on input.
JCard = Annotated[
    list[Any] | None,
    BeforeValidator(_jcard_in),
    PlainSerializer(_jcard_out, return_type=str | None),
]
Component = _Component  # any data component (its prologue), for code that walks them


class AgencyComponent(_Component):
    """An agency involved in the incident (``AgencyType``)."""

    agency_type: list[Ident] = Field(default_factory=list)
    agency_role_description_registry_text: list[Ident] = Field(default_factory=list)
    incident_owning_agency_indicator: bool | None = None
    agency_jcard: JCard = Field(default=None, alias="agencyJcard")


class AgentComponent(_Component):
    """A person or automaton acting for an agency (``AgentType``)."""

    agent_role_registry_text: list[Ident] = Field(default_factory=list)
    agency_reference: Ref | None = None
    agent_jcard: JCard = Field(default=None, alias="agentJcard")


class DispositionComponent(_Component):
    """How an agency's part in the incident ended (``DispositionType``)."""

    disposition_common_registry_code: Ident
    disposition_primary_indicator: bool | None = None
    disposition_category_text: Ident | None = None
    disposition_description_text: Text | None = None


class IncidentComponent(_Component):
    """General information about the incident (``IncidentInformationType``).

    ``incidentCreationTimeStamp`` and ``incidentClosureTimeStamp`` are Arverne
    extensions: the standard leaves these times to the log events of NENA-STA-010.
    """

    incident_tracking_identifier: Ident
    internal_incident_id: Ident | None = None
    incident_type_common_registry_text: Ident
    incident_type_internal_code: Ident | None = None
    incident_type_internal_text: Ident | None = None
    incident_status_common_registry_text: list[Ident] = Field(default_factory=list)
    incident_status_internal_text: list[Ident] = Field(default_factory=list)
    incident_common_priority_number: int | None = None
    incident_priority_internal_text: Ident | None = None
    beat_or_dispatch_group_text: Ident | None = None
    incident_creation_time_stamp: Timestamp | None = None
    incident_closure_time_stamp: Timestamp | None = None
    disposition_component: list[DispositionComponent] = Field(default_factory=list)
    location_reference: list[Ref] = Field(default_factory=list)
    agent_reference: list[Ref] = Field(default_factory=list)
    person_reference: list[Ref] = Field(default_factory=list)
    notes_reference: list[Ref] = Field(default_factory=list)


class CallComponent(_Component):
    """A call about the incident (``CallInformationType``)."""

    call_identifier: Ident | None = None
    standard_primary_call_type: Ident = "Emergency"
    local_call_type: Ident | None = None
    direction: Ident = "incoming"
    call_start_timestamp: Timestamp = Field(**_either("callStartTimestamp", "callStartTimeStamp"))
    call_state_registry_text: Ident | None = None
    agent_reference: list[Ref] = Field(default_factory=list)
    location_reference: list[Ref] = Field(default_factory=list)
    person_reference: list[Ref] = Field(default_factory=list)
    notes_reference: list[Ref] = Field(default_factory=list)


class LocationComponent(_Component):
    """A location (``LocationInformationType``); ``locationByValue`` is a PIDF-LO document."""

    location_type_description_registry_text: Ident = "CurrentIncident"
    location_by_value: Annotated[str, StringConstraints(max_length=20000)] | None = None
    location_description_text: Text | None = None
    location_by_reference_url: Ident | None = None


def _code(value: object, known: tuple[str, ...]) -> object:
    """A code list value in the schema's case (``Replaced`` -> ``REPLACED``); others as
    given."""
    if isinstance(value, str):
        return next((k for k in known if k.lower() == value.strip().lower()), value)
    return value


def is_code(value: object, code: str) -> bool:
    """Whether ``value`` is ``code`` in any case (duty-log data written before 2026-12-06
    kept the codes in title case)."""
    return isinstance(value, str) and value.strip().upper() == code


REPLACED, REPLACING, SPLIT = "REPLACED", "REPLACING", "SPLIT"
MERGE_DIRECTIONS = (REPLACED, REPLACING, SPLIT)
RELATED, UNLINK = "RELATED", "UNLINK"
LINK_DIRECTIONS = ("PARENT", "CHILD", RELATED, UNLINK)


class MergeComponent(_Component):
    """A merge or split between this incident and another (``MergeInformationType``).

    ``lastUpdateTimeStamp`` is the time of the merge; ``incidentMergeDirectionCode`` is
    read from this document's incident (see the module docstring);
    ``transactionReasonText`` is an Arverne extension (the standard has it on links).
    """

    incident_tracking_identifier: Ident
    incident_merge_direction_code: Ident
    transaction_reason_text: Text | None = None

    @field_validator("incident_merge_direction_code", mode="before")
    @classmethod
    def _direction(cls, value: object) -> object:
        return _code(value, MERGE_DIRECTIONS)


class LinkComponent(_Component):
    """Another incident related to this one (``LinkInformationType``)."""

    incident_tracking_identifier: Ident
    link_direction_code: Ident
    transaction_reason_text: Text | None = None
    involved_agency_reference: Ref | None = None

    @field_validator("link_direction_code", mode="before")
    @classmethod
    def _direction(cls, value: object) -> object:
        return _code(value, LINK_DIRECTIONS)


class EmergencyResourceComponent(_Component):
    """A responding unit (``EmergencyResourceType``).

    The ``dispatchTimeStamp``, ``enRouteTimeStamp``, ``onSceneTimeStamp`` and
    ``clearedTimeStamp`` fields are Arverne extensions (the standard conveys unit
    timelines as log events). ``unitDestinationReference`` points at the location the
    unit is taking someone to.
    """

    emergency_resource_name: Ident
    agent_reference: list[Ref] = Field(default_factory=list)
    emergency_resource_type_common_registry_text: Ident | None = None
    emergency_resource_type_internal_text: Ident | None = None
    resource_attribute_registry_text: list[Ident] = Field(default_factory=list)
    primary_unit_status_registry_text: Ident
    secondary_unit_status_registry_text: Ident | None = None
    unit_status_internal: list[Ident] = Field(default_factory=list)
    eta: Timestamp | None = None
    dispatch_time_stamp: Timestamp | None = None
    en_route_time_stamp: Timestamp | None = None
    on_scene_time_stamp: Timestamp | None = None
    cleared_time_stamp: Timestamp | None = None
    unit_destination_reference: Ref | None = None

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: object) -> object:
        # The schema leaves the name optional: a resource without one goes by its $id.
        if isinstance(data, dict) and not data.get("emergencyResourceName") and "$id" in data:
            return {**data, "emergencyResourceName": data["$id"]}
        return data

    @field_validator("secondary_unit_status_registry_text", mode="before")
    @classmethod
    def _first_secondary(cls, value: object) -> object:
        # The schema makes the secondary status a list: its first value is kept.
        if isinstance(value, list):
            return value[0] if value else None
        return value

    @field_serializer("secondary_unit_status_registry_text")
    def _secondary_as_list(self, value: str | None) -> list[str]:
        return [value] if value else []


class DispatchComponent(_Component):
    """A dispatch action (``DispatchInformationType``)."""

    agency_reference: Ref | None = None
    agent_reference: Ref | None = None
    emergency_resource_reference: list[Ref] = Field(default_factory=list)


def _first(value: Any, *path: str) -> str | None:
    """Follow ``path`` through NIEM's nesting, taking the first item of each list, down
    to a text: a ``{"value": ...}`` object (NIEM's simple content) or a bare string."""
    for key in path:
        if isinstance(value, list):
            value = value[0] if value else None
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("value")
    return value if isinstance(value, str) and value.strip() else None


_CONTACTS = ("homeContactInformation", "employmentContactInformation",
             "emergencyContactInformation")  # fmt: skip


class PersonComponent(_Component):
    """A person (``PersonInformationType``); ``ncPersonComponent`` is NIEM Core's
    ``nc:PersonType`` with the names of NENA's schema (``NIEMComponents/nc.yaml``)."""

    person_incident_role_registry_text: list[Ident] = Field(default_factory=list)
    call_identifier: list[Ident] = Field(default_factory=list)
    nc_person_component: dict[str, Any] | None = None

    @classmethod
    def caller(cls, pid: str, call_id: str, name: str | None, phone: str | None) -> Self:
        """The caller of a call, with a name and/or a phone number: ``name`` /
        ``personFullName`` and ``homeContactInformation`` / ``contactTelephoneNumber`` /
        ``full`` / ``telephoneNumberFullID``, lists of objects down to a ``value``."""
        person: dict[str, Any] = {}
        if name:
            person["name"] = [{"personFullName": [{"value": name}]}]
        if phone:
            number = {"full": [{"telephoneNumberFullID": [{"value": phone}]}]}
            person["homeContactInformation"] = [{"contactTelephoneNumber": [number]}]
        return cls(
            id=pid,
            person_incident_role_registry_text=["Caller"],
            call_identifier=[call_id],
            nc_person_component=person,
        )

    def name_and_phone(self) -> tuple[str | None, str | None]:
        """The person's full name and phone number, when given: the schema's names, or
        the capitalised NIEM names Arverne wrote before 2026-12-06."""
        data = self.nc_person_component or {}
        name = _first(data, "name", "personFullName") or _first(
            data, "PersonName", "PersonFullName"
        )
        phone = next(
            (
                found
                for contact in _CONTACTS
                for kind in ("full", "international")
                if (found := _phone(data, contact, kind))
            ),
            None,
        ) or _first(
            data, "ContactInformation", "ContactTelephoneNumber", "FullTelephoneNumber",
            "TelephoneNumberFullID",
        )  # fmt: skip
        return name, phone


def _phone(data: dict[str, Any], contact: str, kind: str) -> str | None:
    """A telephone number under ``contact`` written ``full`` or ``international``."""
    if kind == "full":
        return _first(data, contact, "contactTelephoneNumber", "full", "telephoneNumberFullID")
    country = _first(data, contact, "contactTelephoneNumber", kind, "telephoneCountryCodeID")
    number = _first(data, contact, "contactTelephoneNumber", kind, "telephoneNumberID")
    if not number:
        return None
    return f"+{country.lstrip('+')}{number}" if country else number


class NotesComponent(_Component):
    """A note (``NotesType``); ``lastUpdateTimeStamp`` is the time it was written;
    ``notesActionComments`` is HTML5 (:mod:`arverne.dispatch.eido_html`)."""

    notes_action_comments: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40000)
    ]
    agent_reference: Ref | None = None


class EidoDocument(_Eido):
    """The EIDO root (``EmergencyIncidentDataObjectType``).

    The root ``$id`` is the incident tracking id, which identifies the incident across
    every agency that handles it (see the module docstring for the fallbacks);
    ``eidoMessageIdentifier`` identifies this message. A document without
    ``incidentComponent`` (optional in the schema) is read as an incident whose type is
    :data:`TYPE_NOT_STATED`.
    """

    id: Ident | None = Field(default=None, alias="$id")
    eido_message_identifier: Ident
    eido_version: Ident = EIDO_VERSION
    last_update_time_stamp: Timestamp = Field(
        **_either("lastUpdateTimeStamp", "lastUpdateTimestamp")
    )
    sending_system_identifier: Ident = Field(
        **_either("sendingSystemIdentifier", "issuingElementIdentification")
    )
    issuing_element_identification: Ident | None = None
    updated_by_agency_reference: Ref | None = None
    merge_component: list[MergeComponent] = Field(default_factory=list)
    link_component: list[LinkComponent] = Field(default_factory=list)
    incident_component: IncidentComponent
    call_component: list[CallComponent] = Field(default_factory=list)
    location_component: list[LocationComponent] = Field(default_factory=list)
    emergency_resource_component: list[EmergencyResourceComponent] = Field(default_factory=list)
    dispatch_component: list[DispatchComponent] = Field(default_factory=list)
    agency_component: list[AgencyComponent] = Field(default_factory=list)
    agent_component: list[AgentComponent] = Field(default_factory=list)
    person_component: list[PersonComponent] = Field(default_factory=list)
    notes_component: list[NotesComponent] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _identities(cls, data: object) -> object:
        """The tracking id and the message id where a document gives them another way."""
        if not isinstance(data, dict):
            return data
        root_id = data.get("$id")
        incident = data.get("incidentComponent")
        if isinstance(incident, list) and len(incident) == 1:  # some send a list of one
            incident = incident[0]
        given = isinstance(root_id, str) and bool(root_id.strip())
        alone = incident is None and "incident_component" not in data  # not built in code
        if alone and given:  # optional in the schema: a call transferred alone
            incident = {"$id": root_id, "incidentTypeCommonRegistryText": TYPE_NOT_STATED}
        if isinstance(incident, dict) and not incident.get("incidentTrackingIdentifier") and given:
            incident = {**incident, "incidentTrackingIdentifier": root_id}
        out = {**data, "incidentComponent": incident} if incident is not None else dict(data)
        if not data.get("eidoMessageIdentifier") and given:
            assert isinstance(root_id, str)
            at = data.get("lastUpdateTimeStamp") or data.get("lastUpdateTimestamp")
            out["eidoMessageIdentifier"] = f"{root_id.strip()}@{at}"
        return out

    def notes_by_id(self) -> dict[str, NotesComponent]:
        """Notes indexed by ``$id``."""
        return {n.id: n for n in self.notes_component}

    def agent_names(self) -> dict[str, str]:
        """Display name (jCard ``fn``) of each agent, by ``$id``."""
        return {a.id: jcard_fn(a.agent_jcard) or a.id for a in self.agent_component}


def jcard(fn: str) -> list[Any]:
    """Build a minimal jCard (RFC 7095) with a formatted name."""
    return ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", fn]]]


def jcard_fn(card: list[Any] | None) -> str | None:
    """Return the ``fn`` (formatted name) of a jCard, if any."""
    if not card or len(card) < 2 or not isinstance(card[1], list):
        return None
    for prop in card[1]:
        if isinstance(prop, list) and len(prop) >= 4 and prop[0] == "fn":
            return str(prop[3])
    return None
