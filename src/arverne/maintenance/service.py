"""Retention purges.

* AVL position history: two months by default (CNIL guidance on vehicle geolocation of
  employees); the last known position of each unit stays on the unit itself.
* Live-event outbox: a week, longer than any client's reconnection gap.
* Idempotency keys: two days, longer than any client's retry window.

Each run is one transaction and leaves one audit entry per purge.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from arverne.config import Settings
from arverne.dispatch import service as dispatch_service
from arverne.dispatch.models import Event, IdempotencyKey
from arverne.security import audit
from arverne.security.audit import AuditContext
from arverne.store.types import utcnow

IDEMPOTENCY_DAYS = 2


@dataclasses.dataclass(frozen=True, slots=True)
class PurgeReport:
    """Rows deleted by one purge run, per table."""

    positions: int
    events: int
    idempotency_keys: int

    def as_dict(self) -> dict[str, int]:
        """Return the counts keyed by what was purged."""
        return dataclasses.asdict(self)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def purge(session: Session, settings: Settings, ctx: AuditContext) -> PurgeReport:
    """Delete everything older than its retention period.

    Parameters
    ----------
    session
        Open session; the caller commits.
    settings
        Retention periods (``position_retention_days``, ``event_retention_days``).
    ctx
        Who runs the purge (the scheduler runs as ``system``).

    Returns
    -------
    PurgeReport
        How many rows went from each table.
    """
    now = utcnow()
    positions = dispatch_service.purge_positions(
        session, ctx, older_than_days=settings.position_retention_days
    )
    event_cutoff = now - dt.timedelta(days=settings.event_retention_days)
    events = _rowcount(session.execute(delete(Event).where(Event.at < event_cutoff)))
    key_cutoff = now - dt.timedelta(days=IDEMPOTENCY_DAYS)
    keys = _rowcount(
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < key_cutoff))
    )
    audit.record(
        session,
        ctx,
        action="maintenance.purge",
        object_type="retention",
        details={"events": events, "idempotency_keys": keys, "positions": positions},
    )
    return PurgeReport(positions=positions, events=events, idempotency_keys=keys)
