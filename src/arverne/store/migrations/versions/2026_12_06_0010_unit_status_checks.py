"""Dispatch: status checks of committed units (contrôle de situation).

Three nullable times on ``units``: the last check answered, the last check left without
an answer, and when the last expiry of the unit's timer was written to the duty log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
COLUMNS = ("checked_at", "check_missed_at", "check_alerted_at")


def upgrade() -> None:
    """Add the three columns (NULL for every existing unit: no check yet)."""
    with op.batch_alter_table("units") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("units") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
