"""Tables of the dispatch domain."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from arverne.store.base import Base
from arverne.store.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from arverne.people.models import Officer


def incident_number(created_at: dt.datetime, incident_id: int) -> str:
    """Human reference of an incident: year of creation and id, such as ``2026-000123``."""
    return f"{created_at.year:04d}-{incident_id:06d}"  # (``.year``: strftime is slower)


class Unit(Base):
    """A deployable unit (équipage): a car crew, a foot patrol, a dog unit..."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    unit_type: Mapped[str] = mapped_column(String(32))
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_station: Mapped[str | None] = mapped_column(String(100))
    station_lon: Mapped[float | None] = mapped_column(Float)
    station_lat: Mapped[float | None] = mapped_column(Float)
    beat: Mapped[str | None] = mapped_column(String(64))
    shift: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), default="off_duty")
    status_reason: Mapped[str | None] = mapped_column(String(32))
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The incident the unit is committed to; the partial unique index on active
    # assignments makes a double commitment impossible in the database itself.
    current_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_position_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Status checks (arverne.dispatch.check_rules): last answered check, last check with
    # no answer, and when the last expiry was written to the duty log.
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    check_missed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    check_alerted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    crew: Mapped[list[Officer]] = relationship("Officer", secondary="unit_crew", lazy="selectin")


class UnitCrew(Base):
    """An officer on a unit's crew."""

    __tablename__ = "unit_crew"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    officer_id: Mapped[int] = mapped_column(
        ForeignKey("officers.id", ondelete="CASCADE"), primary_key=True
    )


class Incident(Base):
    """An event that needs (or needed) police attention."""

    __tablename__ = "incidents"
    # The duplicate search of intake: open statuses, then a latitude band.
    __table_args__ = (
        Index("ix_incidents_status_lat", "status", "lat"),  # duplicates of open incidents
        Index("ix_incidents_lat_lon", "lat", "lon"),  # premise history, every status
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_code: Mapped[str] = mapped_column(String(48))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24), default="queued", index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    street: Mapped[str | None] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(100))
    snap_distance_m: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    first_call_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    first_dispatch_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_arrival_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    disposition: Mapped[str | None] = mapped_column(String(48))
    offence_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Set when this incident was found to be the same event as another and merged into it.
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )
    # Set on an incident split out of another (a second event found within the first).
    split_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), default=None
    )

    calls: Mapped[list[Call]] = relationship(
        back_populates="incident", lazy="selectin", order_by="Call.received_at"
    )
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="incident", lazy="selectin", order_by="Assignment.id"
    )

    @property
    def number(self) -> str:
        """Human reference such as ``2026-000123``."""
        return incident_number(self.created_at, self.id)


class Call(Base):
    """A call or report about an incident; caller identity is personal data."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    caller_name: Mapped[str | None] = mapped_column(String(200))
    caller_phone: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    taken_by: Mapped[str] = mapped_column(String(100))

    incident: Mapped[Incident] = relationship(back_populates="calls")


class Assignment(Base):
    """A unit committed to an incident, from dispatch to release."""

    __tablename__ = "assignments"
    __table_args__ = (
        # At most one open assignment per unit, enforced by the database.
        Index(
            "uq_assignments_open_unit",
            "unit_id",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    dispatched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    dispatched_by: Mapped[str] = mapped_column(String(100))
    eta_s: Mapped[float | None] = mapped_column(Float)
    en_route_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str | None] = mapped_column(String(32))
    # Where the unit last said it was transporting someone (hospital, police station...).
    transport_to: Mapped[str | None] = mapped_column(String(200), default=None)

    incident: Mapped[Incident] = relationship(back_populates="assignments")
    unit: Mapped[Unit] = relationship(lazy="joined")


class IncidentLink(Base):
    """Two incidents that stay separate but are related (the robbery and the getaway car's
    crash): one row per pair, ``low_id < high_id``. Removing a link keeps the row, with
    who removed it, when and why; at most one active link per pair."""

    __tablename__ = "incident_links"
    __table_args__ = (
        Index(
            "uq_incident_links_active_pair",
            "low_id",
            "high_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
        Index("ix_incident_links_high_id", "high_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    low_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    high_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    removed_by: Mapped[str | None] = mapped_column(String(100), default=None)
    removed_reason: Mapped[str | None] = mapped_column(String(500), default=None)


class UnitPosition(Base):
    """One AVL position report; kept two months (CNIL guidance), then purged."""

    __tablename__ = "unit_positions"
    __table_args__ = (Index("ix_unit_positions_unit_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DutyLogEntry(Base):
    """One line of the main courante: append-only, corrections point at what they correct."""

    __tablename__ = "duty_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    author_id: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("duty_log.id"))


class Event(Base):
    """Outbox of live events, read by the SSE stream of every server process.

    Ids grow in commit order because appends happen under the audit-chain lock (on
    PostgreSQL inside the commit, through :class:`EventStaging`).
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(48))
    permission: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class EventStaging(Base):
    """A live event on its way into the outbox (PostgreSQL).

    Inserted without any lock; a constraint trigger deferred to the transaction's
    ``COMMIT`` (``arverne_publish_event``, migration 0012) takes the audit-chain lock,
    moves it to ``events`` (so ids are given in commit order) and deletes it here.
    Unused on SQLite.
    """

    __tablename__ = "events_staging"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(48))
    permission: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotencyKey(Base):
    """A remembered intake response, so a retried request never creates a second incident."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OffenceCode(Base):
    """NATINF-like reference of offences; reclassified codes keep their history."""

    __tablename__ = "offence_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    label: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(64))
    # In force from valid_from to valid_to, both days included; None: no bound known.
    valid_from: Mapped[dt.date | None] = mapped_column()
    valid_to: Mapped[dt.date | None] = mapped_column()
    replaced_by: Mapped[str | None] = mapped_column(String(16))
    defined_by: Mapped[str | None] = mapped_column(Text)  # articles defining the offence
    punished_by: Mapped[str | None] = mapped_column(Text)  # articles setting the penalty
    # Code and label in lower case without accents: what searches match.
    search_key: Mapped[str] = mapped_column(Text, default="", server_default="")
