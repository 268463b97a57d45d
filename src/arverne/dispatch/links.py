"""Links between related incidents that stay separate.

Some incidents are not the same event (that would be a merge) but belong together: the
robbery and the crash of the getaway car, a domestic dispute and the missing-child report
about the same family, the third burglary this week in one building. A dispatcher or an
officer links them so whoever opens one sees the other. A link is symmetric, has a
reason, and is never deleted: removing it marks it removed, with who, when and why. Open
and closed incidents may be linked (a repeat victim's earlier incident is closed).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, lazyload

from arverne.config import Settings
from arverne.dispatch import dutylog, service
from arverne.dispatch.models import Incident, IncidentLink
from arverne.dispatch.publish import publish_incident
from arverne.dispatch.schemas import LinkIn, LinkOut, UnlinkIn
from arverne.errors import ConflictError, InvalidInputError, NotFoundError
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow


def _pair(session: Session, a: int, b: int) -> tuple[Incident, Incident]:
    """Both incidents, row-locked in id order (two concurrent links of a pair queue)."""
    low, high = sorted((a, b))
    first = service.get_incident(session, low, lock=True, related=False)
    second = service.get_incident(session, high, lock=True, related=False)
    return (first, second) if a == low else (second, first)


def _active(session: Session, a: int, b: int) -> IncidentLink | None:
    low, high = sorted((a, b))
    return session.scalar(
        select(IncidentLink).where(
            IncidentLink.low_id == low,
            IncidentLink.high_id == high,
            IncidentLink.removed_at.is_(None),
        )
    )


def _out(link: IncidentLink, other: Incident) -> LinkOut:
    return LinkOut(
        incident_id=other.id,
        number=other.number,
        type_code=other.type_code,
        priority=other.priority,
        status=other.status,
        reason=link.reason,
        created_at=link.created_at,
        created_by=link.created_by,
        removed_at=link.removed_at,
        removed_by=link.removed_by,
        removed_reason=link.removed_reason,
    )


def _record(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    pair: tuple[Incident, Incident],
    *,
    linked: bool,
    reason: str,
) -> None:
    """Audit, log on both incidents and publish both."""
    incident, other = pair
    audit.record(
        session,
        ctx,
        action="incident.link" if linked else "incident.unlink",
        object_type="incident",
        object_id=incident.id,
        reason=reason,
        details={"other": other.id},
    )
    verb = "lié à" if linked else "n'est plus lié à"
    for one, two in (pair, pair[::-1]):
        dutylog.log(
            session,
            ctx,
            kind="incident_linked" if linked else "incident_unlinked",
            incident_id=one.id,
            text=f"{one.number} {verb} {two.number} : {reason}",
            data={"other": two.id},
        )
    for one in pair:
        publish_incident(session, settings, one, "incident.updated")


def link_incidents(
    *, session: Session, ctx: AuditContext, settings: Settings, incident_id: int, link_in: LinkIn
) -> LinkOut:
    """Link incident ``incident_id`` to ``link_in.other``; return the link as seen from it.

    Raises
    ------
    InvalidInputError
        ``other`` is the incident itself.
    ConflictError
        The two are already linked.
    NotFoundError
        Either incident does not exist.
    """
    if link_in.other == incident_id:
        raise InvalidInputError("other", "an incident cannot be linked to itself")
    incident, other = _pair(session, incident_id, link_in.other)
    if _active(session, incident.id, other.id) is not None:
        raise ConflictError(
            f"{incident.number} and {other.number} are already linked",
            allowed=[f"POST /api/v1/incidents/{incident.id}/links/{other.id}/remove"],
        )
    low, high = sorted((incident.id, other.id))
    link = IncidentLink(
        low_id=low, high_id=high, reason=link_in.reason, created_at=utcnow(), created_by=ctx.actor
    )
    session.add(link)
    session.flush()
    _record(session, ctx, settings, (incident, other), linked=True, reason=link_in.reason)
    return _out(link, other)


def unlink_incidents(
    *,
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    incident_id: int,
    other_id: int,
    unlink_in: UnlinkIn,
) -> LinkOut:
    """Remove the link between two incidents (kept, marked removed); return it.

    Raises
    ------
    NotFoundError
        Either incident does not exist, or they are not linked.
    """
    incident, other = _pair(session, incident_id, other_id)
    link = _active(session, incident.id, other.id)
    if link is None:
        raise NotFoundError("link", f"{incident.number} - {other.number}")
    link.removed_at, link.removed_by, link.removed_reason = utcnow(), ctx.actor, unlink_in.reason
    session.flush()
    _record(session, ctx, settings, (incident, other), linked=False, reason=unlink_in.reason)
    return _out(link, other)


def links_of(session: Session, incident_id: int, *, removed: bool = False) -> list[LinkOut]:
    """The incidents linked to ``incident_id`` (oldest link first); with ``removed``, the
    removed links too."""
    query = select(IncidentLink).where(
        or_(IncidentLink.low_id == incident_id, IncidentLink.high_id == incident_id)
    )
    if not removed:
        query = query.where(IncidentLink.removed_at.is_(None))
    links = session.scalars(query.order_by(IncidentLink.id)).all()
    others = {link.high_id if link.low_id == incident_id else link.low_id for link in links}
    query_others = (
        select(Incident)
        .where(Incident.id.in_(others))
        .options(lazyload(Incident.calls), lazyload(Incident.assignments))
    )
    by_id = {i.id: i for i in session.scalars(query_others).all()}
    return [
        _out(link, by_id[link.high_id if link.low_id == incident_id else link.low_id])
        for link in links
    ]
