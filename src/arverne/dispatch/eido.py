"""NENA EIDO (NENA-STA-021) export and import of incidents (see docs/eido.md).

Covered: the EIDO root and the incident (tracking id, type, status, priority, beat,
dispositions), call (caller as a NIEM person, only on request), location (address text
and PIDF-LO with a WGS84 point and a civic address), emergency resource (status from
:func:`arverne.dispatch.status.eido_status`), dispatch, agency, agent and notes
components, linked by ``$id``/``$ref``; merges and splits (root ``mergeComponent``),
links (root ``linkComponent``, ``RELATED``) and transport destinations (a ``Destination``
location referenced by the resource's ``unitDestinationReference``), names that are
Arverne's reading of the standard (see :mod:`arverne.dispatch.eido_schemas`); plus
Arverne extensions for incident and unit timestamps. Not covered: vehicles, alarms,
callbacks, additional data, JSON-LD ``@context``, NENA-STA-024 transport.
Notes are the duty log's narrative (notes, corrections, imported notes) and the incident
and call descriptions; lifecycle lines travel as structured fields.

Import runs the normal flows (intake, add_call, close/cancel) in one transaction, so it
is logged and audited like any intake. An incident type is never guessed, and a call is
never refused for its type: one with no Arverne equivalent, or none (no incident
component), is taken as ``to_qualify`` with what the sender called it in the description
and the import line, for the dispatcher to qualify. The first document about a foreign
incident creates it; a later one (a new message about the same tracking id) updates it
(:mod:`arverne.dispatch.eido_update`). A message already received, one older than the
last applied, or an incident of this very system is refused with 409 naming the
incident; the foreign ids live in ``eido_import``/``eido_update`` duty-log lines and the
audit log (no schema change). Foreign resources are not Arverne units: they are written
to the duty log, with their destination. A cancelled incident merged into one of this
system's incidents, or into one already imported, points at it (``merged_into``); every
merge and link of the document, known here or not, is kept in the line and the audit
entry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import dutylog, flows
from arverne.dispatch import eido_schemas as es
from arverne.dispatch.city import CityModel
from arverne.dispatch.eido_apply import (
    Plan,
    end_as_told,
    find_import,
    find_message,
    log_notes,
    log_resources,
    plan_of,
    relations_of,
)
from arverne.dispatch.eido_export import (
    IMPORT_KIND,
    NOTE_KINDS,
    AgencyInfo,
    export_incident,
    tracking_id,
)
from arverne.dispatch.eido_schemas import EidoDocument
from arverne.dispatch.eido_update import apply_update
from arverne.dispatch.links import link_incidents
from arverne.dispatch.models import Incident
from arverne.dispatch.schemas import LinkIn
from arverne.errors import ConflictError
from arverne.security import audit
from arverne.security.audit import AuditContext, lock_chain

__all__ = [
    "NOTE_KINDS",
    "AgencyInfo",
    "Received",
    "export_incident",
    "find_import",
    "import_eido",
    "tracking_id",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """What a received EIDO document did: the incident, created or updated, and how."""

    incident: Incident
    created: bool
    changes: list[str]  # what an update changed, in the duty log's words (empty: created)


def import_eido(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    doc: EidoDocument,
    *,
    own_agency: str | None = None,
) -> Received:
    """Create or update an incident from another agency's EIDO, through the normal flows.

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
    Received
        The incident, new (closed or cancelled if the document says so) or updated.

    Raises
    ------
    InvalidInputError
        Naming the EIDO field that cannot be accepted (type, location, call, disposition).
    ConflictError
        If this message was already received or is older than the last one applied, or
        the incident is one of this system's.
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
    received = find_message(session, message)
    if received is not None:
        raise ConflictError(
            f"message {message} was already received (incident {received}); a new state "
            "of the incident comes in a new message",
            allowed=[f"GET /api/v1/incidents/{received}"],
        )
    existing = find_import(session, tracking=tracking)
    if existing is not None:
        incident, changes = apply_update(
            session, ctx, settings, city, doc, incident_id=existing, own_agency=own_agency
        )
        return Received(incident, created=False, changes=changes)
    return Received(_create(session, ctx, settings, city, doc, own_agency), True, [])


def _create(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    city: CityModel,
    doc: EidoDocument,
    own_agency: str | None,
) -> Incident:
    inc = doc.incident_component
    tracking, message = inc.incident_tracking_identifier, doc.eido_message_identifier
    plan = plan_of(doc, city)
    incident = flows.intake(
        session=session,
        ctx=ctx,
        settings=settings,
        city=city,
        incident_in=plan.incident_in.model_copy(
            update={"call": plan.calls[0], "description": _described(plan)}
        ),
    ).incident
    sender = doc.sending_system_identifier
    relations, words = relations_of(session, doc, own_agency)
    facts: dict[str, Any] = {
        "message_id": message,
        "incident_tracking_id": tracking,
        "sender": sender,
        "sent_at": doc.last_update_time_stamp.astimezone(dt.UTC).isoformat(),
        **relations,
    }
    if plan.stated_type:
        facts["stated_type"] = inc.incident_type_common_registry_text
    dutylog.log(
        session,
        ctx,
        kind=IMPORT_KIND,
        incident_id=incident.id,
        text=f"{incident.number} importé depuis l'EIDO de {sender} "
        f"(incident {inc.internal_incident_id or tracking}, message {message}){words}"
        + (f". {plan.stated_type}" if plan.stated_type else ""),
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
    for link in relations.get("links", []):
        if link["incident_id"] is not None and not es.is_code(link["direction"], es.UNLINK):
            link_incidents(
                session=session,
                ctx=ctx,
                settings=settings,
                incident_id=incident.id,
                link_in=LinkIn(
                    other=link["incident_id"],
                    reason=link["reason"] or f"lien EIDO de {sender} ({link['direction']})",
                ),
            )
    for call_in in plan.calls[1:]:
        flows.add_call(
            session=session, ctx=ctx, settings=settings, incident_id=incident.id, call_in=call_in
        )
    log_notes(session, ctx, incident.id, doc, plan.notes)
    log_resources(session, ctx, incident.id, plan.resources)
    end_as_told(session, ctx, settings, incident, plan, relations, sender)
    return incident


def _described(plan: Plan) -> str | None:
    """The imported incident's description: what the sender said it is, when Arverne has
    no equivalent type, before the sender's own description."""
    parts = [p for p in (plan.stated_type, plan.incident_in.description) if p]
    return "\n".join(parts) or None
