"""Dispatch: index open incidents by status and latitude for the duplicate search.

Intake looks for open incidents in a small box around the new one. With only the status
index, every open incident was read at each intake, so intake slowed as the queue grew.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 17:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``ix_incidents_status_lat``."""
    op.create_index("ix_incidents_status_lat", "incidents", ["status", "lat"])


def downgrade() -> None:
    """Drop ``ix_incidents_status_lat``."""
    op.drop_index("ix_incidents_status_lat", table_name="incidents")
