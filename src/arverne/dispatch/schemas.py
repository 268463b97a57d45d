"""Wire schemas of the dispatch domain."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from arverne.dispatch.status import UnavailableReason, UnitStatus, UnitType

Lon = Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude")]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class StrictIn(BaseModel):
    """Base of request bodies: an unknown field is refused, so a typo is never ignored."""

    model_config = ConfigDict(extra="forbid")


class Channel(StrEnum):
    """How a call reached the police."""

    EMERGENCY = "emergency"  # 17 / 112
    PHONE = "phone"
    WALK_IN = "walk_in"
    ALARM = "alarm"
    OFFICER = "officer"  # officer-initiated
    ONLINE = "online"


class Disposition(StrEnum):
    """How an incident ended."""

    REPORT_TAKEN = "report_taken"
    ARREST = "arrest"
    WARNING = "warning"
    ADVICE_GIVEN = "advice_given"
    NO_OFFENCE = "no_offence"
    GONE_ON_ARRIVAL = "gone_on_arrival"
    FALSE_ALARM = "false_alarm"
    REFERRED = "referred"  # handed to another service (fire, SAMU, social services)
    DUPLICATE = "duplicate"
    CANCELLED = "cancelled"


class CallIn(StrictIn):
    """A call, as taken by the dispatcher."""

    channel: Channel = Channel.EMERGENCY
    received_at: AwareDatetime | None = Field(
        default=None, description="When the call started; defaults to now"
    )
    caller_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    caller_phone: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=40, pattern=r"^[+0-9 ().-]{3,40}$"),
        ]
        | None
    ) = None
    description: LongText | None = None


class _Event(StrictIn):
    """What a new incident says about its event: type, priority, place, description."""

    type_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=48)]
    priority: Annotated[int, Field(ge=1, le=4)] | None = Field(
        default=None, description="Overrides the type's default priority"
    )
    address: ShortText | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    description: LongText | None = None

    def _both_or_neither(self) -> None:
        if (self.lon is None) != (self.lat is None):
            msg = "give both lon and lat, or neither"
            raise ValueError(msg)


class IncidentIn(_Event):
    """Intake: a new incident with its first call; give an address or a point (or both)."""

    call: CallIn = Field(default_factory=CallIn)
    link_to: int | None = Field(
        default=None, description="Attach this call to an existing open incident instead"
    )

    @model_validator(mode="after")
    def _where(self) -> IncidentIn:
        self._both_or_neither()
        if self.lon is None and self.address is None and self.link_to is None:
            msg = "give an address or a point (lon, lat) for the incident"
            raise ValueError(msg)
        return self


class IncidentUpdate(StrictIn):
    """Corrections a dispatcher may make to an open incident: type, priority, description
    and place (an address, or a point, or both; the point wins, as at intake)."""

    type_code: Annotated[str, StringConstraints(min_length=1, max_length=48)] | None = None
    priority: Annotated[int, Field(ge=1, le=4)] | None = None
    description: LongText | None = None
    address: ShortText | None = None
    lon: Lon | None = None
    lat: Lat | None = None
    reason: ShortText | None = Field(
        default=None, description="Why (kept in the duty log and the audit log)"
    )

    @model_validator(mode="after")
    def _something(self) -> IncidentUpdate:
        if (self.lon is None) != (self.lat is None):
            msg = "give both lon and lat, or neither"
            raise ValueError(msg)
        if not self.model_fields_set - {"reason"}:
            msg = (
                "nothing to change: give type_code, priority, description, address or a "
                "point (lon, lat)"
            )
            raise ValueError(msg)
        return self


class NoteIn(StrictIn):
    """A free-text note for the duty log, optionally correcting an earlier entry."""

    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    incident_id: int | None = None
    unit_id: int | None = None
    corrects_id: int | None = None
    at: AwareDatetime | None = Field(
        default=None, description="when the note was written, for a note sent late"
    )


class DispatchIn(StrictIn):
    """Units to commit to an incident."""

    unit_ids: Annotated[list[int], Field(min_length=1, max_length=20)]
    preempt: bool = Field(default=False, description="P1 only: take units from P3/P4 incidents")
    reassign: bool = Field(default=False, description="Move units from another incident")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None

    @model_validator(mode="after")
    def _reason_when_taking(self) -> DispatchIn:
        if (self.preempt or self.reassign) and not self.reason:
            msg = "a reason is required to preempt or reassign units"
            raise ValueError(msg)
        return self


class ReleaseIn(StrictIn):
    """Stand a unit down from an incident."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class CloseIn(StrictIn):
    """Closing an incident."""

    disposition: Disposition
    offence_codes: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    note: LongText | None = None


