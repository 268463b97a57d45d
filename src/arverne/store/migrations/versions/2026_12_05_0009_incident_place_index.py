"""Dispatch: index incidents by latitude and longitude for the premise history.

The premise history lists the incidents of every status near a point over a year or
more; the open-incident index (status, lat) cannot serve it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 23:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``ix_incidents_lat_lon``."""
    op.create_index("ix_incidents_lat_lon", "incidents", ["lat", "lon"])


def downgrade() -> None:
    """Drop ``ix_incidents_lat_lon``."""
    op.drop_index("ix_incidents_lat_lon", table_name="incidents")
