"""Dispatch: an incident split out of another points at it (``split_from_id``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``incidents.split_from_id`` (nullable, references ``incidents.id``)."""
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("split_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_split_from_id_incidents"),
            "incidents",
            ["split_from_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    """Drop ``incidents.split_from_id``."""
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_split_from_id_incidents"), type_="foreignkey"
        )
        batch_op.drop_column("split_from_id")
