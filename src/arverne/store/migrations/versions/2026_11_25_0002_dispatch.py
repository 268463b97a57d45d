"""Dispatch: officers, units, incidents, calls, assignments, AVL, duty log, events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:24:20.755981
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _append_only(table: str, *, create: bool) -> None:
    """Database-level refusal of UPDATE and DELETE on an append-only table."""
    is_pg = op.get_bind().dialect.name == "postgresql"
    for verb in ("UPDATE", "DELETE"):
        name = f"{table}_no_{verb.lower()}"
        if not create:
            op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if is_pg else ""))
        elif is_pg:
            # The function was created by revision 0001 for the audit log.
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION arverne_audit_append_only()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("permission", sa.String(length=48), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_at"), ["at"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_idempotency_keys_user_id")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=48), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("street", sa.String(length=200), nullable=True),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("snap_distance_m", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("first_call_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_dispatch_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_arrival_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition", sa.String(length=48), nullable=True),
        sa.Column("offence_codes", sa.JSON(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)

    op.create_table(
        "offence_codes",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("replaced_by", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_offence_codes")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("caller_phone", sa.String(length=40), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("taken_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_calls_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("badge", sa.String(length=32), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_officers_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officers")),
        sa.UniqueConstraint("badge", name=op.f("uq_officers_badge")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sign", sa.String(length=32), nullable=False),
        sa.Column("unit_type", sa.String(length=32), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("home_station", sa.String(length=100), nullable=True),
        sa.Column("station_lon", sa.Float(), nullable=True),
        sa.Column("station_lat", sa.Float(), nullable=True),
        sa.Column("beat", sa.String(length=64), nullable=True),
        sa.Column("shift", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.String(length=32), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_incident_id", sa.Integer(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_position_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["current_incident_id"],
            ["incidents.id"],
            name=op.f("fk_units_current_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("call_sign", name=op.f("uq_units_call_sign")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_units_current_incident_id"), ["current_incident_id"], unique=False
        )

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_by", sa.String(length=100), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("en_route_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_assignments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_assignments_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignments_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            "uq_assignments_open_unit",
            ["unit_id"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    op.create_table(
        "duty_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_id"], ["duty_log.id"], name=op.f("fk_duty_log_corrects_id_duty_log")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_duty_log_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_duty_log_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_log")),
    )
    with op.batch_alter_table("duty_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_duty_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_log_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_log_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_duty_log_unit_id"), ["unit_id"], unique=False)
    _append_only("duty_log", create=True)

    op.create_table(
        "unit_crew",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_unit_crew_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_crew_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("unit_id", "officer_id", name=op.f("pk_unit_crew")),
    )
    op.create_table(
        "unit_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_unit_positions_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_positions")),
    )
    with op.batch_alter_table("unit_positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_positions_at"), ["at"], unique=False)
        batch_op.create_index("ix_unit_positions_unit_at", ["unit_id", "at"], unique=False)


def downgrade() -> None:
    _append_only("duty_log", create=False)
    with op.batch_alter_table("unit_positions", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_positions_unit_at")
        batch_op.drop_index(batch_op.f("ix_unit_positions_at"))

    op.drop_table("unit_positions")
    op.drop_table("unit_crew")
    with op.batch_alter_table("duty_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_log_unit_id"))
        batch_op.drop_index(batch_op.f("ix_duty_log_kind"))
        batch_op.drop_index(batch_op.f("ix_duty_log_incident_id"))
        batch_op.drop_index(batch_op.f("ix_duty_log_at"))

    op.drop_table("duty_log")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_assignments_open_unit",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_assignments_incident_id"))

    op.drop_table("assignments")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_current_incident_id"))

    op.drop_table("units")
    op.drop_table("officers")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_incident_id"))

    op.drop_table("calls")
    op.drop_table("offence_codes")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
        batch_op.drop_index(batch_op.f("ix_incidents_created_at"))

    op.drop_table("incidents")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_at"))

    op.drop_table("events")
