"""EIDO registry mappings, PIDF-LO location documents, and reading EIDO into inputs.

The registry mappings translate Arverne's codes (incident types, priorities, statuses,
dispositions, unit types, call channels) to and from EIDO registry values; the PIDF-LO
helpers write and read the location document carried in ``locationByValue``; the readers
turn a validated :class:`~arverne.dispatch.eido_schemas.EidoDocument` into the inputs of
the dispatch flows.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from arverne.dispatch.eido_html import note_text
from arverne.dispatch.eido_schemas import TYPE_NOT_STATED, EidoDocument, IncidentComponent, Ref
from arverne.dispatch.schemas import CallIn, Channel, Disposition
from arverne.dispatch.taxonomy import TYPES_BY_CODE, IncidentType
from arverne.errors import InvalidInputError

_M = TypeVar("_M", bound=BaseModel)


# --- registry mappings ----------------------------------------------------------------
# P1 (threat to life) .. P4 on the common 0-10 scale where 10 is the most urgent.
PRIORITY_TO_COMMON: dict[int, int] = {1: 9, 2: 7, 3: 5, 4: 3}

# Common incident type per taxonomy group, with a few per-type refinements. The import
# maps each common type back to the most typical Arverne type of that family.
# fmt: off
_COMMON_BY_GROUP = {
    "violence": "Assault", "domestic_violence": "DomesticViolence", "theft": "Theft",
    "burglary": "Burglary", "robbery": "Robbery", "traffic": "TrafficIncident",
    "disturbance": "Disturbance", "drugs": "Drugs", "suspicious": "SuspiciousActivity",
    "public_event": "CivilDisturbance", "missing_person": "MissingPerson",
    "assistance": "PublicService", "criminal_damage": "Vandalism", "other": "Other",
}
_COMMON_BY_TYPE = {
    "armed_person": "Weapon", "robbery_armed": "Weapon", "intrusion_alarm": "Alarm",
    "traffic_injury": "TrafficCollisionInjury", "suspicious_package": "SuspiciousPackage",
    "animal": "Animal",
}
_TYPE_BY_COMMON = {
    "assault": "assault", "domesticviolence": "domestic_dispute", "theft": "theft",
    "burglary": "burglary_report", "robbery": "robbery", "trafficincident": "traffic_damage",
    "trafficcollisioninjury": "traffic_injury", "disturbance": "disturbance",
    "drugs": "drug_dealing", "suspiciousactivity": "suspicious_person",
    "civildisturbance": "event_disorder", "missingperson": "missing_person",
    "publicservice": "assistance_other_service", "vandalism": "vandalism",
    "weapon": "armed_person", "alarm": "intrusion_alarm",
    "suspiciouspackage": "suspicious_package", "animal": "animal",
}
_STATUS_COMMON = {
    "queued": ["Active"], "dispatched": ["Active", "ResourcesAssigned"],
    "en_route": ["Active", "ResourcesEnroute"], "on_scene": ["Active", "ResourcesOnscene"],
    "closed": ["Closed"], "cancelled": ["Cancelled"],
}
COMMON_DISPOSITIONS: dict[str, str] = {
    Disposition.REPORT_TAKEN: "ReportTaken", Disposition.ARREST: "Arrest",
    Disposition.WARNING: "Warning", Disposition.ADVICE_GIVEN: "AdviceGiven",
    Disposition.NO_OFFENCE: "NoOffense", Disposition.GONE_ON_ARRIVAL: "GoneOnArrival",
    Disposition.FALSE_ALARM: "FalseAlarm", Disposition.REFERRED: "Referred",
    Disposition.DUPLICATE: "Duplicate", Disposition.CANCELLED: "Cancelled",
}
_RESOURCE_TYPES = {
    "foot_patrol": "FootPatrol", "motorbike": "Motorcycle", "dog": "K9Unit",
    "investigator": "Investigator",
}
# fmt: on
_DISPOSITION_BY_COMMON = {v.lower(): Disposition(k) for k, v in COMMON_DISPOSITIONS.items()}


def common_incident_type(itype: IncidentType) -> str:
    """Common (registry) incident type of an Arverne incident type."""
    return _COMMON_BY_TYPE.get(itype.code) or _COMMON_BY_GROUP.get(itype.group, "Other")


def to_arverne_type(internal_code: str | None, common: str) -> str | None:
    """Arverne type code for an incoming incident type, or ``None`` if none fits."""
    if internal_code in TYPES_BY_CODE:
        return internal_code
    return _TYPE_BY_COMMON.get(common.replace("-", "").replace("_", "").lower())


def stated_type(inc: IncidentComponent) -> str:
    """What the sender said the incident is, for the dispatcher who qualifies it."""
    if inc.incident_type_common_registry_text == TYPE_NOT_STATED:
        return "Nature à préciser : l'émetteur n'a pas transmis de type d'incident."
    words = [inc.incident_type_common_registry_text]
    words += [w for w in (inc.incident_type_internal_text, inc.incident_type_internal_code) if w]
    return f"Nature à préciser — type transmis par l'émetteur : {' / '.join(words)}."


def to_arverne_priority(internal: str | None, common: int | None) -> int | None:
    """Arverne priority from the internal text (``P1``..``P4``) or the common number."""
    if internal and internal.upper() in {"P1", "P2", "P3", "P4"}:
        return int(internal[1])
    if common is None:
        return None
    return 1 if common >= 8 else 2 if common >= 6 else 3 if common >= 4 else 4


def incident_statuses(status: str) -> tuple[list[str], list[str]]:
    """Common and internal EIDO statuses of an Arverne incident status."""
    return list(_STATUS_COMMON.get(status, ["Active"])), [status]


def to_arverne_disposition(category: str | None, common: str) -> Disposition | None:
    """Arverne disposition from the category text (Arverne code) or the common code."""
    if category in {d.value for d in Disposition}:
        return Disposition(category)
    return _DISPOSITION_BY_COMMON.get(common.lower())


def resource_type(unit_type: str) -> tuple[str, str]:
    """Common and internal EIDO resource type of an Arverne unit type."""
    return _RESOURCE_TYPES.get(unit_type, "PatrolUnit"), unit_type


def to_channel(local: str | None, primary: str) -> Channel:
    """Arverne call channel from the local call type, else the primary call type."""
    if local in {c.value for c in Channel}:
        return Channel(local)
    return Channel.EMERGENCY if primary.lower() == "emergency" else Channel.PHONE


# --- PIDF-LO (RFC 4119 / RFC 5491) ----------------------------------------------------
_NS = {
    "": "urn:ietf:params:xml:ns:pidf",
    "dm": "urn:ietf:params:xml:ns:pidf:data-model",
    "gp": "urn:ietf:params:xml:ns:pidf:geopriv10",
    "gml": "http://www.opengis.net/gml",
    "ca": "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr",
}


def _q(prefix: str, name: str) -> str:
    return f"{{{_NS[prefix]}}}{name}"


def pidf_lo(
    *,
    lon: float,
    lat: float,
    entity: str,
    at: dt.datetime,
    street: str | None = None,
    district: str | None = None,
    address: str | None = None,
) -> str:
    """A PIDF-LO document with a WGS84 point (``lat lon`` order) and a civic address."""
    for prefix, uri in _NS.items():
        ET.register_namespace(prefix, uri)
    root = ET.Element(_q("", "presence"), {"entity": f"pres:{entity}"})
    device = ET.SubElement(root, _q("dm", "device"), {"id": "incident"})
    geopriv = ET.SubElement(device, _q("gp", "geopriv"))
    info = ET.SubElement(geopriv, _q("gp", "location-info"))
    point = ET.SubElement(info, _q("gml", "Point"), {"srsName": "urn:ogc:def:crs:EPSG::4326"})
    ET.SubElement(point, _q("gml", "pos")).text = f"{lat:.7f} {lon:.7f}"
    if street or district or address:
        civic = ET.SubElement(info, _q("ca", "civicAddress"))
        for tag, value in (("A5", district), ("A6", street), ("LOC", address)):
            if value:
                ET.SubElement(civic, _q("ca", tag)).text = value
    ET.SubElement(geopriv, _q("gp", "usage-rules"))
    ET.SubElement(geopriv, _q("gp", "method")).text = "Manual"
    ET.SubElement(device, _q("dm", "timestamp")).text = at.isoformat()
    return ET.tostring(root, encoding="unicode")


def parse_pidf(document: str, *, field: str) -> tuple[float | None, float | None, str | None]:
    """Read (lon, lat, civic address text) from a PIDF-LO document.

    Raises
    ------
    InvalidInputError
        Naming ``field`` if the XML is malformed, declares a DTD or has a bad position.
    """
    if "<!DOCTYPE" in document or "<!ENTITY" in document:
        raise InvalidInputError(field, "PIDF-LO documents may not declare a DTD or entities")
    try:
        root = ET.fromstring(document)  # noqa: S314 - no DTD allowed (checked above)
    except ET.ParseError as exc:
        raise InvalidInputError(field, f"is not well-formed PIDF-LO XML ({exc})") from None
    lon = lat = None
    pos = root.find(".//gml:Point/gml:pos", _NS)
    if pos is not None:
        try:
            lat, lon = (float(v) for v in (pos.text or "").split())
        except ValueError:
            raise InvalidInputError(
                field, "gml:pos must hold 'latitude longitude' (WGS84, EPSG:4326)"
            ) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInputError(field, f"gml:pos {lat} {lon} is not a WGS84 position")
    civic = root.find(".//ca:civicAddress", _NS)
    text = None
    if civic is not None:
        parts = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in civic}
        text = parts.get("LOC") or ", ".join(
            v for k in ("HNO", "A6", "A5", "PC", "A3") if (v := parts.get(k))
        )
    return lon, lat, text or None


# --- reading a document into Arverne inputs ------------------------------------------
def build_input(model: type[_M], field: str, **values: Any) -> _M:
    """Validate an Arverne input schema, naming the EIDO field ``field`` on failure."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        name = f"{field}.{where}" if where else field
        raise InvalidInputError(name, str(err.get("msg", "is invalid"))) from None


