"""Dispatch: an incident merged into another points at it (``merged_into_id``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``incidents.merged_into_id`` (nullable, references ``incidents.id``)."""
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_merged_into_id_incidents"),
            "incidents",
            ["merged_into_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Drop ``incidents.merged_into_id``."""
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_merged_into_id_incidents"), type_="foreignkey"
        )
        batch_op.drop_column("merged_into_id")
