"""Unit status state machine and its NENA EIDO mapping (pure)."""

from __future__ import annotations

from enum import StrEnum


class UnitStatus(StrEnum):
    """Operational status of a unit."""

    AVAILABLE = "available"  # in service, on patrol
    AT_STATION = "at_station"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    TRANSPORTING = "transporting"
    UNAVAILABLE = "unavailable"  # meal, training, court, equipment
    OFF_DUTY = "off_duty"


class UnavailableReason(StrEnum):
    """Why a unit is unavailable."""

    MEAL = "meal"
    TRAINING = "training"
    COURT = "court"
    EQUIPMENT = "equipment"


# French wording of the statuses and reasons in the duty log's text (a French legal record);
# the machine-readable values stay in the entry's ``data``.
STATUS_LABEL_FR: dict[UnitStatus, str] = {
    UnitStatus.AVAILABLE: "disponible",
    UnitStatus.AT_STATION: "au poste",
    UnitStatus.DISPATCHED: "engagé",
    UnitStatus.EN_ROUTE: "en route",
    UnitStatus.ON_SCENE: "sur les lieux",
    UnitStatus.TRANSPORTING: "transport",
    UnitStatus.UNAVAILABLE: "indisponible",
    UnitStatus.OFF_DUTY: "hors service",
}
REASON_LABEL_FR: dict[str, str] = {
    UnavailableReason.MEAL: "repas",
    UnavailableReason.TRAINING: "formation",
    UnavailableReason.COURT: "tribunal",
    UnavailableReason.EQUIPMENT: "matériel",
}
# Other codes that appear in duty-log text: call channels, dispositions, release reasons and
# the fields of an incident update (keyed by their API value).
LOG_LABEL_FR: dict[str, str] = {
    "emergency": "17/112",
    "phone": "téléphone",
    "walk_in": "accueil",
    "alarm": "alarme",
    "officer": "initiative agent",
    "online": "en ligne",
    "report_taken": "procédure établie",
    "arrest": "interpellation",
    "warning": "avertissement",
    "advice_given": "conseils donnés",
    "no_offence": "pas d'infraction",
    "gone_on_arrival": "parti à l'arrivée",
    "false_alarm": "fausse alerte",
    "referred": "orienté vers un autre service",
    "duplicate": "doublon",
    "cancelled": "annulation",
    "closed": "clôture",
    "cleared": "fin de mission",
    "preempted": "préemption",
    "reassigned": "réaffectation",
    "merged": "fusion",
    "type_code": "type",
    "priority": "priorité",
    "description": "description",
}


def label_fr(code: str) -> str:
    """French wording of a code written in duty-log text (the code itself when unknown)."""
    head, sep, rest = code.partition(": ")
    return LOG_LABEL_FR.get(head, head) + (f" : {rest}" if sep else "")


FREE = frozenset({UnitStatus.AVAILABLE, UnitStatus.AT_STATION})
COMMITTED = frozenset(
    {UnitStatus.DISPATCHED, UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.TRANSPORTING}
)

# Moves a unit (or its dispatcher) may report through POST /units/{id}/status. Entering
# DISPATCHED happens only through the dispatch flow, which also records the incident.
TRANSITIONS: dict[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.OFF_DUTY: frozenset({UnitStatus.AVAILABLE, UnitStatus.AT_STATION}),
    UnitStatus.AVAILABLE: frozenset(
        {UnitStatus.AT_STATION, UnitStatus.UNAVAILABLE, UnitStatus.OFF_DUTY}
    ),
    UnitStatus.AT_STATION: frozenset(
        {UnitStatus.AVAILABLE, UnitStatus.UNAVAILABLE, UnitStatus.OFF_DUTY}
    ),
    UnitStatus.DISPATCHED: frozenset(
        {UnitStatus.EN_ROUTE, UnitStatus.ON_SCENE, UnitStatus.AVAILABLE}
    ),
    UnitStatus.EN_ROUTE: frozenset({UnitStatus.ON_SCENE, UnitStatus.AVAILABLE}),
    UnitStatus.ON_SCENE: frozenset({UnitStatus.TRANSPORTING, UnitStatus.AVAILABLE}),
    UnitStatus.TRANSPORTING: frozenset(
        {UnitStatus.AT_STATION, UnitStatus.AVAILABLE, UnitStatus.ON_SCENE}
    ),
    UnitStatus.UNAVAILABLE: frozenset(
        {UnitStatus.AVAILABLE, UnitStatus.AT_STATION, UnitStatus.OFF_DUTY}
    ),
}


def allowed_next(current: UnitStatus) -> list[str]:
    """Return the statuses a unit in ``current`` may move to, sorted."""
    return sorted(TRANSITIONS[current])


def eido_status(status: UnitStatus, reason: UnavailableReason | None = None) -> tuple[str, str]:
    """Return the NENA EIDO (primary, secondary) status of a unit."""
    if status is UnitStatus.UNAVAILABLE:
        secondary = {
            UnavailableReason.MEAL: ("ConditionallyAvailable", "Meal"),
            UnavailableReason.TRAINING: ("ConditionallyAvailable", "Training"),
            UnavailableReason.COURT: ("NotAvailable", "Court"),
            UnavailableReason.EQUIPMENT: ("NotAvailable", "OutofService"),
        }
        return secondary.get(
            reason or UnavailableReason.EQUIPMENT, ("NotAvailable", "OutofService")
        )
    return {
        UnitStatus.AVAILABLE: ("Available", "InService"),
        UnitStatus.AT_STATION: ("Available", "Station"),
        UnitStatus.DISPATCHED: ("NotAvailable", "Dispatched"),
        UnitStatus.EN_ROUTE: ("NotAvailable", "EnRoute"),
        UnitStatus.ON_SCENE: ("NotAvailable", "OnScene"),
        UnitStatus.TRANSPORTING: ("NotAvailable", "Transporting"),
        UnitStatus.OFF_DUTY: ("NotAvailable", "OffDuty"),
    }[status]


class UnitType(StrEnum):
    """Kinds of unit a city police force fields."""

    FOOT_PATROL = "foot_patrol"
    CAR = "car"
    MOTORBIKE = "motorbike"
    TRAFFIC = "traffic"
    BAC = "bac"  # brigade anti-criminalité
    DOG = "dog"  # brigade cynophile
    INTERVENTION = "intervention"
    COMMUNITY = "community"
    INVESTIGATOR = "investigator"


# Capabilities a unit type brings by default (units can add more).
TYPE_CAPABILITIES: dict[UnitType, frozenset[str]] = {
    UnitType.FOOT_PATROL: frozenset(),
    UnitType.CAR: frozenset({"transport"}),
    UnitType.MOTORBIKE: frozenset({"traffic"}),
    UnitType.TRAFFIC: frozenset({"traffic", "transport"}),
    UnitType.BAC: frozenset({"firearms", "transport"}),
    UnitType.DOG: frozenset({"dog", "transport"}),
    UnitType.INTERVENTION: frozenset({"firearms", "public_order", "transport"}),
    UnitType.COMMUNITY: frozenset(),
    UnitType.INVESTIGATOR: frozenset({"investigation"}),
}

# Driving units move at road speed; foot patrols walk.
WALKING_TYPES = frozenset({UnitType.FOOT_PATROL, UnitType.COMMUNITY})