def incident_location(doc: EidoDocument) -> tuple[str, float | None, float | None, str | None]:
    """The incident's location: (EIDO field, lon, lat, address text)."""
    locations = {loc.id: (i, loc) for i, loc in enumerate(doc.location_component)}
    refs = [r.ref for r in doc.incident_component.location_reference if r.ref in locations]
    if refs:
        index, loc = locations[refs[0]]
    elif doc.location_component:
        index, loc = 0, doc.location_component[0]
    else:
        raise InvalidInputError("locationComponent", "the incident needs a location")
    field = f"locationComponent[{index}].locationByValue"
    lon = lat = civic = None
    if loc.location_by_value:
        lon, lat, civic = parse_pidf(loc.location_by_value, field=field)
    return field, lon, lat, loc.location_description_text or civic


def location_text(doc: EidoDocument, ref: Ref | None) -> str | None:
    """Text of the location ``ref`` points at: its description, else its civic address."""
    for i, loc in enumerate(doc.location_component):
        if ref is None or loc.id != ref.ref:
            continue
        if loc.location_description_text or not loc.location_by_value:
            return loc.location_description_text
        return parse_pidf(loc.location_by_value, field=f"locationComponent[{i}].locationByValue")[2]
    return None


def call_inputs(doc: EidoDocument) -> list[CallIn]:
    """Arverne inputs for the document's calls, oldest first."""
    if not doc.call_component:
        raise InvalidInputError("callComponent", "an incident needs at least one call")
    notes = doc.notes_by_id()
    persons = {p.id: p for p in doc.person_component}
    horizon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    calls = []
    for i, call in enumerate(doc.call_component):
        field = f"callComponent[{i}]"
        if call.call_start_timestamp > horizon:
            raise InvalidInputError(f"{field}.callStartTimestamp", "is in the future")
        texts = [
            note_text(notes[r.ref].notes_action_comments)
            for r in call.notes_reference
            if r.ref in notes
        ]
        caller = next((persons[r.ref] for r in call.person_reference if r.ref in persons), None)
        name, phone = caller.name_and_phone() if caller else (None, None)
        calls.append(
            build_input(
                CallIn,
                field,
                channel=to_channel(call.local_call_type, call.standard_primary_call_type),
                received_at=call.call_start_timestamp,
                caller_name=name,
                caller_phone=phone,
                description="\n".join(texts) or None,
            )
        )
    return sorted(calls, key=lambda c: c.received_at or horizon)


def closing(inc: IncidentComponent) -> tuple[str | None, Disposition | None]:
    """How the incident ended, if it did: ("closed", disposition), ("cancelled", None)."""
    statuses = {s.lower() for s in inc.incident_status_common_registry_text}
    if "cancelled" in statuses:
        return "cancelled", None
    if "closed" not in statuses:
        return None, None
    field = "incidentComponent.dispositionComponent"
    ranked = sorted(inc.disposition_component, key=lambda d: not d.disposition_primary_indicator)
    if not ranked:
        raise InvalidInputError(field, "a closed incident needs a disposition")
    first = ranked[0]
    disposition = to_arverne_disposition(
        first.disposition_category_text, first.disposition_common_registry_code
    )
    if disposition is None:
        raise InvalidInputError(
            f"{field}[{inc.disposition_component.index(first)}].dispositionCommonRegistryCode",
            f"unknown disposition {first.disposition_common_registry_code!r}; known: "
            + ", ".join(sorted(COMMON_DISPOSITIONS.values())),
        )
    return "closed", disposition
