"""Dispatch: links between related incidents that stay separate (``incident_links``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``incident_links``: one row per pair, at most one active link per pair."""
    op.create_table(
        "incident_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("low_id", sa.Integer(), nullable=False),
        sa.Column("high_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=100), nullable=True),
        sa.Column("removed_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["low_id"],
            ["incidents.id"],
            name=op.f("fk_incident_links_low_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["high_id"],
            ["incidents.id"],
            name=op.f("fk_incident_links_high_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_links")),
    )
    with op.batch_alter_table("incident_links", schema=None) as batch_op:
        batch_op.create_index(
            "uq_incident_links_active_pair",
            ["low_id", "high_id"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )
        batch_op.create_index("ix_incident_links_high_id", ["high_id"], unique=False)


def downgrade() -> None:
    """Drop ``incident_links``."""
    with op.batch_alter_table("incident_links", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_links_high_id")
        batch_op.drop_index("uq_incident_links_active_pair")
    op.drop_table("incident_links")
