"""Incident types, priorities and response-time targets (pure reference data).

Each type belongs to a group, has a default priority from P1 (threat to life, now) to P4
(appointment, no deployment) and may require unit capabilities. Targets per priority
are defaults that a city overrides with ``ARVERNE_RESPONSE_TARGETS``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from enum import IntEnum

from arverne.errors import InvalidInputError


class Priority(IntEnum):
    """Urgency of an incident."""

    P1 = 1  # threat to life or serious harm, happening now
    P2 = 2  # urgent: offence in progress or just happened, suspect nearby
    P3 = 3  # prompt: needs a patrol, no immediate danger
    P4 = 4  # appointment or report, no deployment needed now


DEFAULT_TARGETS_S: dict[Priority, int] = {
    Priority.P1: 10 * 60,
    Priority.P2: 20 * 60,
    Priority.P3: 60 * 60,
    Priority.P4: 24 * 3600,
}


@dataclasses.dataclass(frozen=True, slots=True)
class IncidentType:
    """One entry of the incident taxonomy."""

    code: str
    group: str
    label_fr: str
    label_en: str
    priority: Priority
    capabilities: frozenset[str] = frozenset()
    personal_risk: bool = False  # a person may be in danger (used for P1 preemption rules)


def _t(code: str, group: str, fr: str, en: str, p: int, *caps: str) -> IncidentType:
    return IncidentType(code, group, fr, en, Priority(p), frozenset(caps), p == 1)


INCIDENT_TYPES: tuple[IncidentType, ...] = (
    _t(
        "assault_serious", "violence", "Violences graves en cours", "Serious assault in progress", 1
    ),
    _t("assault", "violence", "Violences volontaires", "Assault", 2),
    _t("fight", "violence", "Rixe", "Fight / brawl", 1),
    _t("armed_person", "violence", "Individu armé", "Armed person", 1, "firearms"),
    _t("threats", "violence", "Menaces", "Threats", 3),
    _t(
        "domestic_violence_now",
        "domestic_violence",
        "Violences conjugales en cours",
        "Domestic violence in progress",
        1,
    ),
    _t("domestic_dispute", "domestic_violence", "Différend familial", "Domestic dispute", 2),
    _t("child_in_danger", "domestic_violence", "Mineur en danger", "Child in danger", 1),
    _t("theft", "theft", "Vol simple", "Theft", 3),
    _t("pickpocketing", "theft", "Vol à la tire", "Pickpocketing", 3),
    _t("shoplifting", "theft", "Vol à l'étalage (auteur retenu)", "Shoplifting, suspect held", 3),
    _t("vehicle_theft", "theft", "Vol de véhicule", "Vehicle theft", 3),
    _t("theft_from_vehicle", "theft", "Vol dans véhicule", "Theft from vehicle", 3),
    _t("burglary_in_progress", "burglary", "Cambriolage en cours", "Burglary in progress", 1),
    _t("burglary_report", "burglary", "Cambriolage constaté", "Burglary discovered", 3),
    _t("intrusion_alarm", "burglary", "Alarme intrusion", "Intrusion alarm", 2),
    _t("robbery_armed", "robbery", "Vol à main armée", "Armed robbery", 1, "firearms"),
    _t("robbery", "robbery", "Vol avec violence", "Robbery", 2),
    _t("traffic_injury", "traffic", "Accident corporel", "Road accident with injuries", 1),
    _t("traffic_damage", "traffic", "Accident matériel", "Road accident, damage only", 3),
    _t("traffic_hazard", "traffic", "Danger sur la chaussée", "Road hazard", 2),
    _t("drunk_driver", "traffic", "Conducteur en état d'ivresse", "Drink-driver", 2),
    _t("traffic_obstruction", "traffic", "Stationnement gênant", "Obstructive parking", 4),
    _t("noise", "disturbance", "Tapage nocturne", "Noise complaint", 3),
    _t("disturbance", "disturbance", "Trouble à l'ordre public", "Public disturbance", 2),
    _t("drunk_person", "disturbance", "Ivresse publique", "Drunk and disorderly", 3),
    _t("neighbour_dispute", "disturbance", "Conflit de voisinage", "Neighbour dispute", 3),
    _t("drug_dealing", "drugs", "Trafic de stupéfiants", "Drug dealing", 3, "dog"),
    _t("drug_use", "drugs", "Usage de stupéfiants", "Drug use", 4),
    _t("suspicious_person", "suspicious", "Individu suspect", "Suspicious person", 3),
    _t("suspicious_vehicle", "suspicious", "Véhicule suspect", "Suspicious vehicle", 3),
    _t("suspicious_package", "suspicious", "Colis suspect", "Suspicious package", 1),
    _t(
        "event_disorder",
        "public_event",
        "Débordements manifestation",
        "Public-event disorder",
        2,
        "public_order",
    ),
    _t("event_crowd", "public_event", "Mouvement de foule", "Crowd crush risk", 1, "public_order"),
    _t(
        "missing_vulnerable",
        "missing_person",
        "Disparition inquiétante",
        "Missing vulnerable person",
        1,
    ),
    _t("missing_person", "missing_person", "Disparition", "Missing person", 2),
    _t("assistance_person", "assistance", "Personne en détresse", "Person in distress", 1),
    _t(
        "officer_distress",
        "assistance",
        "Collègue en difficulté (appel de détresse)",
        "Officer needs assistance (distress call)",
        1,
    ),
    _t(
        "assistance_other_service",
        "assistance",
        "Assistance pompiers / SAMU",
        "Assist fire or ambulance",
        2,
    ),
    _t("found_property", "assistance", "Objet trouvé", "Found property", 4),
    _t("vandalism", "criminal_damage", "Dégradations", "Vandalism", 3),
    _t("graffiti", "criminal_damage", "Tags", "Graffiti", 4),
    _t("animal", "other", "Animal errant / dangereux", "Stray or dangerous animal", 3),
    _t(
        "complaint_appointment",
        "other",
        "Prise de plainte sur rendez-vous",
        "Complaint by appointment",
        4,
    ),
    # A call whose nature is not known yet: a partner's transfer with a type Arverne has
    # no equivalent for, or none at all. Urgent until the dispatcher qualifies it.
    _t("to_qualify", "other", "Nature à préciser", "Nature to be determined", 2),
)
UNQUALIFIED = "to_qualify"

TYPES_BY_CODE: dict[str, IncidentType] = {t.code: t for t in INCIDENT_TYPES}


def get_type(code: str) -> IncidentType:
    """Return the incident type ``code`` or raise an error listing the valid codes."""
    try:
        return TYPES_BY_CODE[code]
    except KeyError:
        raise InvalidInputError(
            "type_code", f"unknown incident type {code!r}; GET /api/v1/incident-types lists them"
        ) from None


def compatible(code_a: str, code_b: str) -> bool:
    """Tell whether two types may describe the same event (same group), for duplicates.

    An incident whose nature is still to be determined may be the same event as any.
    """
    if UNQUALIFIED in (code_a, code_b):
        return True
    return TYPES_BY_CODE[code_a].group == TYPES_BY_CODE[code_b].group


def parse_targets(raw: str | None) -> dict[Priority, int]:
    """Return response targets (seconds) per priority, defaults overridden by JSON ``raw``.

    ``raw`` looks like ``{"P1": 600, "P2": 1200}``.
    """
    targets = dict(DEFAULT_TARGETS_S)
    if not raw:
        return targets
    try:
        values: Mapping[str, object] = json.loads(raw)
        for key, seconds in values.items():
            if not isinstance(seconds, int) or seconds <= 0:
                raise TypeError(key)
            targets[Priority[key.upper()]] = seconds
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        msg = 'use JSON like {"P1": 600, "P2": 1200} (positive seconds per P1..P4)'
        raise InvalidInputError("ARVERNE_RESPONSE_TARGETS", msg) from exc
    return targets
