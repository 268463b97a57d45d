"""What the simulated crews find on arrival: sometimes not what the caller said.

In the demo a crew reaching the scene requalifies a few incidents, as real crews do: a
noise complaint that is a fight, a "suspicious person" who is breaking in, a fight that
has calmed down. The correction goes through the same flow as a dispatcher's
(:func:`arverne.dispatch.update.update_incident`), so the duty log and the console show
the old and new type and priority with the crew's reason.
"""

from __future__ import annotations

import numpy as np

from arverne.dispatch.schemas import IncidentUpdate
from arverne.security.audit import AuditContext

CREW_CTX = AuditContext(actor="équipage sur place (démo)")  # who requalifies, in the log

# type found on the scene -> (chance, new type, new priority, reason given by the crew)
FOUND_ON_SCENE: dict[str, tuple[float, str, int, str]] = {
    "noise": (0.10, "fight", 1, "sur place : rixe entre fêtards"),
    "disturbance": (0.10, "assault", 2, "sur place : une victime frappée"),
    "domestic_dispute": (0.15, "domestic_violence_now", 1, "sur place : violences, un blessé"),
    "neighbour_dispute": (0.10, "threats", 3, "sur place : menaces réitérées"),
    "suspicious_person": (0.10, "burglary_in_progress", 1, "sur place : effraction en cours"),
    "intrusion_alarm": (0.10, "burglary_report", 3, "sur place : effraction constatée"),
    "fight": (0.20, "disturbance", 3, "calme revenu à l'arrivée, pas de blessé"),
    "traffic_injury": (0.15, "traffic_damage", 3, "sur place : dégâts matériels seulement"),
}


def found_on_scene(rng: np.random.Generator, type_code: str) -> IncidentUpdate | None:
    """The correction a crew arriving on an incident of ``type_code`` makes, if any.

    Parameters
    ----------
    rng
        The simulator's random generator.
    type_code
        The incident's type when the crew arrives.

    Returns
    -------
    IncidentUpdate or None
        New type and priority with the crew's reason, or ``None`` (as the caller said).
    """
    rule = FOUND_ON_SCENE.get(type_code)
    if rule is None or rng.random() >= rule[0]:
        return None
    _, new_type, priority, reason = rule
    return IncidentUpdate(type_code=new_type, priority=priority, reason=reason)
