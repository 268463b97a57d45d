"""Dispatch: where a transporting unit takes someone (``assignments.transport_to``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``assignments.transport_to``."""
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transport_to", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop ``assignments.transport_to``."""
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("transport_to")
