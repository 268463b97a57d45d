"""Analysis: stored forecast runs (method, data window, who and why, scores).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``forecast_runs``."""
    op.create_table(
        "forecast_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("train_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("train_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("horizon_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cell_m", sa.Float(), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("n_training_events", sa.Integer(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("top_cells", sa.JSON(), nullable=True),
        sa.Column("flagged", sa.JSON(), nullable=False),
        sa.Column("backtest", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_runs")),
    )
    op.create_index(
        op.f("ix_forecast_runs_created_at"), "forecast_runs", ["created_at"], unique=False
    )


def downgrade() -> None:
    """Drop ``forecast_runs``."""
    op.drop_index(op.f("ix_forecast_runs_created_at"), table_name="forecast_runs")
    op.drop_table("forecast_runs")