class CancelIn(StrictIn):
    """Cancelling an incident (false alarm, duplicate...)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ReopenIn(StrictIn):
    """Reopening a closed or cancelled incident (closed by mistake, the event resumed)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class MergeIn(StrictIn):
    """Merging an incident into another found to be the same event."""

    into: Annotated[int, Field(ge=1, description="id of the incident that stays open")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class LinkIn(StrictIn):
    """Linking an incident to another related one; both stay separate."""

    other: Annotated[int, Field(ge=1, description="id of the related incident")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class UnlinkIn(StrictIn):
    """Removing a link between two incidents (the link is kept, marked removed)."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class SplitIn(_Event):
    """Splitting a second event out of an incident: a new incident takes some of its
    calls and units. Without a place, the new incident is where the first one is."""

    call_ids: Annotated[list[int], Field(max_length=50)] = Field(
        default_factory=list, description="calls that were about the new event"
    )
    unit_ids: Annotated[list[int], Field(max_length=20)] = Field(
        default_factory=list, description="committed units that now work on the new event"
    )
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _point_and_ids(self) -> SplitIn:
        self._both_or_neither()
        for name in ("call_ids", "unit_ids"):
            ids = getattr(self, name)
            if len(set(ids)) != len(ids):
                msg = f"{name}: each id once"
                raise ValueError(msg)
        return self


class UnitIn(StrictIn):
    """A new unit."""

    call_sign: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    unit_type: UnitType
    capabilities: list[Annotated[str, StringConstraints(max_length=32)]] = Field(
        default_factory=list
    )
    home_station: ShortText | None = None
    station_lon: Lon | None = None
    station_lat: Lat | None = None
    beat: Annotated[str, StringConstraints(max_length=64)] | None = None
    shift: Annotated[str, StringConstraints(max_length=32)] | None = None
    crew_officer_ids: list[int] = Field(default_factory=list)


class StatusIn(StrictIn):
    """A unit status change."""

    status: UnitStatus
    reason: UnavailableReason | None = None
    destination: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = Field(default=None, description="where a transporting unit takes someone")
    at: AwareDatetime | None = Field(
        default=None,
        description="when the crew made the change, for a change sent late (a terminal that "
        "was offline); at most late_report_minutes old and not before the unit's last change",
    )

    @model_validator(mode="after")
    def _reason_for_unavailable(self) -> StatusIn:
        if self.status is UnitStatus.UNAVAILABLE and self.reason is None:
            msg = "say why the unit is unavailable: meal, training, court or equipment"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _destination_for_transporting(self) -> StatusIn:
        if self.status is UnitStatus.TRANSPORTING and self.destination is None:
            msg = "destination: say where the unit is taking someone (hospital, police station...)"
            raise ValueError(msg)
        if self.status is not UnitStatus.TRANSPORTING and self.destination is not None:
            msg = "destination: only a unit going to 'transporting' has one; leave it out"
            raise ValueError(msg)
        return self


class PositionIn(StrictIn):
    """An AVL position report."""

    lon: Lon
    lat: Lat
    at: AwareDatetime | None = None
    speed_mps: Annotated[float, Field(ge=0, le=150)] | None = None
    heading_deg: Annotated[float, Field(ge=0, lt=360)] | None = None


class CallOut(BaseModel):
    """A call; caller identity only when asked for with a reason."""

    id: int
    channel: str
    received_at: dt.datetime
    description: str | None
    taken_by: str
    caller_name: str | None = None
    caller_phone: str | None = None
    caller_redacted: bool = True


class AssignmentOut(BaseModel):
    """A unit's commitment to an incident."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    call_sign: str
    dispatched_at: dt.datetime
    dispatched_by: str
    eta_s: float | None
    en_route_at: dt.datetime | None
    arrived_at: dt.datetime | None
    released_at: dt.datetime | None
    release_reason: str | None
    transport_to: str | None = None


class IncidentOut(BaseModel):
    """An incident as shown to dispatchers."""

    id: int
    number: str
    type_code: str
    type_label: str
    group: str
    priority: int
    status: str
    lon: float
    lat: float
    address: str | None
    street: str | None
    district: str | None
    snap_distance_m: float | None
    description: str | None
    created_at: dt.datetime
    created_by: str
    first_call_at: dt.datetime
    first_dispatch_at: dt.datetime | None
    first_arrival_at: dt.datetime | None
    closed_at: dt.datetime | None
    disposition: str | None
    offence_codes: list[str]
    target_s: int
    synthetic: bool
    calls: list[CallOut]
    assignments: list[AssignmentOut]
    merged_into: int | None = None  # the incident this one was merged into (same event)
    split_from: int | None = None  # the incident this one was split out of (another event)


class LinkOut(BaseModel):
    """A related incident, as seen from the other one of the pair."""

    incident_id: int
    number: str
    type_code: str
    priority: int
    status: str
    reason: str
    created_at: dt.datetime
    created_by: str
    removed_at: dt.datetime | None = None
    removed_by: str | None = None
    removed_reason: str | None = None


class SplitOut(BaseModel):
    """The result of a split: the incident split and the one split out of it."""

    source: IncidentOut
    created: IncidentOut


class DuplicateCandidate(BaseModel):
    """An open incident that may be the same event."""

    incident_id: int
    number: str
    type_code: str
    distance_m: float
    minutes_ago: float


class IntakeOut(BaseModel):
    """Result of intake: the incident (new or linked) and possible duplicates."""

    incident: IncidentOut
    linked: bool
    duplicates: list[DuplicateCandidate]


class UnitOut(BaseModel):
    """A unit as shown on the board."""

    id: int
    call_sign: str
    unit_type: str
    capabilities: list[str]
    home_station: str | None
    beat: str | None
    shift: str | None
    status: str
    status_reason: str | None
    status_changed_at: dt.datetime
    eido_primary: str
    eido_secondary: str
    allowed_next: list[str]
    current_incident_id: int | None
    lon: float | None
    lat: float | None
    position_at: dt.datetime | None
    crew: list[str]
    synthetic: bool
    check_due_at: dt.datetime | None = Field(
        default=None, description="when a status check is due (None: no timer in this status)"
    )
    checked_at: dt.datetime | None = Field(default=None, description="last check answered ok")
    check_missed_at: dt.datetime | None = Field(
        default=None, description="the current status's last check, left without an answer"
    )


class Candidate(BaseModel):
    """A unit recommended for an incident."""

    unit_id: int
    call_sign: str
    unit_type: str
    status: str
    eta_s: float
    distance_m: float
    preemptable: bool
    committed_to: int | None
    why: str


class PlanOut(BaseModel):
    """The incident type's response plan and the units proposed to complete it."""

    units: int = Field(description="units the incident type calls for")
    assigned: int = Field(description="units already on the incident")
    proposed: list[int] = Field(description="nearest free candidates making up the rest")
    proposed_call_signs: list[str]
    missing: int = Field(description="units still needed with no free candidate")


class RecommendationOut(BaseModel):
    """Ranked candidates, the response plan, and the units left out with the reason."""

    incident_id: int
    priority: int
    required_capabilities: list[str]
    method: str
    candidates: list[Candidate]
    plan: PlanOut
    excluded: list[dict[str, Any]]


class DutyLogOut(BaseModel):
    """One duty-log line."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    author: str
    kind: str
    incident_id: int | None
    unit_id: int | None
    text: str
    data: dict[str, Any]
    corrects_id: int | None


class PlaceIncident(BaseModel):
    """An earlier incident at a place (premise history): what, when, how it ended."""

    id: int
    number: str
    type_code: str
    group: str
    priority: int
    status: str
    disposition: str | None
    created_at: dt.datetime
    address: str | None
    distance_m: float
    safety: bool  # violence, domestic violence, robbery or weapons: officers take care


class PlaceHistoryOut(BaseModel):
    """What happened at a place: counts over the window and the latest incidents.

    Place-based only: incidents near a point, never a score about a person.
    """

    lon: float
    lat: float
    radius_m: float
    days: int
    total: int
    safety: int
    last_safety_at: dt.datetime | None
    by_group: dict[str, int]
    incidents: list[PlaceIncident]  # most recent first, at most the limit asked
